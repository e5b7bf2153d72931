"""The README's run command: ``manage.py serve`` on the embedded default, started twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
        # Bootstrap made the log's keys and the CA: their public parts are served.
        log_key = httpx.get(f"{base}/log/key").json()
        assert log_key["note_verifier_key"].startswith("127.0.0.1:")
        assert httpx.get(f"{base}/ca/root.pem").text.startswith("-----BEGIN CERTIFICATE-----")
        assert httpx.get(f"{base}/ca/crl").status_code == 200
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
    assert "is your code to link this number to Kept" in banner
    assert "Traceback" not in banner, banner
    assert first.returncode == 0

    # The server stopped with its last user...
    assert not list(tmp_path.glob("pg/postmaster.pid"))
    # ...and a second start finds the provider created during the first.
    second = _serve(tmp_path, port)
    try:
        _wait_healthy(base, second)
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["provider"] == "kept"
    finally:
        _stop(second)
