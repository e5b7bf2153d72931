"""A stalled database connection makes requests fail within the configured timeouts, and a
stalled writer holds back neither the other writers nor the log's sequencer.

gunicorn as deployed reaches PostgreSQL through a TCP proxy (tests.tcp_proxy) that the test
pauses: bytes stop both ways while both ends' kernels keep the connections open, as on a
network path that went silent. The limits are set low so that the test takes seconds; each
assertion allows a margin of about a second for the machine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.db import connection

from config.celery_app import app
from core.database_timeouts import connection_timeouts
from providers.choices import Scope
from providers.services import api_key_create
from tests.ca.flow import NUMBER, Holder, certificate_issued
from tests.directory.flow import JOSE, publish_token
from tests.factories import ProviderFactory
from tests.subprocesses import child_env
from tests.tcp_proxy import TcpProxy
from transparency.models import Entry

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT = 2  # libpq's least
STATEMENT_TIMEOUT = 1.5
LOCK_TIMEOUT = 1.0
IDLE_IN_TRANSACTION_TIMEOUT = 4.0
ANSWER_TIMEOUT = 2.5
PROBE_TIMEOUT = 1.0
MERGE_DELAY = 2  # the promises' bound: /healthz would report a wait past half of it
MARGIN = 1.5  # a loaded machine's share of each bound
TIMEOUTS = {
    "RS_DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
    "RS_DB_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT),
    "RS_DB_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT),
    "RS_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": str(IDLE_IN_TRANSACTION_TIMEOUT),
    "RS_DB_ANSWER_TIMEOUT_SECONDS": str(ANSWER_TIMEOUT),
    "RS_HEALTH_PROBE_TIMEOUT_SECONDS": str(PROBE_TIMEOUT),
    "RS_LOG_MERGE_DELAY_SECONDS": str(MERGE_DELAY),
}


def _database_address() -> tuple[str, int]:
    """Where the test database listens (a Unix socket folder for the embedded server)."""
    db = connection.settings_dict
    return db["HOST"] or db["OPTIONS"]["host"], int(db["PORT"] or 5432)


def _proxied_url(proxy: TcpProxy) -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{proxy.port}/{db['NAME']}"


@pytest.fixture(scope="module")
def service_proxy(django_db_setup: Any) -> Iterator[TcpProxy]:
    """The proxy between gunicorn and PostgreSQL."""
    with TcpProxy(*_database_address()) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def service(service_proxy: TcpProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gunicorn as deployed (three sync workers, tasks in-process), its database behind the
    proxy, with the short limits; its base URL."""
    port = _free_port()
    env = {k: v for k, v in child_env().items() if k != "CELERY_BROKER_URL"}
    env |= TIMEOUTS | {"DATABASE_URL": _proxied_url(service_proxy), "RS_LOG_LEVEL": "WARNING"}
    logs = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    command = [
        *(sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"),
        *("--bind", f"127.0.0.1:{port}", "--workers", "3"),
    ]
    with logs.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, logs)
        yield url
        assert "Traceback" not in logs.read_text()
    finally:
        server.terminate()
        server.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, logs.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, logs.read_text()
        time.sleep(0.2)


@dataclass
class Writer:
    """A provider's app with a number certificate and a key, talking to the service."""

    service: str
    key: str
    holder: Holder

    def publish(self) -> httpx.Response:
        """One handler publication over HTTP: an append to the log."""
        return httpx.put(
            f"{self.service}/v1/numbers/{NUMBER}/handlers/messaging",
            content=publish_token(self.holder),
            headers={**self.authorization, "Content-Type": JOSE},
            timeout=30,  # the test's own limit, far beyond any configured one
        )

    def lookup(self) -> httpx.Response:
        return httpx.get(
            f"{self.service}/v1/numbers/{NUMBER}", headers=self.authorization, timeout=30
        )

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def writer(service: str) -> Writer:
    provider = ProviderFactory()
    key = api_key_create(provider=provider, scope=Scope.DIRECTORY, label="writer").secret
    # The challenge's SMS is sent in this process, where its code can be read (locmem).
    was = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        holder = certificate_issued(provider)
    finally:
        app.conf.task_always_eager = was
    return Writer(service=service, key=key, holder=holder)


