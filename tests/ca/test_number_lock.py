"""The number lock (DESIGN §7.2), through HTTP as apps drive it: a holder locks its number; an
intruder's registration waits as a request that the holder refuses (or a second app's that it
approves), or that is issued after the wait; a lock lapses with its certificate; and every
signed change refuses forged, stale, replayed and misdirected JWSs, changing nothing."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from ca.models import Certificate, CertificateRequest, SignedRequestSeen
from ca.services.locks import certificate_requests_settle
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import committed
from tests.ca.flow import (
    NUMBER,
    OTHER_NUMBER,
    Holder,
    decide,
    holder_of,
    jose,
    locked,
    registered,
    signed,
)
from tests.problems import assert_problem
from tests.transparency.logdata import entry_opened
from transparency.models import Entry

pytestmark = pytest.mark.django_db


def kinds_logged() -> list[str]:
    return [
        entry_opened(index)[0]["kind"]
        for index in Entry.objects.order_by("index").values_list("index", flat=True)
    ]


# --- The README's story ---------------------------------------------------------------------------


def test_a_locked_holder_refuses_and_the_intruder_never_gets_a_certificate(app: Any) -> None:
    alice, mallory = app(), app()
    holder = holder_of(alice)
    response = locked(alice, holder)
    assert response.status_code == 200, response.content
    assert response.json()["locked"] is True

    attempt = registered(mallory)

    assert attempt.status_code == 202, attempt.content
    request = attempt.json()
    assert attempt["Location"] == f"/v1/certificate-requests/{request['id']}"
    assert request["status"] == "pending" and request["certificate"] is None
    assert not Certificate.objects.filter(provider__certificate_requests__isnull=False).exists()
    listed = alice.get("/v1/certificate-requests?status=pending").json()["results"]
    assert [r["id"] for r in listed] == [request["id"]]
    assert listed[0]["requester"] == mallory.provider.slug

    response = decide(alice, holder, request["id"], "refuse")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "refused"
    polled = mallory.get(f"/v1/certificate-requests/{request['id']}").json()
    assert polled["status"] == "refused" and polled["certificate"] is None
    assert Certificate.objects.filter(number=NUMBER).count() == 1
    assert kinds_logged() == ["certificate", "lock", "request", "request_closed"]
    closed, content = entry_opened(polled["closed_log_index"])
    assert closed["reason"] == "refused"
    assert content == {
        "number": NUMBER,
        "request": request["id"],
        "closed_at": content["closed_at"],
    }
    # The refused request stays refused: a late approval changes nothing.
    assert_problem(
        decide(alice, holder, request["id"], "approve"), 409, "certificate-request-closed"
    )


def test_a_locked_holder_approves_a_second_app_of_its_own(app: Any) -> None:
    alice, second = app(), app()
    holder = holder_of(alice)
    locked(alice, holder)
    request = registered(second).json()

    response = decide(alice, holder, request["id"], "approve")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["certificate"] is None  # the holder is not the requester
    polled = second.get(f"/v1/certificate-requests/{request['id']}").json()
    assert polled["status"] == "approved"
    issued = polled["certificate"]
    assert issued["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert second.get(f"/v1/certificates/{issued['serial']}").json()["status"] == "valid"
    assert kinds_logged() == ["certificate", "lock", "request", "certificate", "request_closed"]
    _, content = entry_opened(issued["log"]["leaf_hash"])
    assert content["serial"] == issued["serial"] and content["number"] == NUMBER
    # Its log entry's opening comes with it, as in a 201 answer.
    assert issued["log"]["content"] == content


def test_with_no_answer_the_request_is_issued_after_the_wait(app: Any, settings: Any) -> None:
    settings.RS_LOCK_WAIT_SECONDS = 7 * 24 * 3600
    alice, other = app(), app()
    holder = holder_of(alice)
    locked(alice, holder)
    request = registered(other).json()
    with committed():
        assert certificate_requests_settle() == 0  # the wait has not ended

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        with committed():
            assert certificate_requests_settle() == 1
        polled = other.get(f"/v1/certificate-requests/{request['id']}").json()

    assert polled["status"] == "waited"
    assert polled["certificate"]["serial"]
    assert entry_opened(polled["closed_log_index"])[0]["reason"] == "waited"


def test_a_lock_lapses_with_its_certificate_so_a_recycled_number_reaches_its_new_owner(
    app: Any, settings: Any
) -> None:
    settings.RS_CERT_LIFETIME_DAYS = 30
    old_owner, new_owner = app(), app()
    holder = holder_of(old_owner)
    locked(old_owner, holder)
    start = timezone.now()
    # The number passes to a new owner late in the old certificate's life; the old owner, gone,
    # does not answer, and cannot renew (renewing needs the SMS).
    with time_machine.travel(start + timedelta(days=29)):
        request = registered(new_owner).json()
    assert request["status"] == "pending"

    with time_machine.travel(start + timedelta(days=30, minutes=1)):
        with committed():
            assert certificate_requests_settle() == 1
        polled = new_owner.get(f"/v1/certificate-requests/{request['id']}").json()
        assert polled["status"] == "unlocked"
        # Nothing holds the number now: the next registration is issued at once.
        assert registered(app()).status_code == 201


def test_unlocking_lets_the_held_request_through(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    locked(alice, holder)
    request = registered(other).json()

    token = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        response = jose(alice, f"/v1/certificates/{holder.serial}/unlock", token)
    assert response.status_code == 200 and response.json()["locked"] is False
    with committed():
        assert certificate_requests_settle() == 1

    assert other.get(f"/v1/certificate-requests/{request['id']}").json()["status"] == "unlocked"
    assert registered(app()).status_code == 201
    assert "unlock" in kinds_logged()


def test_a_renewal_to_the_same_key_carries_the_lock_over(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    locked(alice, holder)

    renewed = registered(alice, key=holder.key)

    assert renewed.status_code == 201, renewed.content
    serial = renewed.json()["serial"]
    assert alice.get(f"/v1/certificates/{serial}").json()["locked"] is True
    assert kinds_logged() == ["certificate", "lock", "certificate", "lock"]


def test_the_same_provider_with_a_new_key_waits_like_anyone(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    locked(alice, holder)

    assert registered(alice).status_code == 202


def test_a_number_without_a_lock_issues_at_once(app: Any) -> None:
    holder_of(app())
    assert registered(app()).status_code == 201


def test_locking_twice_changes_nothing(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    first = locked(alice, holder).json()
    second = locked(alice, holder)
    assert second.status_code == 200
    assert second.json()["locked_at"] == first["locked_at"]
    assert kinds_logged() == ["certificate", "lock"]


# --- Who may see and answer requests --------------------------------------------------------------


def test_requests_are_seen_by_the_requester_and_the_numbers_holders_only(app: Any) -> None:
    alice, other, stranger = app(), app(), app()
    locked(alice, holder_of(alice))
    request = registered(other).json()
    holder_of(stranger, OTHER_NUMBER)

    assert stranger.get("/v1/certificate-requests").json()["results"] == []
    assert_problem(
        stranger.get(f"/v1/certificate-requests/{request['id']}"),
        404,
        "certificate-request-not-found",
    )
    assert [r["id"] for r in other.get("/v1/certificate-requests").json()["results"]] == [
        request["id"]
    ]


def test_approving_another_numbers_request_is_refused(app: Any) -> None:
    alice, other, bob = app(), app(), app()
    locked(alice, holder_of(alice))
    request = registered(other).json()
    bobs = holder_of(bob, OTHER_NUMBER)
    locked(bob, bobs)

    assert_problem(decide(bob, bobs, request["id"], "approve"), 403, "certificate-not-for-number")
    assert CertificateRequest.objects.get().status == "pending"


def test_a_holder_without_a_lock_cannot_answer(app: Any) -> None:
    alice, second, third = app(), app(), app()
    alices = holder_of(alice)
    locked(alice, alices)
    approved = registered(second)
    decide(alice, alices, approved.json()["id"], "approve")
    seconds = Holder(
        key=approved.key,
        issued=second.get(f"/v1/certificate-requests/{approved.json()['id']}").json()[
            "certificate"
        ],
    )
    request = registered(third).json()

    # The second app holds a valid certificate for the number, but no lock of its own.
    assert_problem(decide(second, seconds, request["id"], "approve"), 403, "holder-not-locked")
    assert CertificateRequest.objects.get(pk=request["id"]).status == "pending"


def test_approve_and_refuse_need_the_locked_holders_own_key(app: Any) -> None:
    alice, other = app(), app()
    holder = holder_of(alice)
    locked(alice, holder)
    request = registered(other).json()
    forged = ec.generate_private_key(ec.SECP256R1())

    assert_problem(
        decide(alice, holder, request["id"], "refuse", key=forged), 403, "jws-signature-invalid"
    )
    # Another provider cannot name the holder's certificate at all.
    assert_problem(decide(other, holder, request["id"], "refuse"), 404, "certificate-not-found")
    assert_problem(
        decide(alice, holder, request["id"], "refuse", request=str(uuid.uuid4())),
        400,
        "jws-payload-mismatch",
    )
    assert CertificateRequest.objects.get().status == "pending"


def test_stale_and_replayed_answers_are_refused(app: Any) -> None:
    alice, mallory, eve = app(), app(), app()
    holder = holder_of(alice)
    locked(alice, holder)
    first, second = registered(mallory).json(), registered(eve).json()

    stale = decide(alice, holder, first["id"], "refuse", iat=int(time.time()) - 3600)
    assert_problem(stale, 400, "jws-stale")
    jti = uuid.uuid4().hex
    assert decide(alice, holder, first["id"], "refuse", jti=jti).status_code == 200
    # The same jti on another request: a replay, whatever it now names.
    assert_problem(decide(alice, holder, second["id"], "approve", jti=jti), 409, "jws-replayed")

    assert CertificateRequest.objects.get(pk=second["id"]).status == "pending"
    assert Certificate.objects.filter(number=NUMBER).count() == 1


# --- Bad input on lock and unlock changes nothing ----------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status", "slug"),
    [
        ({"key": "forged"}, 403, "jws-signature-invalid"),
        ({"iat": int(time.time()) - 3600}, 400, "jws-stale"),
        ({"serial": "0" * 32}, 400, "jws-payload-mismatch"),
        ({"jti": "short"}, 400, "jws-malformed"),
        ({"extra": 1}, 400, "jws-payload-mismatch"),
    ],
)
def test_a_bad_lock_is_refused_and_changes_nothing(
    app: Any, changes: dict[str, Any], status: int, slug: str
) -> None:
    alice = app()
    holder = holder_of(alice)
    key = ec.generate_private_key(ec.SECP256R1()) if changes.pop("key", None) else holder.key
    token = signed(key, holder.serial, **{"serial": holder.serial, **changes})

    assert_problem(jose(alice, f"/v1/certificates/{holder.serial}/lock", token), status, slug)

    assert Certificate.objects.get().locked_at is None
    assert kinds_logged() == ["certificate"]


def test_a_replayed_lock_is_refused(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    token = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        assert jose(alice, f"/v1/certificates/{holder.serial}/lock", token).status_code == 200
    unlock = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        assert jose(alice, f"/v1/certificates/{holder.serial}/unlock", unlock).status_code == 200

    assert_problem(
        jose(alice, f"/v1/certificates/{holder.serial}/lock", token), 409, "jws-replayed"
    )
    assert Certificate.objects.get().locked_at is None
    assert SignedRequestSeen.objects.count() == 2


def test_a_revoked_certificate_cannot_lock(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    revocation = jws_sign(
        {"alg": "ES256", "kid": holder.serial},
        canonical_json({"serial": holder.serial, "iat": int(time.time())}),
        holder.key,
    )
    with committed():
        response = jose(alice, f"/v1/certificates/{holder.serial}/revoke", revocation)
    assert response.status_code == 200, response.content
    assert_problem(locked(alice, holder), 409, "certificate-revoked")


def test_a_lock_is_not_a_json_body(app: Any) -> None:
    alice = app()
    holder = holder_of(alice)
    response = alice.post(
        f"/v1/certificates/{holder.serial}/lock", {"serial": holder.serial}, format="json"
    )
    assert_problem(response, 415, "unsupported-media-type")
