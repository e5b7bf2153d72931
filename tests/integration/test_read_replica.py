"""Reads from a real streaming replica (core.read_replica).

The test starts a PostgreSQL primary of its own from the ``pgserver`` package's binaries,
migrates it, and makes a hot standby of it with ``pg_basebackup -R`` on another free port:
a real replica, replaying the primary's WAL. The service's connections are pointed at the
pair. Lookups and the log's reads are served by the replica (its queries run there, on a
server in recovery); a provider that wrote reads the primary; with the replica's replay paused
past the lag bound, or the replica stopped, reads go to the primary and still answer.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.celery_app import app
from core.read_replica import REPLICA, replica_health, replica_outage
from providers.selectors import api_key_cache_clear
from providers.services import api_key_create
from tests.ca.flow import certificate_issued
from tests.directory.flow import handler_published, publish_token, put
from tests.factories import ProviderFactory
from tests.subprocesses import child_env
from transparency.selectors import cache_clear
from transparency.services import log_integrate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+33612345678"


def _bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    data: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/rs"

    def run(self, *command: str) -> None:
        subprocess.run(command, check=True, user=self.user, capture_output=True, timeout=60)

    def start(self, *options: str) -> None:
        self.run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", f"{self.data}.log", "-w", "start", "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent} "
            + " ".join(options),
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            user=self.user,
            capture_output=True,
            timeout=60,
        )

    def query(self, sql: str) -> Any:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchone()


@dataclass
class Pair:
    primary: Server
    replica: Server

    def replayed(self) -> None:
        """Wait until the replica has replayed everything the primary wrote so far."""
        (target,) = self.primary.query("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            (caught_up,) = self.replica.query(
                f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            )
            if caught_up:
                return
            time.sleep(0.05)
        raise AssertionError("the replica did not catch up")


@pytest.fixture
def pair(django_db_blocker: Any, settings: Any) -> Iterator[Pair]:
    """A primary and its streaming replica, the service's ``default`` and ``replica``."""
    user = "pgserver" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    if user is not None:
        from pgserver.utils import ensure_user_exists

        ensure_user_exists(user)
    folder = Path(tempfile.mkdtemp(prefix="rs-replica-"))
    folder.chmod(0o755)
    if user is not None:
        shutil.chown(folder, user)
    primary = Server(folder / "primary", _free_port(), user)
    replica = Server(folder / "replica", _free_port(), user)
    saved = {alias: dict(connections[alias].settings_dict) for alias in (DEFAULT_DB_ALIAS, REPLICA)}
    try:
        primary.run(_bin("initdb"), "-D", str(primary.data), "--auth=trust", "-U", "postgres")
        primary.start("-c wal_level=replica")
        with psycopg.connect(primary.url.replace("/rs", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE rs")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env=child_env() | {"DATABASE_URL": primary.url},
            check=True,
            timeout=120,
        )
        primary.run(
            _bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        replica.start("-c hot_standby=on")
        with django_db_blocker.unblock():
            for alias, server in ((DEFAULT_DB_ALIAS, primary), (REPLICA, replica)):
                connections[alias].close()
                connections[alias].settings_dict.update(
                    HOST="127.0.0.1", PORT=str(server.port), NAME="rs", USER="postgres"
                )
                connections[alias].settings_dict["PASSWORD"] = ""
            settings.DATABASE_REPLICA_URL = replica.url
            settings.DATABASE_REPLICA_MAX_LAG = 1.0
            settings.RS_DB_REPLICA_CHECK_SECONDS = 0.2
            cache_clear()
            api_key_cache_clear()
            replica_health.forget()
            # Tasks (the SMS, the log's integration) in this process, on the pair.
            eager, app.conf.task_always_eager = app.conf.task_always_eager, True
            try:
                yield Pair(primary, replica)
            finally:
                app.conf.task_always_eager = eager
    finally:
        with django_db_blocker.unblock():
            for alias, saved_settings in saved.items():
                connections[alias].close()
                connections[alias].settings_dict.clear()
                connections[alias].settings_dict.update(saved_settings)
        replica_health.forget()
        cache_clear()
        api_key_cache_clear()
        replica.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Clock:
    """The replica's health's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def _sql(captured: CaptureQueriesContext) -> str:
    return " ".join(query["sql"] for query in captured.captured_queries)


def test_reads_go_to_the_replica_while_it_can_answer_them(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ProviderFactory()
    reader = ProviderFactory()
    writer_client, reader_client, auditor = APIClient(), APIClient(), APIClient()
    writer_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(provider=writer, label='t').secret}"
    )
    reader_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(provider=reader, label='t').secret}"
    )
    holder = certificate_issued(writer)
    handler_published(writer, holder)
    log_integrate()
    pair.replayed()
    clock = Clock()
    monkeypatch.setattr(replica_health, "clock", clock)

    # Lookups and log reads: the rows from the replica, a server in recovery.
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        lookup = reader_client.get(f"/v1/numbers/{NUMBER}")
        tile = auditor.get("/log/tile/0/000.p/2")
        entries = auditor.get("/v1/log/entries", {"start": 0, "end": 2})
        checkpoint = auditor.get("/v1/log/checkpoint")
    assert lookup.status_code == 200, lookup.content
    assert [h["uri"] for h in lookup.json()["handlers"]] == ["sip:alice@chat.example"]
    assert (tile.status_code, entries.status_code, checkpoint.status_code) == (200, 200, 200)
    assert "directory_handler" in _sql(on_replica)
    assert "transparency_entry" in _sql(on_replica)
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (True, pair.replica.port)

    # A tree newer than the replica's: the tile is read again from the primary.
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    handler_published(writer, holder, service="voice", uri="tel:+33612345678")
    log_integrate()
    cache_clear()
    newest = auditor.get("/log/tile/0/000.p/3")
    assert newest.status_code == 200  # the replica has no entry 2 yet; the primary does

    # Paused past the lag bound: reads go to the primary, and see what the replica has not.
    clock.offset += 2
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        lagging = reader_client.get(f"/v1/numbers/{NUMBER}")
    assert "directory_handler" not in _sql(on_replica)
    # Behind by more than the bound, or than anything the process remembers: too far.
    assert replica_health.lag is None or replica_health.lag > 1
    assert len(lagging.json()["handlers"]) == 2
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    pair.replayed()
    clock.offset += 1
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        reader_client.get(f"/v1/numbers/{NUMBER}")
    assert "directory_handler" in _sql(on_replica)

    # The writer's read after its write is the primary's; another provider's is the replica's.
    response = put(
        writer_client,
        publish_token(holder, service="video", uri="sip:alice@video.example"),
        service="video",
    )
    assert response.status_code == 201, response.content
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        own = writer_client.get(f"/v1/numbers/{NUMBER}")
    assert "directory_handler" not in _sql(on_replica)
    assert "video" in {h["service"] for h in own.json()["handlers"]}
    pair.replayed()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        reader_client.get(f"/v1/numbers/{NUMBER}")
    assert "directory_handler" in _sql(on_replica)

    # The replica stopped: the read under way is run again on the primary, and the next ones
    # go there at once.
    pair.replica.stop()
    stopped = reader_client.get(f"/v1/numbers/{NUMBER}")
    assert stopped.status_code == 200, stopped.content
    assert len(stopped.json()["handlers"]) == 3
    assert replica_outage.failures >= 1
    assert auditor.get("/v1/log/entries", {"start": 0, "end": 3}).status_code == 200
    assert auditor.get("/log/tile/0/000.p/3").status_code == 200
