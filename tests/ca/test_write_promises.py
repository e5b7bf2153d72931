"""Every write answers the entry it appended: ``log`` gives its leaf hash and the log's signed
promise to include it (docs/transparency-log.md), as a handler's publication does. A lock, an
unlock, a revocation, a request held back by a lock, a holder's approval or refusal, a dispute;
a read of the same resource has no ``log``."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ca.models import Certificate, CertificateRequest, Dispute
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.promise import open_promise
from tests.api_client import committed
from tests.ca.flow import decide, disputed, holder_of, jose, locked, registered, signed
from transparency.models import Entry

pytestmark = pytest.mark.django_db


def assert_promised(client: Any, log: dict[str, Any] | None, entry_id: int | None) -> None:
    """``log`` is entry ``entry_id``'s leaf hash and a promise that verifies for it."""
    assert log is not None and entry_id is not None
    entry = Entry.objects.get(pk=entry_id)
    leaf = base64.b64decode(log["leaf_hash"])
    assert leaf == bytes(entry.leaf_hash)
    verifier = parse_verifier_key(client.get("/log/key").json()["promise_verifier_key"])
    promise = open_promise(log["promise"], verifier)
    assert promise.leaf_hash == leaf
    assert promise.time_ms == int(entry.created_at.timestamp() * 1000)


def test_a_lock_and_an_unlock_answer_their_entries(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)

    lock = locked(alice, holder)

    assert lock.status_code == 200, lock.content
    lock_entry = Certificate.objects.get(serial=holder.serial).lock_log_entry_id
    assert_promised(alice, lock.json()["log"], lock_entry)
    # Locking again changes nothing: the answer names the entry that locked it.
    assert_promised(alice, locked(alice, holder).json()["log"], lock_entry)

    unlock = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        response = jose(alice, f"/v1/certificates/{holder.serial}/unlock", unlock)
    assert response.status_code == 200, response.content
    [unlock_entry] = Entry.objects.filter(kind="unlock").values_list("pk", flat=True)
    assert_promised(alice, response.json()["log"], unlock_entry)

    # Unlocking an unlocked certificate appends nothing, and says so.
    again = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        response = jose(alice, f"/v1/certificates/{holder.serial}/unlock", again)
    assert response.status_code == 200 and response.json()["log"] is None
    assert Entry.objects.filter(kind="unlock").count() == 1
    assert "log" not in alice.get(f"/v1/certificates/{holder.serial}").json()


def test_a_revocation_answers_its_entry(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    token = signed(holder.key, holder.serial, serial=holder.serial, reason="keyCompromise")

    with committed():
        response = jose(alice, f"/v1/certificates/{holder.serial}/revoke", token)

    assert response.status_code == 200, response.content
    entry = Certificate.objects.get(serial=holder.serial).revocation_log_entry_id
    assert_promised(alice, response.json()["log"], entry)


def test_a_held_request_and_the_holders_answers_carry_their_entries(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    locked(alice, holder)

    held = registered(other)
    assert held.status_code == 202, held.content
    request = CertificateRequest.objects.get(id=held.json()["id"])
    assert_promised(other, held.json()["log"], request.log_entry_id)
    assert "log" not in other.get(f"/v1/certificate-requests/{request.id}").json()

    refused = decide(alice, holder, str(request.id), "refuse")
    assert refused.status_code == 200, refused.content
    request.refresh_from_db()
    assert_promised(alice, refused.json()["log"], request.closed_log_entry_id)

    second = registered(other).json()
    approved = decide(alice, holder, second["id"], "approve")
    assert approved.status_code == 200, approved.content
    closing = CertificateRequest.objects.get(id=second["id"]).closed_log_entry_id
    assert_promised(alice, approved.json()["log"], closing)


def test_a_dispute_answers_its_entry(app: Any) -> None:
    alice, mallory = app(), app()
    holder = holder_of(alice)
    intruder = holder_of(mallory)

    response = disputed(alice, holder, intruder.serial)

    assert response.status_code == 201, response.content
    dispute = Dispute.objects.get(id=response.json()["id"])
    assert_promised(alice, response.json()["log"], dispute.log_entry_id)
    assert "log" not in alice.get(f"/v1/disputes/{dispute.id}").json()
