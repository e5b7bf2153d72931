"""The Twilio backend end to end: challenges sent through the real ``twilio`` library to a local
stand-in for Twilio's API, and Twilio's signed delivery reports coming back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from ca.choices import DeliveryStatus
from ca.models import Challenge
from tests.ca.flow import NUMBER, challenge_started, pending_challenge
from tests.ca.twilio_api import TwilioApi, twilio_api, twilio_error
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token-0123456789abcdef"
CALLBACK = "http://testserver/v1/twilio/status"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioApi]:
    with twilio_api() as api:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_API_BASE_URL = api.base_url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_STATUS_CALLBACK_URL = CALLBACK
        settings.RS_SMS_RETRY_BACKOFF_SECONDS = 0
        yield api


def test_the_challenge_sms_goes_through_twilio(api_client: Any, twilio: TwilioApi) -> None:
    body = challenge_started(api_client)

    (request,) = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.auth_user == ACCOUNT
    assert request.form["To"] == NUMBER
    assert request.form["From"] == "+15005550006"
    assert "MessagingServiceSid" not in request.form
    assert request.form["StatusCallback"] == CALLBACK
    assert request.form["Body"].startswith("Resolution Service: ")
    assert request.form["Body"].endswith(" #" + request.form["Body"].rsplit("#", 1)[1])
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.message_id.startswith("SM")
    assert stored.delivery_status == DeliveryStatus.ACCEPTED


def test_a_messaging_service_and_an_api_key_can_be_used(
    api_client: Any, twilio: TwilioApi, settings: Any
) -> None:
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    settings.TWILIO_API_KEY_SID = "SK" + "2" * 32
    settings.TWILIO_API_KEY_SECRET = "api-key-secret"
    challenge_started(api_client)

    (request,) = twilio.requests
    assert request.form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in request.form
    assert request.auth_user == "SK" + "2" * 32
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def test_provider_errors_are_retried(api_client: Any, twilio: TwilioApi) -> None:
    twilio.responses.extend(
        [twilio_error(503, 20503, "Service unavailable"), twilio_error(429, 20429, "Too many")]
    )
    body = challenge_started(api_client)

    assert len(twilio.requests) == 3
    assert {request.form["Body"] for request in twilio.requests} == {
        twilio.requests[0].form["Body"]
    }
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.ACCEPTED
    assert stored.delivery_attempts == 3


def test_a_lasting_outage_is_recorded_as_a_failure(
    api_client: Any, twilio: TwilioApi, settings: Any
) -> None:
    settings.RS_SMS_MAX_RETRIES = 2
    twilio.responses.extend([twilio_error(500, 20500, "Internal error")] * 3)
    body = challenge_started(api_client)

    assert len(twilio.requests) == 3
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.FAILED
    assert stored.delivery_error


def test_a_refused_message_is_not_retried(api_client: Any, twilio: TwilioApi) -> None:
    twilio.responses.append(twilio_error(400, 21211, "The 'To' number is not valid."))
    body = challenge_started(api_client)

    assert len(twilio.requests) == 1
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.FAILED
    assert "21211" in stored.delivery_error


def _report(client: Any, params: dict[str, str], *, token: str = TOKEN, url: str = CALLBACK) -> Any:
    signature = RequestValidator(token).compute_signature(url, params)
    return _post_form(client, params, HTTP_X_TWILIO_SIGNATURE=signature)


def _post_form(client: Any, params: dict[str, str], **headers: str) -> Any:
    """POST as Twilio does: application/x-www-form-urlencoded."""
    return client.post(
        "/v1/twilio/status",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        **headers,
    )


def _sent(provider: Any) -> Challenge:
    challenge = pending_challenge(provider)
    challenge.refresh_from_db()  # as its SMS left it
    return challenge


def test_signed_delivery_reports_are_recorded(
    provider: Any, anonymous_client: Any, twilio: TwilioApi
) -> None:
    challenge = _sent(provider)
    params = {"MessageSid": challenge.message_id, "AccountSid": ACCOUNT, "To": NUMBER}

    assert _report(anonymous_client, params | {"MessageStatus": "sent"}).status_code == 204
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.SENT
    assert _report(anonymous_client, params | {"MessageStatus": "delivered"}).status_code == 204
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.DELIVERED
    # A late "sent" does not move it back.
    assert _report(anonymous_client, params | {"MessageStatus": "sent"}).status_code == 204
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.DELIVERED


def test_undelivered_reports_keep_the_error_code(
    provider: Any, anonymous_client: Any, twilio: TwilioApi
) -> None:
    challenge = _sent(provider)
    params = {
        "MessageSid": challenge.message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    assert _report(anonymous_client, params).status_code == 204
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.UNDELIVERED
    assert "30003" in challenge.delivery_error


@pytest.mark.parametrize(
    "forge",
    [
        {"token": "another-account-token"},
        {"url": "http://attacker.example/v1/twilio/status"},
    ],
    ids=["wrong-token", "wrong-url"],
)
def test_reports_with_a_bad_signature_are_refused(
    provider: Any, anonymous_client: Any, twilio: TwilioApi, forge: dict[str, str]
) -> None:
    challenge = _sent(provider)
    params = {"MessageSid": challenge.message_id, "MessageStatus": "delivered"}

    assert_problem(_report(anonymous_client, params, **forge), 403, "twilio-signature-invalid")
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.ACCEPTED


def test_reports_without_a_signature_or_with_changed_fields_are_refused(
    provider: Any, anonymous_client: Any, twilio: TwilioApi
) -> None:
    challenge = _sent(provider)
    params = {"MessageSid": challenge.message_id, "MessageStatus": "sent"}
    signature = RequestValidator(TOKEN).compute_signature(CALLBACK, params)

    unsigned = _post_form(anonymous_client, params)
    changed = _post_form(
        anonymous_client, params | {"MessageStatus": "delivered"}, HTTP_X_TWILIO_SIGNATURE=signature
    )

    assert_problem(unsigned, 403, "twilio-signature-invalid")
    assert_problem(changed, 403, "twilio-signature-invalid")
    challenge.refresh_from_db()
    assert challenge.delivery_status == DeliveryStatus.ACCEPTED


def test_reports_are_refused_when_no_auth_token_is_configured(
    provider: Any, anonymous_client: Any, twilio: TwilioApi, settings: Any
) -> None:
    challenge = _sent(provider)
    settings.TWILIO_AUTH_TOKEN = ""
    params = {"MessageSid": challenge.message_id, "MessageStatus": "delivered"}
    assert_problem(_report(anonymous_client, params, token=""), 403, "twilio-signature-invalid")


def test_reports_for_unknown_messages_are_acknowledged(
    anonymous_client: Any, twilio: TwilioApi
) -> None:
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    assert _report(anonymous_client, params).status_code == 204
