"""The README's run command: ``manage.py serve`` on the embedded default, started twice; its
static files served by WhiteNoise, which answers a path out of the static folders with a 404
(runserver's own static handler let ``/static/%2e%2e/…`` through as a 500)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _embedded_env(data_dir: Path) -> dict[str, str]:
    """This environment without any configured service: the README's fresh machine."""
    configured = {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CACHE_URL",
        "DJANGO_SETTINGS_MODULE",
        "RS_KEY_DIR",
    }
    env = {k: v for k, v in os.environ.items() if k not in configured}
    return env | {"RS_DATA_DIR": str(data_dir)}


def _serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=_embedded_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("the service did not answer within 90 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=30)
    return output


def _refused(data_dir: Path, port: int) -> str:
    """What ``serve`` says as it refuses to start (it must not start)."""
    process = _serve(data_dir, port)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0, output
    assert "Traceback" not in output, output
    return output


def _log_entry_integrated(data_dir: Path, public_url: str) -> None:
    """One entry in the log and the first checkpoint, signed under ``public_url``'s origin."""
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.db import transaction\n"
            "from transparency.services import log_append, log_integrate\n"
            "with transaction.atomic():\n"
            "    log_append(kind='test', payload={'n': 0})\n"
            "log_integrate()\n",
        ],
        cwd=ROOT,
        env=_embedded_env(data_dir) | {"RS_PUBLIC_URL": public_url},
        capture_output=True,
        text=True,
        check=True,
    )


def test_serve_starts_on_embedded_postgres_and_reuses_its_data(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    first = _serve(tmp_path, port)
    try:
        health = _wait_healthy(base, first)
        assert health.status_code == 200
        assert health.json()["database"] == {"status": "ok", "embedded": True}
        schema = httpx.get(f"{base}/api/schema/", headers={"Accept": "application/json"})
        assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
        created = subprocess.run(
            [sys.executable, "manage.py", "provider_create", "kept", "--name", "Kept"],
            cwd=ROOT,
            env=_embedded_env(tmp_path),
            capture_output=True,
            text=True,
            check=True,
        )
        key = created.stdout.strip()
        # Bootstrap made the log's keys and the CA: their public parts are served. The log is
        # named after the address served (no RS_PUBLIC_URL), as are problem types.
        log_key = httpx.get(f"{base}/log/key").json()
        assert log_key["note_verifier_key"].startswith(f"127.0.0.1:{port}/log+")
        missing = httpx.get(f"{base}/v1/no-such-thing")
        assert missing.json()["type"] == f"{base}/problems/not-found"
        assert httpx.get(f"{base}/ca/root.pem").text.startswith("-----BEGIN CERTIFICATE-----")
        assert httpx.get(f"{base}/ca/crl").status_code == 200
        # Static files come from WhiteNoise, which serves only the files it found: a path that
        # climbs out of the static folders is a 404, never runserver's 500 with a traceback.
        style = httpx.get(f"{base}/static/admin/css/base.css")
        assert style.status_code == 200 and "text/css" in style.headers["content-type"]
        for climb in (
            "/static/%2e%2e/manage.py",
            "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/static/admin/%2e%2e/%2e%2e/%2e%2e/settings.py",
            "/static/..%2fmanage.py",
            "/static/%00",
        ):
            assert httpx.get(httpx.URL(base + climb)).status_code == 404, climb
        # A challenge's SMS goes to the console.
        challenge = httpx.post(
            f"{base}/v1/challenges",
            json={"number": "+33612345678"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert challenge.status_code == 201, challenge.text
        time.sleep(1.5)  # the in-process beat runs its first periodic tasks
    finally:
        banner = _stop(first)
    assert "embedded PostgreSQL" in banner and f"{base}/api/docs/" in banner
    assert f"{base}/docs/" in banner
    assert "is your code to link this number to Kept" in banner
    assert "Traceback" not in banner and "SuspiciousFileOperation" not in banner, banner
    assert first.returncode == 0

    # The server stopped with its last user...
    assert not list(tmp_path.glob("pg/postmaster.pid"))

    # A taken port is refused before any migration, with the way out.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        output = _refused(tmp_path, busy)
    assert f"127.0.0.1:{busy} is in use" in output
    assert f"manage.py serve 127.0.0.1:{busy + 1}" in output
    assert "Database:" not in output  # printed just before migrating

    # Once the first checkpoint has named the log, another address would rename it: refused.
    _log_entry_integrated(tmp_path, base)
    output = _refused(tmp_path, _free_port())
    assert f"this log is named '127.0.0.1:{port}/log' by its first checkpoint" in output
    assert f"manage.py serve 127.0.0.1:{port}" in output
    # ...and a second start finds the provider created during the first.
    second = _serve(tmp_path, port)
    try:
        _wait_healthy(base, second)
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["provider"] == "kept"
    finally:
        _stop(second)
