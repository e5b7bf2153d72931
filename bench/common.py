"""What every benchmark shares: a throwaway database, Django set up on it, and statistics.

A benchmark never writes to the development log (the log tables are append-only: nothing
could clean it up). It creates its own database on the same PostgreSQL server — the embedded
one when ``DATABASE_URL`` is unset, else the server ``DATABASE_URL`` points to — migrates it,
and drops it at the next run.
"""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def server_url() -> str:
    """A URL to the PostgreSQL server (embedded or ``DATABASE_URL``), database ``postgres``."""
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
    else:
        from core.embedded_postgres import embedded_database_url

        data_dir = Path(os.environ.get("RS_DATA_DIR", ROOT / ".data"))
        url = embedded_database_url(data_dir)
    return _with_database(url, "postgres")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def setup_django(database: str, *, fresh: bool) -> str:
    """Point Django at ``database`` (re-created when ``fresh``), migrate it, bootstrap keys."""
    import psycopg
    from psycopg import sql

    server = server_url()
    url = _with_database(server, database)
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        if fresh or not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.setdefault("RS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("RS_THROTTLE_CLIENT_IP", "10000000/minute")
    os.environ.setdefault("RS_KEY_DIR", str(Path(tempfile.gettempdir()) / f"{database}-keys"))
    os.environ.setdefault("RS_KEY_PASSPHRASE", "benchmark-only-passphrase")
    # Benchmarks integrate when they choose, as production's beat task does.
    os.environ.setdefault("CELERY_BROKER_URL", "redis://deferred.invalid:6379/0")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("bootstrap", verbosity=0)
    return url


def sample_payload(n: int) -> dict[str, object]:
    """A version-1 certificate entry's payload (about 480 bytes as an entry), of the shape
    auditors check: the largest entries a log holds."""
    digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
    return {
        "label": digest + digest[::-1],
        "serial": digest[:32],
        "certificate_sha256": digest[::-1],
        "public_key_sha256": digest[1:] + digest[0],
        "not_before": "2026-11-23T00:00:00Z",
        "not_after": "2026-12-23T00:00:00Z",
        "provider": "bench",
    }


def copy_entries(start: int, count: int) -> None:
    """Write entries ``start .. start+count-1`` fast (COPY), as log_append would have."""
    from django.db import connection

    from resolution.protocol.entries import entry_encode
    from resolution.protocol.merkle import leaf_hash

    with (
        connection.cursor() as cursor,
        cursor.copy(
            'COPY transparency_entry (id, "index", kind, data, leaf_hash) FROM STDIN'
        ) as copy,
    ):
        # Already sequenced, as the sequencer would have; each id its index.
        for n in range(start, start + count):
            data = entry_encode(kind="certificate", payload=sample_payload(n), version=1)
            copy.write_row((n, n, "certificate", data, leaf_hash(data)))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('transparency_entry', 'id'), max(id)) "
            "FROM transparency_entry"
        )


def ensure_log(database: str, size: int) -> str:
    """A log of exactly ``size`` integrated entries in ``database``, built once and reused."""
    import psycopg

    try:
        with psycopg.connect(_with_database(server_url(), database)) as conn:
            have = conn.execute("SELECT max(size) FROM transparency_checkpoint").fetchone()
    except psycopg.Error:
        have = None
    fresh = not have or have[0] != size
    url = setup_django(database, fresh=fresh)
    if fresh:
        from core.database_timeouts import maintenance_timeouts
        from transparency.services import log_integrate

        print(f"building a {size:,}-entry log in database {database} (once)...", flush=True)
        # Statements on millions of entries: longer than the service allows a request's.
        with maintenance_timeouts():
            with Timer() as copying:
                for start in range(0, size, 100_000):
                    copy_entries(start, min(100_000, size - start))
            with Timer() as integrating:
                log_integrate()
        print(
            f"  copied in {copying.seconds:.1f} s, integrated in {integrating.seconds:.1f} s "
            f"({size / integrating.seconds:,.0f} entries/s)",
            flush=True,
        )
    return url


def join_django(url: str) -> None:
    """In a worker process: use the database the parent set up."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    import django

    django.setup()


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary_ms(samples: Sequence[float]) -> str:
    """p50/p90/p99 of durations in seconds, printed in milliseconds."""
    return (
        f"p50 {statistics.median(samples) * 1000:.3f} ms, "
        f"p90 {percentile(samples, 0.90) * 1000:.3f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.3f} ms (n={len(samples)})"
    )


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started


# --- Processes and ports -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_cpu(pid: int | None) -> float:
    """CPU seconds used so far by a process, its live descendants and the ones it reaped."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return float(total)


def postgres_pid() -> int | None:
    """The PostgreSQL postmaster, when it runs on this machine (its tree is every backend)."""
    import psycopg

    with psycopg.connect(server_url()) as conn:
        (backend,) = conn.execute("SELECT pg_backend_pid()").fetchone() or (0,)
        try:  # while connected: the backend process ends with the connection
            parent = psutil.Process(backend).parent()
        except psutil.Error:
            return None  # a remote server, or a local one we may not look at
    return int(parent.pid) if parent is not None and "postgres" in parent.name() else None


# --- Concurrent clients --------------------------------------------------------------------------

Item = TypeVar("Item")


def threads_drive(
    items: Sequence[Item], concurrency: int, job: Callable[[Item], Any]
) -> tuple[float, list[Any]]:
    """Run ``job(item)`` for every item on ``concurrency`` threads, all started together.

    Returns the wall-clock seconds from the first request to the last response, and what each
    job returned, in no particular order. The first error stops every thread and is raised.
    """
    pending = iter(items)
    lock = threading.Lock()
    results: list[Any] = []
    errors: list[BaseException] = []
    ready = threading.Barrier(concurrency + 1)

    def run() -> None:
        ready.wait()
        while not errors:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            try:
                result = job(item)
            except BaseException as error:  # the caller raises it
                errors.append(error)
                return
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds, results
