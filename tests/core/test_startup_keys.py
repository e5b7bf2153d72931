"""The service refuses to start with keys it cannot open: `manage.py serve` and gunicorn, run as
real processes, stop with a clear message and a non-zero exit instead of answering 500s."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.subprocesses import database_url

ROOT = Path(__file__).resolve().parents[2]
WRONG_PASSPHRASE = "a-wrong-passphrase-of-some-length"

pytestmark = [pytest.mark.django_db, pytest.mark.process]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(**extra: str) -> dict[str, str]:
    """This environment on the test database and this session's keys, with ``extra``."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "RS_"))
    }
    return inherited | {
        "DATABASE_URL": database_url(),
        "RS_KEY_DIR": str(settings.RS_KEY_DIR),
        **extra,
    }


def _production(passphrase: str) -> dict[str, str]:
    return _environment(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="s" * 20 + "-production-secret-for-the-startup-check-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        # Never reached: the startup check needs only the keys.
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        SMS_BACKEND="twilio",
        RS_KEY_PASSPHRASE=passphrase,
    )


def _gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_refuses_to_start_with_a_wrong_passphrase():
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{_free_port()}"],
        cwd=ROOT,
        env=_environment(
            DJANGO_SETTINGS_MODULE="config.settings.local", RS_KEY_PASSPHRASE=WRONG_PASSPHRASE
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "cannot start" in result.stderr and "RS_KEY_PASSPHRASE" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert WRONG_PASSPHRASE not in result.stdout + result.stderr


def test_gunicorn_refuses_to_start_with_a_wrong_passphrase():
    process = _gunicorn(_free_port(), _production(WRONG_PASSPHRASE))
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "cannot start" in output and "RS_KEY_PASSPHRASE" in output
    assert WRONG_PASSPHRASE not in output


def test_gunicorn_starts_with_the_right_passphrase():
    port = _free_port()
    process = _gunicorn(port, _production(str(settings.RS_KEY_PASSPHRASE)))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.3)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    # The broker is unreachable (degraded), but the keys open and the instance serves.
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["keys"] == {"status": "ok"}


def test_celery_worker_refuses_to_start_with_a_wrong_passphrase():
    # Before it ever reaches the broker (none listens there): the keys are checked first.
    result = subprocess.run(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"),
            *("--without-heartbeat", "--without-gossip", "--without-mingle"),
        ],
        cwd=ROOT,
        env=_production(WRONG_PASSPHRASE),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot start" in output and "RS_KEY_PASSPHRASE" in output
    assert "Traceback" not in output, output
    assert WRONG_PASSPHRASE not in output
