"""Faults on the way out of the process: every acknowledged challenge gets its SMS, once.

Real processes and services: gunicorn serving the API, `celery worker` (with beat, ``-B``) on the
machine's Redis, PostgreSQL, and the real ``twilio`` library against the local stand-in for
Twilio's API, which counts the messages it receives.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from ca.choices import DeliveryStatus
from ca.models import Challenge
from outbox.choices import MessageState
from outbox.models import Message
from providers.services import IssuedKey
from tests.ca.flow import NUMBER, challenge_started
from tests.ca.twilio_api import HANG, twilio_api
from tests.integration.conftest import ROOT
from tests.integration.test_sms_delivery import _beat_options, _twilio_env, _wait_for
from tests.subprocesses import child_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]

# French mobile numbers, one challenge each.
NUMBERS = [f"+3361234{n:04d}" for n in range(6)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def web_without_broker(tmp_path: Path, transactional_db: None) -> Iterator[str]:
    """gunicorn on the test database whose broker is a port where nothing listens: every
    commit's request for a dispatch fails. Its URL; its output is in ``tmp_path/web.out``."""
    port = _free_port()
    env = child_env() | {"CELERY_BROKER_URL": f"redis://127.0.0.1:{_free_port()}/2"}
    with (tmp_path / "web.out").open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn"),
                *("config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "web.out").read_text()
            try:
                httpx.get(f"{url}/healthz", timeout=5)  # 503 (no broker) is an answer too
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_challenges_acknowledged_while_the_broker_is_down_each_get_one_sms(
    web_without_broker: str,
    start_worker: Callable[..., Any],
    issued_key: IssuedKey,
    tmp_path: Path,
) -> None:
    headers = {"Authorization": f"Bearer {issued_key.secret}"}
    with twilio_api() as twilio:
        acknowledged, latencies = [], []
        for number in NUMBERS:
            started = time.monotonic()
            response = httpx.post(
                f"{web_without_broker}/v1/challenges",
                json={"number": number},
                headers=headers,
                timeout=10,
            )
            latencies.append(time.monotonic() - started)
            assert response.status_code == 201, response.text
            assert response.json()["delivery"] == "queued"
            acknowledged.append(response.json()["id"])
        # Only the first commit waited for the broker's connect timeout (2 s): the web then
        # stops asking it for a while.
        assert max(latencies[1:]) < 1.5, latencies
        # Nothing reached a worker: the outbox holds every SMS.
        assert twilio.requests == []
        assert Message.objects.filter(state=MessageState.PENDING).count() == len(NUMBERS)

        # Workers and beat come up on the real broker.
        worker = start_worker(*_beat_options(tmp_path), **_twilio_env(twilio.base_url))
        for challenge_id in acknowledged:
            _wait_for(challenge_id, DeliveryStatus.ACCEPTED, worker)
        time.sleep(2.5)  # two more of beat's dispatches: they find nothing to send
        sent = sorted(request.form["To"] for request in twilio.requests)

    assert sent == sorted(NUMBERS)  # every acknowledged challenge, exactly once
    assert set(Message.objects.values_list("state", "attempts")) == {(MessageState.SENT, 1)}
    assert {c.delivery_attempts for c in Challenge.objects.filter(pk__in=acknowledged)} == {1}
    web_log = (tmp_path / "web.out").read_text()
    assert web_log.count("outbox dispatch not started now") == 1  # once, and no traceback
    assert "Traceback" not in web_log
    connection.close()


def test_a_worker_killed_mid_send_is_relieved_within_seconds(
    start_worker: Callable[..., Any], api_client: Any, tmp_path: Path
) -> None:
    with twilio_api() as twilio:
        # The lease outlasts Twilio's timeout, so a slow send is never overtaken by another.
        env = _twilio_env(twilio.base_url) | {
            "TWILIO_TIMEOUT_SECONDS": "3",
            "RS_OUTBOX_LEASE_SECONDS": "4",
        }
        twilio.responses.append(HANG)  # the first request gets no answer
        first = start_worker(**env)
        body = challenge_started(api_client)
        deadline = time.monotonic() + 30
        while not twilio.requests:  # the first worker is in the middle of the send
            assert first.poll() is None, first.stdout.read() if first.stdout else ""
            assert time.monotonic() < deadline, "the first worker sent nothing within 30 s"
            time.sleep(0.05)
        first.kill()
        first.wait()
        killed = time.monotonic()

        second = start_worker(*_beat_options(tmp_path), **env)
        challenge = _wait_for(body["id"], DeliveryStatus.ACCEPTED, second)
        relieved = time.monotonic() - killed
        time.sleep(2.5)  # later dispatches send nothing more
        requests = list(twilio.requests)

    # The lease (4 s), the second worker's start (a few seconds on a busy machine) and one of
    # beat's dispatches (every second); without the lease, Redis's redelivery: 60 s at least.
    assert relieved < 20, f"sent {relieved:.1f} s after the kill"
    assert [request.form["To"] for request in requests] == [NUMBER, NUMBER]
    assert challenge.message_id.startswith("SM") and challenge.delivery_attempts == 2
    message = Message.objects.get(reference=body["id"])
    assert (message.state, message.attempts) == (MessageState.SENT, 2)
    connection.close()
