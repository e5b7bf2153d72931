"""Challenge SMS sent by a real Celery worker through the real ``twilio`` library, retried with
backoff by the outbox's dispatches (beat's, in the worker) while the stand-in for Twilio's API
fails."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from ca.choices import DeliveryStatus
from ca.models import Challenge
from tests.ca.flow import NUMBER, challenge_started
from tests.ca.twilio_api import twilio_api, twilio_error

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]

ACCOUNT = "AC" + "5" * 32


def _twilio_env(base_url: str) -> dict[str, str]:
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": base_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "integration-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "RS_SMS_RETRY_BACKOFF_SECONDS": "1",
        "RS_SMS_MAX_RETRIES": "3",
        "RS_OUTBOX_DISPATCH_SECONDS": "1",
    }


def _beat_options(tmp_path: Path) -> tuple[str, ...]:
    """A worker's options to run beat's schedule too (``-B``), its state in ``tmp_path``."""
    return ("--beat", "--schedule", str(tmp_path / "beat-schedule"))


def _wait_for(challenge_id: str, status: DeliveryStatus, worker: Any) -> Challenge:
    deadline = time.monotonic() + 60
    while True:
        challenge = Challenge.objects.get(pk=challenge_id)
        if challenge.delivery_status == status:
            return challenge
        if worker.poll() is not None:
            pytest.fail(f"worker exited:\n{worker.stdout.read() if worker.stdout else ''}")
        assert time.monotonic() < deadline, f"still {challenge.delivery_status} after 60 s"
        time.sleep(0.2)


def test_the_worker_retries_a_failing_provider_then_delivers(
    start_worker: Callable[..., Any], api_client: Any, tmp_path: Path
) -> None:
    with twilio_api() as twilio:
        twilio.responses.extend(
            [twilio_error(503, 20503, "Service unavailable"), twilio_error(500, 20500, "Error")]
        )
        worker = start_worker(*_beat_options(tmp_path), **_twilio_env(twilio.base_url))
        started = time.monotonic()

        body = challenge_started(api_client)  # in the outbox; its dispatch queued on commit
        challenge = _wait_for(body["id"], DeliveryStatus.ACCEPTED, worker)
        elapsed = time.monotonic() - started

        assert challenge.delivery_attempts == 3
        assert challenge.message_id.startswith("SM")
        assert len(twilio.requests) == 3
        assert {request.form["To"] for request in twilio.requests} == {NUMBER}
        assert len({request.form["Body"] for request in twilio.requests}) == 1
        # Backoff: at least 0.5 s then 1 s between attempts (full jitter over 1 s, 2 s).
        assert elapsed >= 1.5
    connection.close()


def test_a_lasting_outage_is_recorded_and_loses_no_challenge(
    start_worker: Callable[..., Any], api_client: Any, tmp_path: Path
) -> None:
    with twilio_api() as twilio:
        twilio.responses.extend([twilio_error(503, 20503, "Service unavailable")] * 4)
        worker = start_worker(*_beat_options(tmp_path), **_twilio_env(twilio.base_url))

        body = challenge_started(api_client)
        challenge = _wait_for(body["id"], DeliveryStatus.FAILED, worker)

        assert len(twilio.requests) == 4  # the first attempt and RS_SMS_MAX_RETRIES retries
        assert "20503" in challenge.delivery_error
        assert challenge.status == "pending"  # the challenge itself is kept, for the record
    connection.close()
