"""Events reach the providers that hold the number, signed, through a real HTTPS receiver on
loopback; every delivery is checked with the SDK's verifier (resolution.client.webhooks).

Each app has its own endpoint path on one receiver: what arrives at a path is what that app
was sent. An app with no certificate for the number is sent nothing about it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from outbox.choices import MessageState
from outbox.models import Message
from outbox.services import outbox_dispatch
from resolution.client.webhooks import webhook_signature_verify
from tests.ca.flow import NUMBER, OTHER_NUMBER, Holder, holder_of, locked, registered
from tests.directory.flow import delete, publish_token, published, signed
from tests.webhooks.flow import told
from tests.webhooks.receiver import Receiver
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def _revoke(client: Any, holder: Holder) -> Any:
    token = signed(holder, serial=holder.serial, reason="keyCompromise", jti=None)
    return client.post(
        f"/v1/certificates/{holder.serial}/revoke", token, content_type="application/jose"
    )


def test_a_revocation_is_told_to_the_numbers_holders_and_its_own_and_no_one_else(
    app: Any, receiver: Receiver
) -> None:
    alice, bob, carol, dave = app("alice"), app("bob"), app("carol"), app("dave")
    holder = holder_of(alice)
    holder_of(bob)  # bob holds the number too
    holder_of(carol, OTHER_NUMBER)  # carol holds another number; dave holds none
    receiver.received.clear()

    response = _revoke(alice, holder)

    assert response.status_code == 200, response.content
    revoked = (
        "certificate.revoked",
        {
            "number": NUMBER,
            "serial": holder.serial,
            "provider": "alice",
            "reason": "keyCompromise",
            "revoked_at": response.json()["revoked_at"],
        },
    )
    assert told(receiver, alice) == [revoked]  # though it holds the number no longer
    assert told(receiver, bob) == [revoked]
    assert receiver.at(carol.path) == receiver.at(dave.path) == []


def test_an_issuance_is_told_to_every_holder_of_the_number(app: Any, receiver: Receiver) -> None:
    alice, bob, carol = app("alice"), app("bob"), app("carol")
    first = holder_of(alice)

    second = holder_of(bob)

    [(kind, data)] = told(receiver, alice)[1:]  # after its own certificate's
    assert kind == "certificate.issued"
    assert data == {
        "number": NUMBER,
        "serial": second.serial,
        "provider": "bob",
        "not_before": second.issued["not_before"].replace("+00:00", "Z"),
        "not_after": second.issued["not_after"].replace("+00:00", "Z"),
    }
    assert [kind for kind, _ in told(receiver, bob)] == ["certificate.issued"]
    assert told(receiver, alice)[0][1]["serial"] == first.serial
    assert receiver.at(carol.path) == []


def test_a_held_back_request_is_told_to_the_locked_holder_and_the_requester(
    app: Any, receiver: Receiver
) -> None:
    alice, mallory, carol = app("alice"), app("mallory"), app("carol")
    holder = holder_of(alice)
    assert locked(alice, holder).status_code == 200
    receiver.received.clear()

    attempt = registered(mallory)

    assert attempt.status_code == 202, attempt.content
    request = attempt.json()
    [(kind, data)] = told(receiver, alice)
    assert kind == "certificate.requested"
    assert data["number"] == NUMBER and data["request_id"] == request["id"]
    assert data["requester"] == "mallory"
    assert set(data) == {
        "number",
        "request_id",
        "requester",
        "public_key_sha256",
        "requested_at",
        "issues_at",
    }
    assert told(receiver, mallory) == [(kind, data)]
    assert receiver.at(carol.path) == []


def test_handlers_published_and_removed_are_told_to_the_numbers_holders(
    app: Any, receiver: Receiver
) -> None:
    alice, bob, dave = app("alice"), app("bob"), app("dave")
    holder = holder_of(alice)
    holder_of(bob)
    receiver.received.clear()

    body = published(alice, holder, uri="sip:alice@chat.example")
    removal = delete(alice, signed(holder, number=NUMBER, service="messaging"))
    assert removal.status_code == 200, removal.content

    expected = [
        (
            "handler.changed",
            {
                "number": NUMBER,
                "service": "messaging",
                "provider": "alice",
                "action": "published",
                "log": {k: body["log"][k] for k in ("leaf_hash", "promise")},
            },
        ),
        (
            "handler.changed",
            {
                "number": NUMBER,
                "service": "messaging",
                "provider": "alice",
                "action": "removed",
                "log": removal.json()["log"],
                "reason": "removed",
            },
        ),
    ]
    assert told(receiver, alice) == told(receiver, bob) == expected
    assert receiver.at(dave.path) == []
    assert all("sip:" not in delivery.body.decode() for delivery in receiver.received)  # no URI


def test_a_revocation_tells_of_the_handlers_it_removes(app: Any, receiver: Receiver) -> None:
    alice, bob = app("alice"), app("bob")
    holder = holder_of(alice)
    holder_of(bob)
    published(alice, holder)
    receiver.received.clear()

    assert _revoke(alice, holder).status_code == 200

    for who in (alice, bob):
        events = told(receiver, who)
        assert sorted(kind for kind, _ in events) == ["certificate.revoked", "handler.changed"]
        [removed] = [data for kind, data in events if kind == "handler.changed"]
        assert (removed["action"], removed["reason"]) == ("removed", "revoked")


def test_a_failed_delivery_is_retried_after_its_backoff_with_the_same_id(
    app: Any, receiver: Receiver, settings: Any
) -> None:
    alice = app("alice")
    receiver.statuses.append(500)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        holder_of(alice)
        delivery = Delivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        assert delivery.last_error == "HTTP 500"
        assert delivery.next_attempt_at is not None
        wait = delivery.next_attempt_at - start
        assert timedelta(seconds=4.5) <= wait <= timedelta(seconds=5.5)  # 5 s, within a tenth
        history = alice.get(f"/v1/webhooks/{alice.endpoint}/deliveries").json()
        assert history[0]["state"] == "pending" and history[0]["last_status"] == 500

        clock.move_to(delivery.next_attempt_at - timedelta(milliseconds=1))
        assert outbox_dispatch() == {}  # not yet
        clock.move_to(delivery.next_attempt_at)
        assert outbox_dispatch()["sent"] == 1
        first, second = receiver.at(alice.path)
        for attempt in (first, second):
            webhook_signature_verify(
                attempt.body, attempt.headers, alice.secret, now=int(start.timestamp()) + 6
            )
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 204)
    [history] = alice.get(f"/v1/webhooks/{alice.endpoint}/deliveries").json()
    assert history["event"] == first.headers["webhook-id"] == delivery.event_id
    assert history["type"] == "certificate.issued" and history["state"] == "delivered"
    assert history["attempts"] == 2 and history["last_error"] == ""


def test_a_delivery_that_never_succeeds_is_given_up_after_the_schedule(
    app: Any, receiver: Receiver, settings: Any
) -> None:
    settings.RS_WEBHOOK_RETRY_SCHEDULE = [5.0, 60.0]
    alice = app("alice")
    receiver.statuses.extend([503, 503, 503])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        holder_of(alice)
        for _ in range(2):
            clock.move_to(Delivery.objects.get().next_attempt_at)
            outbox_dispatch()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed", 3, 503)
    assert "gave up after 3 attempts" in delivery.last_error
    assert Message.objects.get(kind="webhook").state == MessageState.DEAD
    assert len(receiver.at(alice.path)) == 3


def test_a_delivery_to_an_endpoint_deleted_meanwhile_is_dropped(
    app: Any, receiver: Receiver
) -> None:
    alice = app("alice")
    receiver.statuses.append(500)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        holder_of(alice)
        assert alice.delete(f"/v1/webhooks/{alice.endpoint}").status_code == 204
        clock.move_to(Delivery.objects.get().next_attempt_at)
        assert outbox_dispatch()["dead"] == 1
    assert len(receiver.at(alice.path)) == 1  # the first attempt only
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error == "the endpoint was deleted"
    message = Message.objects.get(kind="webhook")
    assert (message.state, message.last_error) == (MessageState.DEAD, "the endpoint was deleted")


def test_an_endpoint_that_answers_410_gone_is_deactivated_and_sent_nothing_more(
    app: Any, receiver: Receiver
) -> None:
    alice = app("alice")
    receiver.statuses.extend([500, 410])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        holder = holder_of(alice)  # certificate.issued: 500, retried later
        clock.move_to(Delivery.objects.get().next_attempt_at)
        assert outbox_dispatch()["dead"] == 1  # 410: no retry
        gone = Delivery.objects.get()
        assert (gone.state, gone.attempts, gone.last_status) == (DeliveryState.FAILED, 2, 410)
        assert gone.last_error == "HTTP 410 Gone: the endpoint is deactivated"
        assert alice.get(f"/v1/webhooks/{alice.endpoint}").json()["is_active"] is False

        # Later events are not sent to it: the receiver asked for no more.
        published(alice, holder)
        assert outbox_dispatch().get("sent", 0) == 0
    assert len(receiver.at(alice.path)) == 2
    assert not Delivery.objects.filter(state=DeliveryState.DELIVERED).exists()


def test_after_a_rotation_deliveries_are_signed_with_both_secrets_for_a_while(
    app: Any, receiver: Receiver, settings: Any
) -> None:
    alice = app("alice")
    holder = holder_of(alice)
    old = alice.secret
    new = alice.post(f"/v1/webhooks/{alice.endpoint}/secret").json()["secret"]

    published(alice, holder)
    delivery = receiver.at(alice.path)[-1]
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        webhook_signature_verify(delivery.body, delivery.headers, secret)

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        published(alice, holder, uri="sip:alice@other.example")
        delivery = receiver.at(alice.path)[-1]
        assert len(delivery.headers["webhook-signature"].split(" ")) == 1
        webhook_signature_verify(delivery.body, delivery.headers, new)


def test_an_event_is_written_only_with_its_change(app: Any, receiver: Receiver) -> None:
    alice = app("alice")
    holder = holder_of(alice)
    events = Event.objects.count()
    token = publish_token(holder, uri="not a uri")

    response = alice.put(
        f"/v1/numbers/{NUMBER}/handlers/messaging", token, content_type="application/jose"
    )

    assert response.status_code == 400
    assert Event.objects.count() == events


@pytest.mark.django_db(transaction=True)
def test_an_event_must_be_emitted_inside_its_change() -> None:
    from webhooks.services import webhook_event_emit

    with pytest.raises(RuntimeError, match="inside the transaction"):
        webhook_event_emit(type="handler.changed", number=NUMBER, data={})
