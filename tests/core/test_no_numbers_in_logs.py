"""No phone number, in any spelling, in what the web servers print: gunicorn as
docs/deployment.md runs it (access and error logs) and ``manage.py serve``, as real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from providers.services import api_key_create
from tests.factories import ProviderFactory
from tests.subprocesses import child_env

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()

# One number as it travels in a URL path or query: E.164, URL-encoded, without its plus, and
# the spaced form URL-encoded; in a query string a space may also be a plus.
IN_PATH = ["+33612345678", "%2B33612345678", "33612345678", "%2B33%206%2012%2034%2056%2078"]
IN_QUERY = [*IN_PATH, "+33+6+12+34+56+78"]
# What must never be printed: the four spellings and the URL forms above.
NEVER_PRINTED = [
    "+33612345678",
    "%2B33612345678",
    "33612345678",
    "+33 6 12 34 56 78",
    "%2B33%206%2012%2034%2056%2078",
    "+33+6+12+34+56+78",
    "612345678",
    "6 12 34 56 78",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gunicorn_command(port: int) -> list[str]:
    """The web process line of docs/deployment.md, on a free port with one worker."""
    line = next(line for line in DEPLOYMENT.splitlines() if line.startswith(".venv/bin/gunicorn "))
    words = line.split()[1:]
    words[words.index("--bind") + 1] = f"127.0.0.1:{port}"
    words[words.index("--workers") + 1] = "1"
    return [sys.executable, "-m", "gunicorn", *[word.strip("'") for word in words]]


def _web_env(**extra: str) -> dict[str, str]:
    """The test session's database and keys; tasks (the challenge SMS) run in the web process."""
    env = {k: v for k, v in child_env().items() if k != "CELERY_BROKER_URL"}
    return env | {"RS_LOG_LEVEL": "INFO"} | extra


def _start(command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)


def _printed(logs: Path) -> tuple[str, str]:
    return (logs / "stdout").read_text(), (logs / "stderr").read_text()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, _printed(logs)
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer within 60 s: {_printed(logs)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _requests_with_numbers(base: str, key: str) -> list[int]:
    """Every route that takes a number, each spelling in its path, query and body; the
    statuses answered."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Referer": f"{base}/explorer/?q=%2B33612345678",
        "User-Agent": "app/1.0 (+33 6 12 34 56 78)",
        "X-Request-ID": "33612345678",
    }
    every_query = "&".join(f"n{i}={query}" for i, query in enumerate(IN_QUERY))
    statuses = []
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for number in IN_PATH:
            # Handler changes are signed (application/jose): a forged one is refused, 4xx.
            forged = f"{number}.{number}.{number}"
            requests: list[tuple[str, str, str | None]] = [
                ("GET", f"/v1/numbers/{number}?{every_query}", None),
                ("PUT", f"/v1/numbers/{number}/handlers/sms", forged),
                ("DELETE", f"/v1/numbers/{number}/handlers/sms?{every_query}", forged),
                ("GET", f"/v1/log/labels/{number}", None),
                ("GET", f"/v1/no-such-route/{number}?{every_query}", None),
                ("GET", f"/explorer/?q={number}", None),
            ]
            for method, url, body in requests:
                jose = {"Content-Type": "application/jose"} if body else {}
                response = client.request(method, url, content=body, headers=jose)
                statuses.append(response.status_code)
        for number in ("+33612345678", "33612345678", "+33 6 12 34 56 78"):
            challenge = client.post("/v1/challenges", json={"number": number})
            statuses.append(challenge.status_code)
    return statuses


def _assert_no_number(*outputs: str) -> None:
    for output in outputs:
        for spelling in NEVER_PRINTED:
            assert spelling not in output, f"{spelling!r} printed:\n{output}"


@pytest.fixture
def api_key(transactional_db: None) -> str:
    """A provider's key, committed so that the server processes see it."""
    return api_key_create(provider=ProviderFactory(), label="logs").secret


def test_gunicorn_as_deployed_prints_routes_never_numbers(api_key: str, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(_gunicorn_command(port), _web_env(RS_LOG_FORMAT="json"), tmp_path)
    try:
        _wait_healthy(base, server, tmp_path)
        statuses = _requests_with_numbers(base, api_key)
    finally:
        _stop(server)
    access, errors = _printed(tmp_path)

    assert 201 in statuses and all(status < 500 for status in statuses), statuses
    _assert_no_number(access, errors)
    # The access log names each request by its route; the app's line says the same.
    assert '"GET /v1/numbers/<number:number> HTTP/1.1" 200' in access
    assert '"PUT /v1/numbers/<number:number>/handlers/<service:service> HTTP/1.1"' in access
    assert '"GET /v1/log/labels/<number:number> HTTP/1.1"' in access
    assert '"GET /v1/no-such-route/[number] HTTP/1.1" 404' in access
    assert '"route": "v1/numbers/<number:number>"' in errors
    assert '"event": "challenge sms sent"' in errors


def test_manage_py_serve_prints_routes_never_numbers(api_key: str, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"]
    # The test settings' SMS backend (locmem): the console one prints each message, number and
    # code, on purpose (docs/configuration.md), and is refused in production.
    server = _start(command, _web_env(RS_LOG_FORMAT="console"), tmp_path)
    try:
        _wait_healthy(base, server, tmp_path)
        statuses = _requests_with_numbers(base, api_key)
    finally:
        _stop(server)
    stdout, stderr = _printed(tmp_path)

    assert 201 in statuses and all(status < 500 for status in statuses), statuses
    _assert_no_number(stdout, stderr)
    assert "route=v1/numbers/<number:number>" in stderr
    assert "challenge sms sent" in stderr
    assert "Tasks: in this process" in stdout
