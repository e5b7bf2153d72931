"""Per-IP limits behind the TLS proxy docs/deployment.md prescribes: gunicorn as deployed, a
proxy that appends the client's address to X-Forwarded-For, and clients on distinct addresses;
and ``check --deploy`` warning when production trusts no proxy."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from providers.services import api_key_create
from tests.core.test_production_settings import PRODUCTION_ENV, _manage
from tests.factories import ProviderFactory
from tests.subprocesses import child_env

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
# Loopback is all of 127.0.0.0/8 on Linux: each client connects from an address of its own.
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _documented_environment() -> dict[str, str]:
    """The variables docs/deployment.md exports that decide how clients are told apart."""
    exported = dict(re.findall(r"^export (RS_TRUSTED_PROXIES)=(\S+)", DEPLOYMENT, re.MULTILINE))
    return exported


def _gunicorn_command(port: int) -> list[str]:
    """The web process line of docs/deployment.md, on a loopback port with one worker."""
    line = next(line for line in DEPLOYMENT.splitlines() if line.startswith(".venv/bin/gunicorn "))
    words = line.split()[1:]
    words[words.index("--bind") + 1] = f"127.0.0.1:{port}"
    words[words.index("--workers") + 1] = "1"
    return [sys.executable, "-m", "gunicorn", *[word.strip("'") for word in words]]


class _AppendingProxy(BaseHTTPRequestHandler):
    """A reverse proxy as deployment.md asks for: it appends the address it saw to
    X-Forwarded-For (nginx's ``$proxy_add_x_forwarded_for``) and forwards to gunicorn."""

    upstream = ""

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        seen = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {seen}" if forwarded else seen
        headers["X-Forwarded-Proto"] = "https"
        answer = httpx.request(
            self.command, self.upstream + self.path, headers=headers, content=body, timeout=30
        )
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_key(transactional_db: None) -> str:
    """A provider's key, committed so that the server process sees it."""
    return api_key_create(provider=ProviderFactory(), label="proxy").secret


@pytest.fixture
def behind_proxy(api_key: str, tmp_path: Path) -> Iterator[str]:
    """The proxy's base URL, with gunicorn behind it configured as deployment.md says."""
    port = _free_port()
    env = {k: v for k, v in child_env().items() if k not in {"CELERY_BROKER_URL"}}
    env = {k: v for k, v in env.items() if k != "RS_TRUSTED_PROXIES"}
    env |= _documented_environment() | {
        "RS_CHALLENGE_LIMIT_CLIENT_IP": "2/1h",
        "RS_LOG_LEVEL": "WARNING",
    }
    logs = tmp_path / "gunicorn.log"
    with logs.open("wb") as log:
        server = subprocess.Popen(
            _gunicorn_command(port), cwd=ROOT, env=env, stdout=log, stderr=log
        )
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _AppendingProxy)
    _AppendingProxy.upstream = f"http://127.0.0.1:{port}"
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, logs.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, logs.read_text()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
        assert "Internal Server Error" not in logs.read_text()
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _client(base: str, address: str, key: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=base, transport=transport, headers=headers, timeout=30)


def _challenge(client: httpx.Client, index: int, **headers: str) -> httpx.Response:
    return client.post("/v1/challenges", json={"number": f"+336123456{index:02d}"}, headers=headers)


def test_two_clients_behind_the_proxy_are_limited_separately(
    behind_proxy: str, api_key: str
) -> None:
    with (
        _client(behind_proxy, CLIENT_A, api_key) as a,
        _client(behind_proxy, CLIENT_B, api_key) as b,
    ):
        assert [_challenge(a, index).status_code for index in (1, 2)] == [201, 201]
        refused = _challenge(a, 3)
        assert refused.status_code == 429
        assert refused.json()["scope"] == "client_ip"
        # What a client writes itself is left of what the proxy appends: it cannot pass for
        # another client, nor spend another's allowance.
        spoofed = _challenge(a, 4, **{"X-Forwarded-For": CLIENT_B})
        assert spoofed.status_code == 429
        # The other client, behind the same proxy, has its own allowance.
        assert [_challenge(b, index).status_code for index in (5, 6)] == [201, 201]
        assert _challenge(b, 7).status_code == 429


def test_what_a_proxy_may_write_is_never_a_server_error(behind_proxy: str, api_key: str) -> None:
    # Straight to gunicorn, as a proxy that writes ports (or nothing usable) would send it.
    upstream = _AppendingProxy.upstream
    for index, forwarded in enumerate(
        ["198.51.100.7:4711", "[2001:db8::7]:443", "garbage", "", "unknown, ,"], start=10
    ):
        headers = {"Authorization": f"Bearer {api_key}", "X-Forwarded-For": forwarded}
        with httpx.Client(base_url=upstream, headers=headers, timeout=30) as proxy:
            assert _challenge(proxy, index).status_code in {201, 429}, forwarded
            assert proxy.get(f"/v1/numbers/+336123456{index}").status_code == 200, forwarded
            assert proxy.get("/v1/log/checkpoint").status_code < 500, forwarded


def test_check_deploy_warns_when_no_proxy_is_trusted() -> None:
    # With proxies trusted (the deployment guide's environment), the next test passes strict.
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "RS_TRUSTED_PROXIES"}
    strict = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert strict.returncode != 0
    assert "rs.W001" in strict.stderr + strict.stdout
    assert "RS_TRUSTED_PROXIES" in strict.stderr + strict.stdout


def test_the_deployment_guide_sets_the_proxies_and_passes_check_deploy() -> None:
    documented = _documented_environment()
    assert documented.get("RS_TRUSTED_PROXIES", "0") != "0"
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "RS_TRUSTED_PROXIES"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env | documented)
    assert result.returncode == 0, result.stderr
