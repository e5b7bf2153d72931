"""Outages of the database and of the cache under gunicorn as deployed, as real processes.

The database: gunicorn reaches PostgreSQL through a TCP proxy (tests/tcp_proxy.py) that the test
stops, as a stopped server would be (open connections reset, new ones closed at once), then starts
again. Clients get 503 problems with
Retry-After meanwhile, never Django's 500; every write acknowledged before, during and after is
in the log at the index it was given; each worker logs the outage once and its end once, with no
traceback. The SDK's read started during the outage waits as Retry-After says and gets through.

The cache: gunicorn's cache is a Redis server of the test's own, killed: lookups, log reads,
``/log/checkpoint`` and pages keep answering; challenge creation answers 503 until Redis is back.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from config.celery_app import app
from providers.services import api_key_create
from resolution.client.transport import Transport
from tests.ca.flow import Holder, certificate_issued
from tests.directory.flow import publish_token
from tests.factories import ProviderFactory
from tests.subprocesses import child_env
from tests.tcp_proxy import TcpProxy
from tests.transparency.logdata import append_entries, indices, log_integrated, recomputed_root
from transparency.models import Entry

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
WORKERS = 2
NUMBERS = ["+33612340031", "+33612340032"]
UNLIMITED = "1000000/minute"
OUTAGE_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _via(url: str, port: int) -> str:
    """``url`` (a DATABASE_URL) to 127.0.0.1:``port`` instead of its host and port."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))


@contextmanager
def gunicorn(logs: Path, **env: str) -> Iterator[str]:
    """gunicorn as docs/deployment.md runs it, ``WORKERS`` workers on a free port, with the
    test session's settings and ``env``; its base URL. Its output goes to ``logs``."""
    port = _free_port()
    line = next(line for line in DEPLOYMENT.splitlines() if line.startswith(".venv/bin/gunicorn "))
    words = line.split()[1:]
    words[words.index("--bind") + 1] = f"127.0.0.1:{port}"
    words[words.index("--workers") + 1] = str(WORKERS)
    command = [sys.executable, "-m", "gunicorn", *[word.strip("'") for word in words]]
    settings_env = {
        "RS_LOG_FORMAT": "json",
        "RS_LOG_LEVEL": "INFO",
        "RS_OUTAGE_RETRY_AFTER_SECONDS": "1",
        # The outage is under test, not the limits: the reads loop as fast as 503s come back.
        **{
            f"RS_THROTTLE_{name}": UNLIMITED
            for name in ("API_KEY", "CLIENT_IP", "LOOKUP", "HTML", "LOG_READ")
        },
    }
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env() | settings_env | env, stdout=out, stderr=err
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (logs / "stderr").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (logs / "stderr").read_text()
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _events(logs: Path, event: str) -> int:
    """How many lines of gunicorn's log are ``event``."""
    lines = (logs / "stderr").read_text().splitlines()
    return sum(1 for line in lines if line.startswith("{") and json.loads(line)["event"] == event)


def _until_each_worker_logged(logs: Path, dependency: str, base: str, path: str, key: str) -> None:
    """Ask for ``path`` until every worker that logged ``dependency`` unavailable has logged it
    available again: which worker takes a request is not ours to choose."""
    for _ in range(100):
        if _events(logs, f"{dependency} available again") >= _events(
            logs, f"{dependency} unavailable"
        ):
            return
        response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code in (200, 201), response.text
        time.sleep(0.02)
    raise AssertionError((logs / "stderr").read_text()[-5000:])


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/problems/{slug}")
    return body


def _unavailable(response: httpx.Response) -> None:
    body = _problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "1" and body["retry_after"] == 1


@contextmanager
def tasks_in_process() -> Iterator[None]:
    """Tasks (the challenges' SMS) run in this process while holders are made: their codes are
    read from the locmem outbox."""
    was = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = was


class Writer(threading.Thread):
    """Publishes handlers one after the other until stopped, keeping every answer."""

    def __init__(self, base: str, key: str, holders: list[Holder]) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.holders = holders
        self.answers: list[httpx.Response] = []
        self.stop = threading.Event()

    def run(self) -> None:
        count = 0
        while not self.stop.is_set():
            holder, number = self.holders[count % 2], NUMBERS[count % 2]
            token = publish_token(holder, number=number, uri=f"sip:u{count}@chat.example")
            self.answers.append(
                self.http.put(
                    f"/v1/numbers/{number}/handlers/messaging",
                    content=token,
                    headers={"Content-Type": "application/jose"},
                )
            )
            count += 1
            time.sleep(0.01)  # a steady client, not a flood

    def acknowledged(self) -> list[bytes]:
        """The leaf hash of every write the service acknowledged."""
        return [
            base64.b64decode(answer.json()["log"]["leaf_hash"])
            for answer in list(self.answers)
            if answer.status_code in (200, 201)
        ]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 20
        while len(self.acknowledged()) < count:
            assert time.monotonic() < deadline, [a.status_code for a in self.answers][-20:]
            time.sleep(0.05)


