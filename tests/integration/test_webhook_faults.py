"""Webhooks through real processes: a killed worker and a broker that is down lose no
delivery, and every event reaches its receiver at least once, each with one webhook-id.

A `celery worker` (with beat) on the machine's Redis sends to a real HTTPS receiver on loopback
(tests.webhooks.receiver), which it is told to trust and may reach (RS_FETCH_*); the receiver
verifies every delivery with the SDK (resolution.client.webhooks).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection, transaction

from outbox.choices import MessageState
from outbox.models import Message
from providers.services import IssuedKey
from tests.ca.flow import NUMBER, OTHER_NUMBER, certificate_issued
from tests.directory.flow import publish_token
from tests.integration.test_lock_order import tasks_in_process
from tests.integration.test_outbox_faults import web_without_broker  # noqa: F401  (a fixture)
from tests.integration.test_sms_delivery import _beat_options
from tests.webhooks.receiver import HANG, LOOPBACK, Receiver, receiver  # noqa: F401
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Event
from webhooks.services import endpoint_create, webhook_event_emit

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]


def _worker_env(running: Receiver, **more: str) -> dict[str, str]:
    return {
        "RS_FETCH_PERMITTED_NETWORKS": ",".join(LOOPBACK),
        "RS_FETCH_CA_FILE": str(running.pki.ca_file),
        "RS_OUTBOX_DISPATCH_SECONDS": "1",
        "RS_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1",
        **more,
    }


def _all_delivered(worker: Any, count: int) -> list[Delivery]:
    deadline = time.monotonic() + 60
    while True:
        deliveries = list(Delivery.objects.all())
        if len(deliveries) == count and all(
            delivery.state == DeliveryState.DELIVERED for delivery in deliveries
        ):
            return deliveries
        if worker.poll() is not None:
            pytest.fail(f"worker exited:\n{worker.stdout.read() if worker.stdout else ''}")
        states = [delivery.state for delivery in deliveries]
        assert time.monotonic() < deadline, f"after 60 s: {states}"
        time.sleep(0.2)


def _received_once_each(running: Receiver, secret: str) -> dict[str, int]:
    """How many times each event id arrived, every delivery verified."""
    seen: dict[str, int] = {}
    for event in running.events("/hook", secret):
        seen[event.id] = seen.get(event.id, 0) + 1
    return seen


def test_a_worker_killed_mid_delivery_is_relieved_and_the_event_arrives_with_its_id(
    start_worker: Callable[..., Any],
    provider: Any,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    endpoint = endpoint_create(provider=provider, url=receiver.url())
    receiver.statuses.append(HANG)  # the first delivery gets no answer
    env = _worker_env(receiver, RS_WEBHOOK_TIMEOUT_SECONDS="3", RS_OUTBOX_LEASE_SECONDS="4")
    first = start_worker(**env)
    with transaction.atomic():  # committed: the kick reaches the broker, and the worker
        event = webhook_event_emit(
            type="certificate.revoked", number=NUMBER, data={"number": NUMBER}, to=[provider]
        )
    assert event is not None
    deadline = time.monotonic() + 30
    while not receiver.received:  # the first worker is in the middle of the delivery
        assert first.poll() is None, first.stdout.read() if first.stdout else ""
        assert time.monotonic() < deadline, "the first worker sent nothing within 30 s"
        time.sleep(0.05)
    first.kill()
    first.wait()
    receiver.released.set()

    second = start_worker(*_beat_options(tmp_path), **env)
    [delivery] = _all_delivered(second, 1)

    seen = _received_once_each(receiver, endpoint.secret)
    assert seen == {event.id: 2}  # the killed worker's attempt, then the second's: one id
    assert delivery.attempts == 2
    message = Message.objects.get(kind="webhook")
    assert (message.state, message.attempts) == (MessageState.SENT, 2)
    connection.close()


def test_events_committed_while_the_broker_is_down_are_each_delivered(
    web_without_broker: str,  # noqa: F811
    start_worker: Callable[..., Any],
    provider: Any,
    issued_key: IssuedKey,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    with tasks_in_process():  # the challenges' SMS, sent here
        holders = [certificate_issued(provider, number) for number in (NUMBER, OTHER_NUMBER)]
    endpoint = endpoint_create(provider=provider, url=receiver.url())
    headers = {"Authorization": f"Bearer {issued_key.secret}", "Content-Type": "application/jose"}
    for holder, number in zip(holders, (NUMBER, OTHER_NUMBER), strict=True):
        for service in ("messaging", "voice"):
            token = publish_token(
                holder, number=number, service=service, uri=f"sip:{service}@example.net"
            )
            response = httpx.put(
                f"{web_without_broker}/v1/numbers/{number}/handlers/{service}",
                content=token,
                headers=headers,
                timeout=10,
            )
            assert response.status_code == 201, response.text
    # Acknowledged, and waiting in the outbox: nothing reached a worker.
    assert receiver.received == []
    assert Event.objects.count() == 4
    assert Message.objects.filter(kind="webhook", state=MessageState.PENDING).count() == 4

    worker = start_worker(*_beat_options(tmp_path), **_worker_env(receiver))
    _all_delivered(worker, 4)
    time.sleep(2.5)  # later dispatches send nothing more

    seen = _received_once_each(receiver, endpoint.secret)
    assert set(seen) == set(Event.objects.values_list("id", flat=True))
    assert all(count >= 1 for count in seen.values())
    connection.close()
