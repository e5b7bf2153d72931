"""End to end through the real ``twilio`` library and the local stand-in for Twilio's API: the
invitation's SMS goes out through Twilio, the invited number replies STOP (Twilio's signed
inbound webhook), and is sent nothing more; another number registers after its invitation and
the inviter's webhook is told."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from invitations.models import Invitation
from tests.ca.flow import OTHER_NUMBER, holder_of
from tests.ca.twilio_api import TwilioApi, twilio_api, twilio_error
from tests.directory.flow import published
from tests.invitations.flow import INVITED, INVITED_2, SERVICE, invite, invited
from tests.problems import assert_problem
from tests.webhooks.flow import told
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db

ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token-0123456789abcdef"
INBOUND = "http://testserver/v1/twilio/inbound"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioApi]:
    """Twilio's API, standing in locally; the backend switched to it by ``settings.SMS_BACKEND
    = "twilio"`` (challenges, whose codes the tests read, go through locmem)."""
    with twilio_api() as api:
        settings.TWILIO_API_BASE_URL = api.base_url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_STATUS_CALLBACK_URL = "http://testserver/v1/twilio/status"
        settings.TWILIO_INBOUND_URL = INBOUND
        settings.RS_SMS_RETRY_BACKOFF_SECONDS = 0
        yield api


def _stop(number: str) -> Any:
    params = {"From": number, "To": "+15005550006", "Body": "STOP", "OptOutType": "STOP"}
    signature = RequestValidator(TOKEN).compute_signature(INBOUND, params)
    return Client().post(
        "/v1/twilio/inbound",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def test_invite_through_twilio_then_stop(
    app: Any, receiver: Receiver, twilio: TwilioApi, settings: Any, sms_outbox: list[Any]
) -> None:
    alice, bob = app("alice"), app("bob")
    inviter = holder_of(alice)
    settings.SMS_BACKEND = "twilio"

    first = invited(alice, inviter, INVITED)
    second = invited(alice, inviter, INVITED_2)

    assert [request.form["To"] for request in twilio.requests] == [INVITED, INVITED_2]
    body = twilio.requests[0].form["Body"]
    assert first["inviter"] in body and SERVICE in body
    assert first["link"] in body and "STOP" in body
    stored = Invitation.objects.get(pk=first["id"])
    assert stored.sms_status == "sent" and stored.message_id.startswith("SM")

    # INVITED replies STOP: it is sent nothing more, whoever asks.
    assert _stop(INVITED).status_code == 200
    settings.SMS_BACKEND = "locmem"
    other = holder_of(alice, OTHER_NUMBER)
    settings.SMS_BACKEND = "twilio"
    refused = invite(alice, other, INVITED)
    assert_problem(refused, 403, "number-not-invitable")
    assert len(twilio.requests) == 2

    # INVITED_2 registers with bob's app and publishes: alice's webhook is told.
    settings.SMS_BACKEND = "locmem"
    invitee = holder_of(bob, INVITED_2)
    published(bob, invitee, number=INVITED_2, service=SERVICE)
    accepted = [data for kind, data in told(receiver, alice) if kind == "invitation.accepted"]
    assert [data["invitation_id"] for data in accepted] == [second["id"]]
    assert accepted[0]["handler"]["provider"] == "bob"


def test_a_refused_sms_is_recorded_and_not_retried(
    api_client: Any, twilio: TwilioApi, settings: Any
) -> None:
    holder = holder_of(api_client)
    settings.SMS_BACKEND = "twilio"
    twilio.responses.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))

    body = invited(api_client, holder)

    assert len(twilio.requests) == 1
    polled = api_client.get(f"/v1/invitations/{body['id']}").json()
    assert polled["sms"] == "not_sent" and polled["status"] == "open"
