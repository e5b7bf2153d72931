"""The do-not-invite list: a STOP reply (Twilio's signed inbound webhook), the invitation page's
button, or the opt-out page puts a number on it, as an HMAC alone; it is never sent another
invitation, and the refusal reads exactly as a registered number's does."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from invitations.digests import number_digest
from invitations.models import DoNotInvite, Invitation
from invitations.services import invitation_send
from outbox.models import Message
from outbox.services import outbox_dispatch
from tests.ca.flow import OTHER_NUMBER, holder_of
from tests.invitations.flow import INVITED, INVITED_2, invite, invite_token, invited
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

TOKEN = "test-auth-token-0123456789abcdef"
INBOUND = "http://testserver/v1/twilio/inbound"


@pytest.fixture
def twilio_inbound(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_INBOUND_URL = INBOUND


def _inbound(params: dict[str, str], *, token: str = TOKEN) -> Any:
    """POST as Twilio does an SMS our number received, signed with ``token``."""
    signature = RequestValidator(token).compute_signature(INBOUND, params)
    return Client().post(
        "/v1/twilio/inbound",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def _stored_digits_nowhere(number: str) -> None:
    for row in DoNotInvite.objects.all():
        assert number[1:].encode() not in bytes(row.number_hmac)
        assert number[1:] not in str(row)


def test_a_stop_reply_puts_the_number_on_the_list(
    api_client: Any, sms_outbox: list[Any], twilio_inbound: None
) -> None:
    holder = holder_of(api_client)
    invited(api_client, holder)

    response = _inbound({"From": INVITED, "To": "+15005550006", "Body": " stop "})

    assert response.status_code == 200 and b"<Response>" in response.content
    [row] = DoNotInvite.objects.all()
    assert bytes(row.number_hmac) == number_digest(INVITED) and row.source == "stop"
    _stored_digits_nowhere(INVITED)
    other = holder_of(api_client, OTHER_NUMBER)
    sms_outbox.clear()
    assert_problem(invite(api_client, other), 403, "number-not-invitable")
    assert sms_outbox == []


def test_twilios_advanced_opt_out_is_a_stop_too(twilio_inbound: None) -> None:
    _inbound({"From": INVITED, "Body": "Arrêtez", "OptOutType": "STOP"})
    assert DoNotInvite.objects.count() == 1


def test_other_replies_change_nothing(twilio_inbound: None) -> None:
    assert _inbound({"From": INVITED, "Body": "who is this?"}).status_code == 200
    assert _inbound({"From": "not a number", "Body": "STOP"}).status_code == 200
    assert DoNotInvite.objects.count() == 0


def test_an_unsigned_or_forged_stop_is_refused(twilio_inbound: None) -> None:
    params = {"From": INVITED, "Body": "STOP"}
    assert_problem(_inbound(params, token="another-token"), 403, "twilio-signature-invalid")
    unsigned = Client().post(
        "/v1/twilio/inbound", urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert_problem(unsigned, 403, "twilio-signature-invalid")
    assert DoNotInvite.objects.count() == 0


def test_the_invitation_pages_button_stops_invitations(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    holder = holder_of(api_client)
    body = invited(api_client, holder)
    path = body["link"].removeprefix("http://testserver")

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    csrf = page.cookies["csrftoken"].value
    response = browser.post(f"{path}/stop", {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 200
    assert "no more invitations" in response.content.decode().lower()
    assert DoNotInvite.objects.get().source == "invitation_page"
    other = holder_of(api_client, OTHER_NUMBER)
    assert_problem(invite(api_client, other), 403, "number-not-invitable")


def test_the_opt_out_page_takes_any_number_and_says_the_same(api_client: Any) -> None:
    page = Client().get("/invitations/stop")
    assert page.status_code == 200
    first = Client().post("/invitations/stop", {"number": INVITED_2})
    again = Client().post("/invitations/stop", {"number": INVITED_2})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content  # whether it was on the list already or not
    assert Client().post("/invitations/stop", {"number": "+33 6"}).status_code == 400
    assert DoNotInvite.objects.count() == 1
    holder = holder_of(api_client)
    assert_problem(invite(api_client, holder, INVITED_2), 403, "number-not-invitable")


def test_a_stop_before_the_sms_leaves_stops_the_sms(
    api_client: Any, provider: Any, sms_outbox: list[Any], twilio_inbound: None
) -> None:
    holder = holder_of(api_client)
    sms_outbox.clear()
    # Not committed: the SMS waits in the outbox, as when no dispatcher has run yet.
    invitation = invitation_send(provider=provider, token=invite_token(holder))
    _inbound({"From": INVITED, "Body": "STOP"})

    outbox_dispatch()

    assert sms_outbox == []
    invitation.refresh_from_db()
    assert invitation.sms_status == "not_sent"
    assert Message.objects.get(reference=str(invitation.id)).state == "dead"


def test_refusals_read_the_same_for_an_opted_out_and_a_registered_number(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    holder = holder_of(api_client)
    holder_of(api_client, INVITED)  # INVITED holds a certificate
    Client().post("/invitations/stop", {"number": INVITED_2})  # INVITED_2 opted out
    sms_outbox.clear()

    registered = assert_problem(invite(api_client, holder, INVITED), 403, "number-not-invitable")
    opted_out = assert_problem(invite(api_client, holder, INVITED_2), 403, "number-not-invitable")

    assert registered == opted_out
    assert sms_outbox == [] and Invitation.objects.count() == 0