def _timed(request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/problems/service-unavailable")


def test_a_stalled_writer_holds_back_neither_writers_nor_the_sequencer(
    service: str, writer: Writer
) -> None:
    assert writer.publish().status_code in (200, 201)  # the path works
    # A session of the service's (its options), through a proxy of its own, appends as a
    # change does, and its path goes silent before it commits.
    options = connection_timeouts(
        connect=CONNECT_TIMEOUT,
        keepalives_idle=15,
        keepalives_interval=5,
        keepalives_count=3,
        statement=STATEMENT_TIMEOUT,
        lock=LOCK_TIMEOUT,
        idle_in_transaction=IDLE_IN_TRANSACTION_TIMEOUT,
        answer=0,
    )
    with TcpProxy(*_database_address()) as holder_proxy:
        db = connection.settings_dict
        holder = psycopg.connect(
            host="127.0.0.1",
            port=holder_proxy.port,
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            connect_timeout=CONNECT_TIMEOUT,
            options=options["options"],
        )
        holder.execute(
            "INSERT INTO transparency_entry (kind, data, leaf_hash) "
            "VALUES ('test', '{}', sha256('\\x007b7d'::bytea))"
        )
        holder_proxy.pause()
        stalled_at = time.monotonic()

        # Writers do not wait for it: appends share no lock.
        response, took = _timed(writer.publish)
        assert response.status_code in (200, 201), response.text
        assert took < LOCK_TIMEOUT + MARGIN
        assert response.json()["log"]["promise"]
        # Nor does the sequencer: the entry is in a checkpoint, the log healthy.
        leaf = response.json()["log"]["leaf_hash"]
        deadline = time.monotonic() + MERGE_DELAY
        while (
            httpx.get(
                f"{service}/v1/log/proofs/inclusion", params={"leaf_hash": leaf}, timeout=30
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(MERGE_DELAY / 2 + 0.2)
        response, took = _timed(lambda: httpx.get(f"{service}/healthz", timeout=30))
        assert response.status_code == 200, response.text
        assert response.json()["log"] == {"status": "ok"}
        assert took < PROBE_TIMEOUT + MARGIN

        # The server ends the silent session at the idle-in-transaction timeout, rolling its
        # entry back: it never appears in the log.
        while time.monotonic() - stalled_at < IDLE_IN_TRANSACTION_TIMEOUT + MARGIN:
            time.sleep(0.2)
        assert writer.publish().status_code in (200, 201)
        assert not Entry.objects.filter(kind="test").exists()

        holder_proxy.resume()  # what the server said to the holder: it was ended
        with pytest.raises(psycopg.Error, match="idle-in-transaction"):
            holder.execute("SELECT 1")
        holder.close()


def test_requests_through_a_stalled_connection_fail_within_the_timeouts(
    service: str, service_proxy: TcpProxy, writer: Writer
) -> None:
    # Each worker keeps a connection open (CONN_MAX_AGE), then the path to PostgreSQL stalls.
    assert writer.publish().status_code in (200, 201)
    with ThreadPoolExecutor(6) as pool:
        assert {r.status_code for r in pool.map(lambda _: writer.lookup(), range(6))} == {200}
    service_proxy.pause()
    try:
        # A reused connection's check gets no answer (the answer timeout), the next one no
        # connection (the connect timeout): 503, well before gunicorn's 30 s.
        requests: dict[str, Callable[[], httpx.Response]] = {
            "publish": writer.publish,
            "lookup": writer.lookup,
            "health": lambda: httpx.get(f"{service}/healthz", timeout=30),
        }
        with ThreadPoolExecutor(len(requests)) as pool:
            outcomes = dict(zip(requests, pool.map(_timed, requests.values()), strict=True))
    finally:
        service_proxy.resume()
    for name, (response, took) in outcomes.items():
        _unavailable(response)
        waited = PROBE_TIMEOUT if name == "health" else ANSWER_TIMEOUT
        assert took < waited + CONNECT_TIMEOUT + MARGIN, (name, took)
    assert outcomes["health"][0].json()["checks"]["database"]["status"] == "down"
    # The path is back: so is the service, on new connections.
    deadline = time.monotonic() + 10
    while httpx.get(f"{service}/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert writer.publish().status_code in (200, 201)
