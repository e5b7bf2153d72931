"""The number lock's stories end to end (DESIGN §7.2), as apps live them: through HTTP, with the
SMS codes read from the SMS backend, and every event each app is told read from a real HTTPS
receiver on loopback and verified with that app's secret. An app is told only while it holds a
certificate for the number, or when the event is about its own request, certificate or dispute.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from ca.models import Certificate
from ca.services.locks import certificate_requests_settle
from tests.api_client import committed
from tests.ca.flow import NUMBER, decide, disputed, holder_of, locked, registered
from tests.webhooks.flow import told
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [kind for kind, _ in events]


def test_locked_and_refused_the_intruder_never_gets_a_certificate(
    app: Any, receiver: Receiver
) -> None:
    alice, mallory, carol = app("alice"), app("mallory"), app("carol")
    holder = holder_of(alice)
    assert locked(alice, holder).status_code == 200
    receiver.received.clear()

    attempt = registered(mallory)

    assert attempt.status_code == 202, attempt.content
    request_id = attempt.json()["id"]
    [(kind, requested)] = told(receiver, alice)
    assert kind == "certificate.requested" and requested["request_id"] == request_id
    assert told(receiver, mallory) == [(kind, requested)]

    assert decide(alice, holder, request_id, "refuse").status_code == 200

    closed = told(receiver, alice)[1:]
    assert closed == [
        (
            "certificate.request_closed",
            {
                "number": NUMBER,
                "request_id": request_id,
                "requester": "mallory",
                "status": "refused",
                "closed_at": closed[0][1]["closed_at"],
                "serial": None,
            },
        )
    ]
    # The refused intruder is told too, and is never told of a certificate: none was issued.
    assert told(receiver, mallory)[1:] == closed
    assert "certificate.issued" not in kinds(told(receiver, mallory))
    assert Certificate.objects.filter(number=NUMBER).count() == 1
    assert receiver.at(carol.path) == []


def test_locked_and_approved_the_second_app_is_issued_at_once(app: Any, receiver: Receiver) -> None:
    alice, second = app("alice"), app("second")
    holder = holder_of(alice)
    locked(alice, holder)
    request_id = registered(second).json()["id"]
    receiver.received.clear()

    assert decide(alice, holder, request_id, "approve").status_code == 200

    events = told(receiver, second)
    assert sorted(kinds(events)) == ["certificate.issued", "certificate.request_closed"]
    issued = dict(events)["certificate.issued"]
    closed = dict(events)["certificate.request_closed"]
    assert closed["status"] == "approved" and closed["serial"] == issued["serial"]
    assert issued["provider"] == "second"
    assert second.get(f"/v1/certificates/{issued['serial']}").json()["status"] == "valid"
    assert sorted(told(receiver, alice)) == sorted(events)  # the holder sees the same


def test_locked_and_unanswered_the_request_is_issued_after_the_wait(
    app: Any, receiver: Receiver, settings: Any
) -> None:
    settings.RS_LOCK_WAIT_SECONDS = 7 * 24 * 3600
    alice, other = app("alice"), app("other")
    holder = holder_of(alice)
    locked(alice, holder)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        request_id = registered(other).json()["id"]
        [(_, requested)] = told(receiver, other)
        assert requested["request_id"] == request_id
        receiver.received.clear()

        clock.move_to(start + timedelta(days=7) - timedelta(seconds=1))
        with committed():
            assert certificate_requests_settle() == 0
        assert receiver.received == []

        clock.move_to(start + timedelta(days=7, seconds=1))
        with committed():
            assert certificate_requests_settle() == 1

        events = told(receiver, other)  # verified on the moved clock: signed just now
    assert requested["issues_at"] == (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sorted(kinds(events)) == ["certificate.issued", "certificate.request_closed"]
    closed = dict(events)["certificate.request_closed"]
    assert (
        closed["status"] == "waited"
        and closed["serial"] == dict(events)["certificate.issued"]["serial"]
    )
    assert told(receiver, alice, now=(start + timedelta(days=7, seconds=1)).timestamp()) == events


def test_unlocked_the_holder_disputes_and_the_operator_revokes(
    app: Any, receiver: Receiver, operator: Any
) -> None:
    alice, mallory, carol = app("alice"), app("mallory"), app("carol")
    holder = holder_of(alice)
    intruder = holder_of(mallory)  # the number was not locked: issued at once
    assert dict(told(receiver, alice))["certificate.issued"]["serial"] == intruder.serial
    assert locked(alice, holder).status_code == 200
    receiver.received.clear()

    dispute = disputed(alice, holder, intruder.serial).json()

    opened = {
        "number": NUMBER,
        "dispute_id": dispute["id"],
        "disputer": "alice",
        "disputed_serial": intruder.serial,
        "disputed_provider": "mallory",
        "opened_at": told(receiver, alice)[0][1]["opened_at"],
    }
    assert told(receiver, alice) == told(receiver, mallory) == [("dispute.opened", opened)]
    receiver.received.clear()

    operator.post(
        f"/admin/ca/dispute/{dispute['id']}/revoke/",
        {"reason": "affiliationChanged", "note": "the holder proved control twice"},
    )

    for party in (alice, mallory):
        events = dict(told(receiver, party))
        assert set(events) == {"dispute.closed", "certificate.revoked"}
        assert events["dispute.closed"]["outcome"] == "revoked"
        assert events["dispute.closed"]["disputed_serial"] == intruder.serial
        assert events["certificate.revoked"]["serial"] == intruder.serial
        assert events["certificate.revoked"]["reason"] == "affiliationChanged"
    assert receiver.at(carol.path) == []
    assert Certificate.objects.get(serial=intruder.serial).status == "revoked"


def test_a_dismissed_dispute_is_told_to_both_parties(
    app: Any, receiver: Receiver, operator: Any
) -> None:
    alice, other = app("alice"), app("other")
    holder = holder_of(alice)
    second = holder_of(other)
    dispute = disputed(alice, holder, second.serial).json()
    receiver.received.clear()

    operator.post(
        f"/admin/ca/dispute/{dispute['id']}/dismiss/", {"note": "both apps are the same person's"}
    )

    for party in (alice, other):
        [(kind, data)] = told(receiver, party)
        assert (kind, data["outcome"], data["dispute_id"]) == (
            "dispute.closed",
            "dismissed",
            dispute["id"],
        )
    assert Certificate.objects.get(serial=second.serial).status == "valid"


def test_a_recycled_number_reaches_its_new_owner_when_the_lock_lapses(
    app: Any, receiver: Receiver, settings: Any
) -> None:
    settings.RS_CERT_LIFETIME_DAYS = 30
    old_owner, new_owner = app("old-owner"), app("new-owner")
    holder = holder_of(old_owner)
    locked(old_owner, holder)
    receiver.received.clear()
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=29)):
        request_id = registered(new_owner).json()["id"]
        # The old owner, gone, is told but does not answer (and cannot renew: no SMS).
        assert kinds(told(receiver, old_owner)) == ["certificate.requested"]
    receiver.received.clear()

    with time_machine.travel(start + timedelta(days=30, minutes=1)):
        with committed():
            assert certificate_requests_settle() == 1
        events = told(receiver, new_owner)

    closed = dict(events)["certificate.request_closed"]
    assert (closed["request_id"], closed["status"]) == (request_id, "unlocked")
    assert dict(events)["certificate.issued"]["provider"] == "new-owner"
    # The old owner holds the number no longer: it is told nothing more about it.
    assert receiver.at(old_owner.path) == []