def test_a_database_outage_answers_503_problems_and_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    provider = ProviderFactory()
    key = api_key_create(provider=provider, label="outage").secret
    with tasks_in_process():
        holders = [certificate_issued(provider, number) for number in NUMBERS]
    database = child_env()["DATABASE_URL"]
    parts = urlsplit(database)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    reads = [f"/v1/numbers/{NUMBERS[0]}", "/log/checkpoint", "/v1/log/checkpoint", "/explorer/"]
    try:
        with gunicorn(tmp_path, DATABASE_URL=_via(database, proxy.port)) as base:
            writer = Writer(base, key, holders)
            writer.start()
            writer.wait_for(3)

            proxy.stop()
            during: list[httpx.Response] = []
            health: list[httpx.Response] = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
                cut = time.monotonic()
                while time.monotonic() - cut < OUTAGE_SECONDS:
                    during += [http.get(path) for path in reads]
                    health.append(http.get("/healthz"))
                # The SDK's read, started during the outage, retries as Retry-After says.
                threading.Timer(1.5, proxy.start).start()
                started = time.monotonic()
                with Transport(retries=4) as sdk:
                    read = sdk.request(
                        "GET", f"{base}{reads[0]}", headers={"Authorization": f"Bearer {key}"}
                    )
                assert read.status == 200 and time.monotonic() - started >= 1.5
            acknowledged_by_then = len(writer.acknowledged())
            writer.wait_for(acknowledged_by_then + 3)
            writer.stop.set()
            writer.join(timeout=30)
            time.sleep(1.1)  # quiet for Retry-After: the next query in each worker ends it
            _until_each_worker_logged(tmp_path, "database", base, reads[0], key)
    finally:
        proxy.close()
        app.control.purge()  # the log integrations gunicorn queued, for no worker

    statuses = [answer.status_code for answer in writer.answers]
    assert 503 in statuses and set(statuses) <= {200, 201, 503}, statuses
    for answer in [*writer.answers, *during]:
        if answer.status_code >= 500:
            _unavailable(answer)
    assert {answer.status_code for answer in during} <= {200, 503}
    assert all(answer.status_code == 503 for answer in during if answer.url.path == reads[0])
    for answer in health:
        assert _problem(answer, 503, "service-unavailable")["checks"]["database"]["status"] != "ok"

    # Nothing acknowledged is lost: each entry at its index, the log gapless and consistent.
    connection.close()
    acknowledged = writer.acknowledged()
    checkpoint = log_integrated()
    size = Entry.objects.count()
    assert checkpoint is not None and checkpoint.size == size
    for leaf_hash in acknowledged:  # each in the log, once, sequenced
        assert Entry.objects.get(leaf_hash=leaf_hash).index is not None
    assert indices(Entry.objects.values_list("index", flat=True)) == list(range(size))
    assert bytes(checkpoint.root_hash) == recomputed_root(size)

    # Each worker logged the outage once and its end once; no traceback.
    assert 1 <= _events(tmp_path, "database unavailable") <= WORKERS
    assert _events(tmp_path, "database available again") == _events(
        tmp_path, "database unavailable"
    )
    assert "Traceback" not in (tmp_path / "stderr").read_text()


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of the test's own on ``port``, keeping nothing on disk."""
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait()


def test_with_the_cache_down_reads_answer_and_challenges_are_refused(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    key = api_key_create(provider=ProviderFactory(), label="cache").secret
    append_entries(3)
    log_integrated()
    port = _free_port()
    no_challenge_limits = {f"RS_CHALLENGE_LIMIT_{name}": "" for name in ("NUMBER", "NUMBER_TOTAL")}
    with (
        redis_server(port) as redis,
        gunicorn(
            tmp_path, CACHE_URL=f"rediscache://127.0.0.1:{port}/0", **no_challenge_limits
        ) as base,
    ):
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)

        def challenge() -> httpx.Response:
            return http.post("/v1/challenges", json={"number": NUMBERS[0]})

        reads = [
            f"/v1/numbers/{NUMBERS[0]}",
            "/log/checkpoint",
            "/v1/log/checkpoint",
            "/log/tile/entries/000.p/3",
            "/explorer/",
        ]
        assert [http.get(path).status_code for path in reads] == [200] * len(reads)
        assert challenge().status_code == 201

        redis.kill()
        redis.wait()
        for _ in range(WORKERS * 3):
            assert [http.get(path).status_code for path in reads] == [200] * len(reads)
            _unavailable(challenge())

        with redis_server(port):
            time.sleep(1.1)  # Retry-After: the cache is tried again
            assert challenge().status_code == 201
            _until_each_worker_logged(tmp_path, "cache", base, reads[0], key)
        http.close()
    app.control.purge()  # the SMS gunicorn queued, for no worker

    assert 1 <= _events(tmp_path, "cache unavailable") <= WORKERS
    assert _events(tmp_path, "cache available again") == _events(tmp_path, "cache unavailable")
    assert "Traceback" not in (tmp_path / "stderr").read_text()
