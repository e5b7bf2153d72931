"""Inviting a number: one SMS with the inviter's verified number, the service and a link; the
invitation logged under the number's label (commitment only); the SPINvitation signed by the
service; the inviter polls it. Only the holder of a valid certificate invites."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from invitations.models import Invitation
from resolution.protocol.entries import EntryKind, PrivateEntry, commitment, entry_parse
from resolution.protocol.invitation import (
    SpinvitationError,
    jwk_public_key,
    spinvitation_verify,
)
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.promise import open_promise
from tests.ca.flow import NUMBER, holder_of
from tests.directory.flow import signed
from tests.invitations.flow import INVITED, SERVICE, invite, invite_token, invited
from tests.problems import assert_problem
from transparency.labels import number_label
from transparency.models import Entry, EntryOpening

pytestmark = pytest.mark.django_db


def test_an_invitation_sends_one_sms_and_is_logged_by_label_and_commitment(
    api_client: Any, sms_outbox: list[Any], provider: Any
) -> None:
    holder = holder_of(api_client)
    sms_outbox.clear()

    body = invited(api_client, holder)

    [sms] = sms_outbox
    assert sms.to == INVITED
    assert NUMBER in sms.body and SERVICE in sms.body and "STOP" in sms.body
    assert body["link"] in sms.body and len(sms.body) <= 160
    assert body["to"] == INVITED and body["inviter"] == NUMBER and body["service"] == SERVICE
    assert body["status"] == "open" and body["sms"] == "queued"  # sent once it committed
    assert api_client.get(f"/v1/invitations/{body['id']}").json()["sms"] == "sent"
    entry = Invitation.objects.get(id=body["id"]).log_entry
    parsed = entry_parse(bytes(entry.data))
    assert isinstance(parsed, PrivateEntry) and parsed.kind == EntryKind.INVITATION
    assert parsed.label == number_label(INVITED).label.hex()
    assert (
        INVITED[1:] not in bytes(entry.data).decode()
        and NUMBER[1:] not in bytes(entry.data).decode()
    )
    opening = EntryOpening.objects.get(entry_id=entry.pk)
    content = json.loads(bytes(opening.content))
    assert content == {
        "number": INVITED,
        "provider": provider.slug,
        "inviter": NUMBER,
        "serial": holder.serial,
        "service": SERVICE,
        "invitation": body["id"],
        "invited_at": content["invited_at"],
    }
    assert commitment(bytes(opening.opening), content).hex() == parsed.commitment


def test_the_inviter_polls_and_lists_its_invitations_and_no_one_else_sees_them(
    api_client: Any, client_for: Any
) -> None:
    from providers.services import api_key_create
    from tests.factories import ProviderFactory

    holder = holder_of(api_client)
    body = invited(api_client, holder)

    polled = api_client.get(f"/v1/invitations/{body['id']}")
    assert polled.status_code == 200
    assert body["log_index"] is None  # answered before the sequencer ran
    # A read is the invitation as the write answered it, without the write's entry (``log``).
    answered = {name: value for name, value in body.items() if name != "log"}
    assert polled.json() == answered | {"sms": "sent", "log_index": polled.json()["log_index"]}
    listed = api_client.get("/v1/invitations", {"status": "open"})
    assert listed.json()["results"] == [polled.json()]
    assert api_client.get("/v1/invitations", {"status": "accepted"}).json()["results"] == []
    assert_problem(api_client.get("/v1/invitations", {"status": "nope"}), 400, "validation-error")

    other = client_for(api_key_create(provider=ProviderFactory(), label="x").secret)
    assert_problem(other.get(f"/v1/invitations/{body['id']}"), 404, "invitation-not-found")
    assert other.get("/v1/invitations").json()["results"] == []


def test_the_spinvitation_is_signed_by_the_services_published_key(
    api_client: Any, anonymous_client: Any
) -> None:
    holder = holder_of(api_client)
    body = invited(api_client, holder)

    [jwk] = anonymous_client.get("/invitations/keys").json()["keys"]
    token = spinvitation_verify(body["spinvitation"], jwk_public_key(jwk))
    assert (token.orig, token.dest, token.service) == (NUMBER, INVITED, SERVICE)
    assert token.invitation == body["id"]
    assert token.callback.endswith(f"/v1/invitations/{body['id']}")
    assert token.expires_at - token.issued_at == 30 * 86400
    header = json.loads(
        __import__("base64").urlsafe_b64decode(body["spinvitation"].split(".")[0] + "==")
    )
    assert header == {"alg": "ES256", "typ": "spinvitation", "kid": jwk["kid"]}
    # Not the CA's key: a token the CA's issuing key would verify is not accepted.
    from ca.authority import ca_keys

    with pytest.raises(SpinvitationError):
        spinvitation_verify(body["spinvitation"], ca_keys().issuing_key.public_key())


def test_the_link_leads_to_the_page_and_the_token(api_client: Any, provider: Any) -> None:
    holder = holder_of(api_client)
    body = invited(api_client, holder)
    path = body["link"].removeprefix("http://testserver")
    page = Client().get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert NUMBER in text and SERVICE in text and body["spinvitation"] in text
    assert "no more invitations" in text.lower()
    token = Client().get(f"{path}/token")
    assert token["Content-Type"] == "application/jose"
    assert token.content.decode() == body["spinvitation"]
    negotiated = Client().get(path, HTTP_ACCEPT="application/jose")
    assert negotiated.content.decode() == body["spinvitation"]
    assert Client().get("/i/not-a-code").status_code == 404


def test_the_page_names_the_apps_that_handle_the_service(api_client: Any, provider: Any) -> None:
    from tests.directory.flow import published

    holder = holder_of(api_client)
    published(api_client, holder, service=SERVICE)
    body = invited(api_client, holder)
    page = Client().get(body["link"].removeprefix("http://testserver"))
    assert provider.name in page.content.decode()


@pytest.mark.parametrize(
    ("claims", "status", "slug"),
    [
        ({"to": "+3361234"}, 400, "number-invalid"),
        ({"to": "+33112345678"}, 400, "number-not-mobile"),
        ({"to": None}, 400, "jws-malformed"),
        ({"service": "telepathy"}, 400, "service-unknown"),
        ({"iat": 1}, 400, "jws-stale"),
        ({"extra": 1}, 400, "jws-payload-mismatch"),
        ({"to": "+8613800138000"}, 403, "country-not-allowed"),
    ],
)
def test_bad_requests_are_problems_that_send_nothing(
    api_client: Any, sms_outbox: list[Any], claims: dict[str, Any], status: int, slug: str
) -> None:
    holder = holder_of(api_client)
    sms_outbox.clear()
    entries = Entry.objects.count()

    assert_problem(invite(api_client, holder, **claims), status, slug)

    assert sms_outbox == [] and Invitation.objects.count() == 0
    assert Entry.objects.count() == entries


def test_only_the_holder_of_a_valid_certificate_invites(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    holder = holder_of(api_client)
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert_problem(invite(api_client, holder, key=other_key), 403, "jws-signature-invalid")
    assert_problem(invite(api_client, holder, kid="0" * 32), 404, "certificate-not-found")

    revoke = signed(holder, serial=holder.serial, reason="keyCompromise", jti=None)
    response = api_client.post(
        f"/v1/certificates/{holder.serial}/revoke", revoke, content_type="application/jose"
    )
    assert response.status_code == 200, response.content
    sms_outbox.clear()
    assert_problem(invite(api_client, holder), 403, "inviter-not-holder")
    assert sms_outbox == [] and Invitation.objects.count() == 0


def test_a_replayed_request_is_refused(api_client: Any, sms_outbox: list[Any]) -> None:
    holder = holder_of(api_client)
    token = invite_token(holder)
    first = api_client.post("/v1/invitations", token, content_type="application/jose")
    assert first.status_code == 201
    sms_outbox.clear()
    again = api_client.post("/v1/invitations", token, content_type="application/jose")
    assert_problem(again, 409, "jws-replayed")
    assert sms_outbox == [] and Invitation.objects.count() == 1


def test_an_invitation_sent_again_with_its_idempotency_key_sends_no_second_sms(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    holder = holder_of(api_client)
    token = invite_token(holder)
    sms_outbox.clear()

    first = api_client.post(
        "/v1/invitations", token, content_type="application/jose", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = api_client.post(
        "/v1/invitations", token, content_type="application/jose", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert len(sms_outbox) == 1 and Invitation.objects.count() == 1


def test_an_invitation_answers_its_entry_and_the_logs_promise(api_client: Any) -> None:
    holder = holder_of(api_client)

    body = invited(api_client, holder)

    entry = Invitation.objects.get(id=body["id"]).log_entry
    assert base64.b64decode(body["log"]["leaf_hash"]) == bytes(entry.leaf_hash)
    verifier = parse_verifier_key(api_client.get("/log/key").json()["promise_verifier_key"])
    assert open_promise(body["log"]["promise"], verifier).leaf_hash == bytes(entry.leaf_hash)
    assert "log" not in api_client.get(f"/v1/invitations/{body['id']}").json()
