"""Disputes (DESIGN §7.2): a holder whose number was not locked finds a foreign certificate,
locks, and disputes it with a JWS of its own key and a fresh SMS proof; an operator revokes the
foreign certificate (after a confirmation page) or dismisses the dispute. Both are logged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User

from ca.models import Certificate, Challenge, Dispute
from ca.sms import locmem
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import committed
from tests.ca.flow import (
    OTHER_NUMBER,
    challenge_verified,
    dispute_token,
    disputed,
    holder_of,
    jose,
    locked,
)
from tests.problems import assert_problem
from tests.transparency.logdata import entry_opened

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


def test_the_holder_disputes_and_the_operator_revokes(app: Any, operator: Any) -> None:
    alice, mallory = app(), app()
    holder = holder_of(alice)
    intruder = holder_of(mallory)  # the number was not locked
    assert locked(alice, holder).status_code == 200

    response = disputed(alice, holder, intruder.serial)

    assert response.status_code == 201, response.content
    dispute = response.json()
    assert dispute["status"] == "open" and dispute["disputed"] == intruder.serial
    logged = Dispute.objects.get(id=dispute["id"]).log_entry
    record, content = entry_opened(bytes(logged.leaf_hash))
    assert record["kind"] == "dispute"
    assert content["disputed"] == intruder.serial and content["serial"] == holder.serial
    # The foreign certificate stays valid until the operator decides.
    assert Certificate.objects.get(serial=intruder.serial).status == "valid"

    page = operator.get(f"/admin/ca/dispute/{dispute['id']}/change/")
    assert page.status_code == 200
    assert b"not my app: my SIM was swapped" in page.content and b"fresh SMS proof" in page.content
    confirm = operator.get(f"/admin/ca/dispute/{dispute['id']}/revoke/")
    assert confirm.status_code == 200 and intruder.serial.encode() in confirm.content
    assert Certificate.objects.get(serial=intruder.serial).revoked_at is None

    done = operator.post(
        f"/admin/ca/dispute/{dispute['id']}/revoke/",
        {"reason": "affiliationChanged", "note": "the holder proved control twice"},
        follow=True,
    )

    assert done.status_code == 200 and b"Revoked the disputed certificate" in done.content
    revoked = Certificate.objects.get(serial=intruder.serial)
    assert revoked.revocation_reason == "affiliationChanged"
    closed = alice.get(f"/v1/disputes/{dispute['id']}").json()
    assert closed["status"] == "revoked"
    assert closed["resolution"] == "the holder proved control twice"
    record, content = entry_opened(_closing_entry(closed))
    assert record["kind"] == "dispute_closed" and record["reason"] == "revoked"
    assert content["disputed"] == intruder.serial
    assert Certificate.objects.get(serial=holder.serial).status == "valid"


def test_the_operator_dismisses_a_dispute(app: Any, operator: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    dispute = disputed(alice, holder, second.serial).json()

    assert operator.get(f"/admin/ca/dispute/{dispute['id']}/dismiss/").status_code == 200
    refused = operator.post(f"/admin/ca/dispute/{dispute['id']}/dismiss/", {"note": ""})
    assert b"This field is required" in refused.content
    assert Dispute.objects.get().status == "open"
    operator.post(
        f"/admin/ca/dispute/{dispute['id']}/dismiss/",
        {"note": "both apps are the same person's"},
    )

    closed = alice.get(f"/v1/disputes/{dispute['id']}").json()
    assert closed["status"] == "dismissed"
    assert entry_opened(_closing_entry(closed))[0]["reason"] == "dismissed"
    assert Certificate.objects.get(serial=second.serial).status == "valid"
    # A closed dispute cannot be decided again.
    operator.post(
        f"/admin/ca/dispute/{dispute['id']}/revoke/", {"reason": "unspecified", "note": "x"}
    )
    assert Certificate.objects.get(serial=second.serial).status == "valid"


def test_a_revocation_by_its_own_holder_closes_the_dispute(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    dispute = disputed(alice, holder, second.serial).json()
    token = jws_sign(
        {"alg": "ES256", "kid": second.serial},
        canonical_json({"serial": second.serial, "iat": int(time.time())}),
        second.key,
    )
    with committed():
        assert jose(other, f"/v1/certificates/{second.serial}/revoke", token).status_code == 200

    assert alice.get(f"/v1/disputes/{dispute['id']}").json()["status"] == "revoked"


# --- Bad input changes nothing --------------------------------------------------------------------


def _nothing_disputed() -> None:
    assert not Dispute.objects.exists()


def test_a_dispute_needs_the_holders_own_key(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    forged = ec.generate_private_key(ec.SECP256R1())

    assert_problem(disputed(alice, holder, second.serial, key=forged), 403, "jws-signature-invalid")
    _nothing_disputed()


def test_a_stale_dispute_is_refused(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)

    stale = disputed(alice, holder, second.serial, iat=int(time.time()) - 3600)

    assert_problem(stale, 400, "jws-stale")
    _nothing_disputed()


def test_a_dispute_needs_a_fresh_proof_of_control_of_the_same_number(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    elsewhere = challenge_verified(alice, locmem.outbox, OTHER_NUMBER)
    assert_problem(
        disputed(alice, holder, second.serial, challenge=elsewhere),
        400,
        "challenge-not-for-number",
    )
    # The challenge that failed is not spent... the transaction rolled back.
    assert Challenge.objects.get(pk=elsewhere).status == "verified"
    # A challenge already spent (the holder's own registration) is no fresh proof.
    used = str(Certificate.objects.get(serial=holder.serial).challenge_id)
    assert_problem(disputed(alice, holder, second.serial, challenge=used), 409, "challenge-used")
    _nothing_disputed()


def test_only_certificates_for_the_holders_number_can_be_named(app: Any) -> None:
    alice, bob = app(), app()
    holder = holder_of(alice)
    elsewhere = holder_of(bob, OTHER_NUMBER)

    assert_problem(disputed(alice, holder, elsewhere.serial), 404, "certificate-not-found")
    assert_problem(disputed(alice, holder, holder.serial), 409, "dispute-invalid")
    _nothing_disputed()


def test_a_certificate_is_disputed_once_at_a_time(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    assert disputed(alice, holder, second.serial).status_code == 201

    assert_problem(disputed(alice, holder, second.serial), 409, "dispute-already-open")
    assert Dispute.objects.count() == 1


def test_a_replayed_dispute_is_refused(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    challenge = challenge_verified(alice, locmem.outbox)
    token = dispute_token(holder, second.serial, challenge)
    with committed():
        assert jose(alice, "/v1/disputes", token).status_code == 201
    Dispute.objects.update(status="dismissed", closed_at="2026-01-01T00:00:00Z")

    # The same JWS again: its challenge is spent, and its jti seen.
    assert jose(alice, "/v1/disputes", token).status_code == 409
    assert Dispute.objects.count() == 1


def test_another_providers_dispute_is_not_found(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    second = holder_of(other)
    dispute = disputed(alice, holder, second.serial).json()

    assert_problem(other.get(f"/v1/disputes/{dispute['id']}"), 404, "dispute-not-found")


def test_the_dashboard_says_when_disputes_wait(app: Any, operator: Any) -> None:
    assert b"wait for you" not in operator.get("/admin/dashboard/").content
    alice, other = app(), app()
    holder = holder_of(alice)
    disputed(alice, holder, holder_of(other).serial)

    page = b" ".join(operator.get("/admin/dashboard/").content.split())

    assert b"1 dispute waits for you" in page
    assert b"/admin/ca/dispute/?status__exact=open" in page


def _closing_entry(closed: dict[str, Any]) -> bytes:
    """The leaf hash of the entry that closed a dispute (its answer has no index yet)."""
    entry = Dispute.objects.get(id=closed["id"]).closed_log_entry
    assert entry is not None
    return bytes(entry.leaf_hash)
