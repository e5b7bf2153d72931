"""Renewal in one call: a fresh SMS challenge and a request signed by the key of the certificate
renewed; its handlers (each logged again) and its lock pass to the new certificate, in the
issuing transaction. Refused, nothing changes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ca.choices import RevocationReason
from ca.models import Certificate, Challenge
from ca.services.revocation import certificate_revoke
from ca.sms import locmem
from directory.models import Handler
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import committed
from tests.ca.flow import (
    NUMBER,
    OTHER_NUMBER,
    Holder,
    challenge_verified,
    csr_pem,
    holder_of,
    locked,
    registered,
)
from tests.directory.flow import published
from tests.problems import assert_problem
from tests.transparency.logdata import entry_opened
from transparency.models import Entry

pytestmark = pytest.mark.django_db


def renewal_token(holder: Holder, challenge_id: str, /, **changes: Any) -> str:
    claims = {
        "renews": holder.serial,
        "challenge": challenge_id,
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        **changes,
    }
    key = claims.pop("key", holder.key)
    return jws_sign({"alg": "ES256", "kid": holder.serial}, canonical_json(claims), key)


def renewed(client: Any, holder: Holder, number: str = NUMBER, **changes: Any) -> Any:
    """A fresh challenge, then ``POST /v1/certificates`` with a new key and the renewal JWS."""
    challenge = challenge_verified(client, locmem.outbox, number)
    key = ec.generate_private_key(ec.SECP256R1())
    body = {
        "challenge": challenge,
        "csr": csr_pem(key),
        "renewal": renewal_token(holder, challenge, **changes),
    }
    with committed():
        response = client.post("/v1/certificates", body, format="json")
    response.key, response.challenge = key, challenge
    return response


def test_a_renewal_carries_the_handlers_over_in_one_call(app: Any) -> None:
    alice = app()
    old = holder_of(alice)
    published(alice, old, service="messaging", uri="sip:alice@chat.example")
    published(alice, old, service="voice", uri="tel:+33612345678")
    entries = Entry.objects.count()

    response = renewed(alice, old)

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["renews"] == old.serial and new["handlers_carried"] == 2
    certificate = Certificate.objects.get(serial=new["serial"])
    for handler in Handler.objects.all():
        assert handler.certificate == certificate
        assert handler.expires_at == certificate.not_after
        record, content = entry_opened(bytes(handler.log_entry.leaf_hash))
        assert record["kind"] == "handler"  # a new entry: it names the renewal
        assert content["certificate"] == new["serial"]
    # The certificate's entry, then one per handler carried over.
    assert Entry.objects.count() == entries + 3
    answer = alice.get(f"/v1/numbers/{NUMBER}").json()
    assert {h["service"] for h in answer["handlers"]} == {"messaging", "voice"}
    # The old certificate stays valid, and authorises nothing more.
    assert Certificate.objects.get(serial=old.serial).status == "valid"
    assert not Handler.objects.filter(certificate__serial=old.serial).exists()


def test_a_plain_issuance_says_it_renews_nothing(app: Any) -> None:
    issued = registered(app()).json()
    assert issued["renews"] is None and issued["handlers_carried"] == 0


def test_a_locked_holder_renews_to_a_new_key_at_once_and_keeps_its_lock(app: Any) -> None:
    alice = app()
    old = holder_of(alice)
    assert locked(alice, old).status_code == 200

    response = renewed(alice, old)

    assert response.status_code == 201, response.content
    assert Certificate.objects.get(serial=response.json()["serial"]).locked_at is not None


def test_another_holders_lock_holds_a_renewal_back(app: Any) -> None:
    alice, bob = app(), app()
    old = holder_of(alice)
    published(alice, old)
    locker = holder_of(bob)
    locked(bob, locker)

    response = renewed(alice, old)

    assert response.status_code == 202, response.content
    assert Handler.objects.get().certificate_serial == old.serial  # nothing carried


def _nothing_renewed(before: int, challenge: str) -> None:
    assert Certificate.objects.count() == before
    assert Challenge.objects.get(pk=challenge).status == "verified"  # not spent


@pytest.mark.parametrize(
    ("changes", "status", "slug"),
    [
        ({"key": ec.generate_private_key(ec.SECP256R1())}, 403, "jws-signature-invalid"),
        ({"renews": "0" * 32}, 400, "jws-payload-mismatch"),
        ({"challenge": str(uuid.uuid4())}, 400, "jws-payload-mismatch"),
        ({"iat": int(time.time()) - 3600}, 400, "jws-stale"),
        ({"extra": 1}, 400, "jws-payload-mismatch"),
    ],
)
def test_a_bad_renewal_is_refused_and_changes_nothing(
    app: Any, changes: dict[str, Any], status: int, slug: str
) -> None:
    alice = app()
    old = holder_of(alice)
    published(alice, old)
    before = Certificate.objects.count()

    response = renewed(alice, old, **changes)

    assert_problem(response, status, slug)
    _nothing_renewed(before, response.challenge)
    assert Handler.objects.get().certificate_serial == old.serial


def test_a_revoked_certificate_cannot_be_renewed(app: Any) -> None:
    alice = app()
    old = holder_of(alice)
    with committed():
        certificate_revoke(
            certificate=Certificate.objects.get(serial=old.serial),
            reason=RevocationReason.UNSPECIFIED,
            actor="holder",
        )
    before = Certificate.objects.count()

    response = renewed(alice, old)

    assert_problem(response, 409, "certificate-revoked")
    _nothing_renewed(before, response.challenge)


def test_a_renewal_needs_a_challenge_for_the_same_number(app: Any) -> None:
    alice = app()
    old = holder_of(alice)

    response = renewed(alice, old, OTHER_NUMBER)

    assert_problem(response, 400, "challenge-not-for-number")
    _nothing_renewed(1, response.challenge)


def test_another_providers_certificate_cannot_be_renewed(app: Any) -> None:
    alice, mallory = app(), app()
    old = holder_of(alice)

    response = renewed(mallory, old)

    assert_problem(response, 404, "certificate-not-found")
