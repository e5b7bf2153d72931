"""No phone number, in any spelling, in what a real `celery worker` and `celery beat` print
while a challenge SMS is sent, retried after an error that quotes the number, and delivered."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from ca.choices import DeliveryStatus
from config.celery_app import app
from outbox.services import DISPATCH_TASK
from tests.ca.flow import NUMBER, challenge_started
from tests.ca.twilio_api import twilio_api, twilio_error
from tests.integration.test_sms_delivery import _twilio_env, _wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]

# The spellings of NUMBER, and its national digits alone.
NEVER_PRINTED = ["+33612345678", "%2B33612345678", "33612345678", "+33 6 12 34 56 78", "612345678"]


def _stopped(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    process.wait(timeout=20)


def test_worker_and_beat_print_no_number(
    start_worker: Callable[..., Any],
    beat: tuple[subprocess.Popen[bytes], Path],
    api_client: Any,
) -> None:
    beat_process, beat_output = beat
    with twilio_api() as twilio:
        # The provider's error quotes the number, as Twilio's do ("The 'To' number … is not…").
        quoted = f"Unavailable for {NUMBER}, %2B33612345678, 33612345678, +33 6 12 34 56 78"
        twilio.responses.append(twilio_error(503, 20503, quoted))
        worker = start_worker(**_twilio_env(twilio.base_url))
        # A task whose arguments are numbers: the worker logs them when it receives the task,
        # and again when it fails (the dispatch takes none). It runs before the SMS's dispatch.
        app.send_task(DISPATCH_TASK, args=[NUMBER, " ".join(NEVER_PRINTED)])

        body = challenge_started(api_client)
        _wait_for(body["id"], DeliveryStatus.ACCEPTED, worker)
        deadline = time.monotonic() + 30
        while b"Sending due task" not in beat_output.read_bytes():
            assert beat_process.poll() is None, beat_output.read_text()
            assert time.monotonic() < deadline, "beat sent no task within 30 s"
            time.sleep(0.2)
        time.sleep(1.5)  # the worker runs what beat sent (log integration)
    _stopped(worker)
    _stopped(beat_process)
    worked = worker.stdout.read() if worker.stdout else ""
    scheduled = beat_output.read_text()
    connection.close()

    assert len(twilio.requests) == 2 and {r.form["To"] for r in twilio.requests} == {NUMBER}
    # The worker printed the arguments it was given, masked, the retry and the delivery, and
    # ran what beat sent.
    assert worked.count("[number] [number] [number] [number] [number]") == 2  # received, failed
    assert "raised unexpected: TypeError" in worked
    assert "challenge sms retrying" in worked and "challenge sms sent" in worked
    assert "transparency.tasks.log_integrate" in worked
    assert "Sending due task log-integrate" in scheduled
    for output in (worked, scheduled):
        for spelling in NEVER_PRINTED:
            assert spelling not in output, f"{spelling!r} printed:\n{output}"
