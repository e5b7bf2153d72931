"""Merge delay under steady writes: from an entry's append to the first checkpoint covering it.

    .venv/bin/python bench/merge_delay.py [--rate 20] [--seconds 90] [--server-workers 4]
        [--concurrency 8] [--broker redis://127.0.0.1:6379/14] [--log-worker] [--witnesses 3]

The production shape, as bench/issuance.py runs it (its ``service_running``): gunicorn, a Redis
broker, a Celery worker (which sends the SMS and runs the integrator) and Celery beat (which has
the log integrated on its ``log-integrate`` schedule); with ``--log-worker``, also a worker for
the log's queue alone (``-Q log``), as docs/deployment.md advises. The run makes a database of
its own on the embedded PostgreSQL (or DATABASE_URL's server), ``rs_bench_merge_<pid>``,
migrated and bootstrapped with keys in a temporary RS_KEY_DIR, and drops both at the end.

The writes are certificate issuances through the API, as an app makes them (challenge, the SMS,
verify, issue: one log entry each), started at a steady ``--rate`` per second for
``--seconds``, after a warm-up that is not counted. Each client thread keeps to its share of the
schedule; a flow that starts more than 100 ms late is counted as late (the machine could not
keep the rate, and the figures then say less).

An entry's merge delay is the one ``transparency.selectors.merge_delay_by_hour`` reports (the
operator's dashboard): from the entry's ``created_at`` to that of the first checkpoint covering
it, both PostgreSQL's now() at the start of their transactions. Printed: p50, p99 and max over
the entries appended while the writes ran, the checkpoints signed per second, and the
selector's mean and worst over the same entries as a cross-check. The goal: p99 at most 1 s.

With ``--witnesses N``, N ``rs witness serve`` processes run on loopback and the service submits
each checkpoint to them (RS_WITNESSES, the default policy: a majority). The same run then also
prints the delay from each entry's append to the first checkpoint covering it that met the
quorum: the time the majority-th of its cosignatures was kept (``Cosignature.created_at``, the
start of the transaction that kept it), which is when the service starts serving it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

from common import percentile, setup_django
from issuance import (
    LIMIT_VARIABLES,
    NO_THROTTLE,
    Api,
    Numbers,
    broker_answers,
    databases_drop,
    full_flow,
    service_running,
    with_csrs,
)

DATABASE_PREFIX = "rs_bench_merge_"
GOAL_P99 = 1.0  # seconds (issue 17)
LATE = 0.1  # seconds behind its start time before a flow counts as late

# Per entry appended in [start, end): seconds to the first checkpoint covering it (0 when the
# checkpoint's transaction began first, as transparency.selectors counts it).
_DELAYS_SQL = """
SELECT GREATEST(extract(epoch FROM covering.created_at - e.created_at), 0)::float8
FROM transparency_entry AS e
CROSS JOIN LATERAL (
    SELECT c.created_at FROM transparency_checkpoint AS c
    WHERE c.size > e."index" ORDER BY c.size LIMIT 1
) AS covering
WHERE e.created_at >= %s AND e.created_at < %s
"""


# Per entry appended in [start, end): seconds to the first checkpoint covering it whose %(k)s-th
# cosignature was kept (the quorum of the default policy).
_COSIGNED_DELAYS_SQL = """
WITH quorum AS (
    SELECT size, created_at FROM (
        SELECT size, created_at,
               row_number() OVER (PARTITION BY size ORDER BY created_at) AS n
        FROM transparency_cosignature
    ) AS ranked WHERE n = %(k)s
)
SELECT GREATEST(extract(epoch FROM (
    SELECT min(q.created_at) FROM quorum AS q WHERE q.size > e."index"
) - e.created_at), 0)::float8
FROM transparency_entry AS e
WHERE e.created_at >= %(start)s AND e.created_at < %(end)s
"""


def witnesses_started(count: int, scratch: Path) -> list[subprocess.Popen[str]]:
    """``count`` witnesses (``rs witness serve``) on loopback trusting the log's key, named in
    RS_WITNESSES for the service's processes (which inherit this environment)."""
    from resolution.client.witness import keygen
    from transparency.keys import log_keys

    processes, entries = [], []
    for n in range(1, count + 1):
        key = scratch / f"witness-{n}.key"
        signer = keygen(f"w{n}.bench.test", key)
        command = [sys.executable, "-m", "resolution.cli", "witness", "serve", "--key", str(key)]
        command += ["--state", str(scratch / f"witness-{n}.state"), "--listen", "127.0.0.1:0"]
        command += ["--log", log_keys().note_verifier_key]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        processes.append(process)
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("listening on ")
        entries.append(f"w{n} {signer.verifier.vkey} {url}")
    os.environ["RS_WITNESSES"] = "\n".join(entries)
    os.environ["RS_WITNESS_PERMITTED_NETWORKS"] = "127.0.0.0/8"
    return processes


def database_now() -> datetime:
    """PostgreSQL's clock, which stamps entries and checkpoints."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (now,) = cursor.fetchone()
    return now  # type: ignore[no-any-return]


def steady(api: Api, items: list[tuple[str, str]], rate: float, concurrency: int) -> int:
    """Start one full flow per item, ``rate`` per second, on ``concurrency`` threads; how many
    started late. The first error stops every thread and is raised."""
    start = time.perf_counter() + 0.2
    late = 0
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(first: int) -> None:
        nonlocal late
        for index in range(first, len(items), concurrency):
            wait = start + index / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif wait < -LATE:
                with lock:
                    late += 1
            if errors:
                return
            try:
                full_flow(api, items[index])
            except BaseException as error:  # the caller raises it
                errors.append(error)
                return

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return late


def integrated_wait(timeout: float = 30.0) -> None:
    """Until the newest checkpoint covers every entry (beat's next runs)."""
    from transparency.selectors import log_backlog

    deadline = time.monotonic() + timeout
    while log_backlog().entries:
        if time.monotonic() > deadline:
            raise TimeoutError(f"entries still not integrated after {timeout:.0f} s")
        time.sleep(0.2)


def report(started: datetime, ended: datetime, late: int, planned: int, witnesses: int = 0) -> None:
    from django.db import connection

    from transparency.models import Checkpoint
    from transparency.selectors import merge_delay_by_hour

    with connection.cursor() as cursor:
        cursor.execute(_DELAYS_SQL, [started, ended])
        delays = [row[0] for row in cursor.fetchall()]
    seconds = (ended - started).total_seconds()
    signed = list(
        Checkpoint.objects.filter(created_at__gte=started, created_at__lt=ended)
        .order_by("size")
        .values_list("created_at", flat=True)
    )
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(signed)]
    p99 = percentile(delays, 0.99)
    print(
        f"merge delay over {len(delays)} entries ({len(delays) / seconds:.1f}/s for "
        f"{seconds:.0f} s): p50 {statistics.median(delays) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
    )
    # Beyond the schedule's period, a gap is time the task spent on its way (beat, the broker,
    # a free worker process) or a run that found the integrator busy.
    print(
        f"checkpoints signed: {len(signed)} ({len(signed) / seconds:.2f}/s); between two: "
        f"p50 {statistics.median(gaps) * 1000:.0f} ms, p99 {percentile(gaps, 0.99) * 1000:.0f} "
        f"ms, max {max(gaps) * 1000:.0f} ms"
    )
    # The selector counts every entry of the checkpoints signed since the start: the first of
    # them may cover a few entries of the warm-up.
    hours = [row for row in merge_delay_by_hour(since=started) if row.entries]
    entries = sum(row.entries for row in hours)
    mean = sum(row.mean_seconds * row.entries for row in hours) / entries
    worst = max(row.max_seconds for row in hours)
    print(
        f"cross-check, merge_delay_by_hour since the start: {entries} entries, "
        f"mean {mean * 1000:.0f} ms, worst {worst * 1000:.0f} ms"
    )
    if witnesses:
        quorum = witnesses // 2 + 1
        with connection.cursor() as cursor:
            cursor.execute(_COSIGNED_DELAYS_SQL, {"k": quorum, "start": started, "end": ended})
            cosigned = [row[0] for row in cursor.fetchall() if row[0] is not None]
        print(
            f"append -> cosigned by {quorum} of {witnesses} witnesses, over {len(cosigned)} "
            f"entries: p50 {statistics.median(cosigned) * 1000:.0f} ms, "
            f"p99 {percentile(cosigned, 0.99) * 1000:.0f} ms, max {max(cosigned) * 1000:.0f} ms"
        )
    if late:
        print(f"{late} of {planned} flows started more than {LATE * 1000:.0f} ms late")
    verdict = "meets" if p99 <= GOAL_P99 else "misses"
    print(f"p99 {verdict} the goal of {GOAL_P99:.0f} s ({p99 * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="issuances started per second")
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the writes run")
    parser.add_argument("--server-workers", type=int, default=2 * (os.cpu_count() or 2))
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="Redis broker URL")
    parser.add_argument(
        "--log-worker",
        action="store_true",
        help="also run a worker for the log's queue alone, as docs/deployment.md advises",
    )
    parser.add_argument(
        "--witnesses",
        type=int,
        default=0,
        help="run this many local witnesses; the service submits each checkpoint to them",
    )
    args = parser.parse_args()
    if not broker_answers(args.broker):
        parser.error(f"no Redis answers at {args.broker}: the production shape needs a broker")

    for variable in LIMIT_VARIABLES:
        os.environ[variable] = ""
    os.environ["RS_THROTTLE_API_KEY"] = NO_THROTTLE
    os.environ["RS_THROTTLE_CLIENT_IP"] = NO_THROTTLE
    os.environ["DJANGO_DEBUG"] = "false"
    database = f"{DATABASE_PREFIX}{os.getpid()}"
    keys = tempfile.mkdtemp(prefix="rs-bench-merge-keys-")
    os.environ["RS_KEY_DIR"] = keys
    scratch = Path(tempfile.mkdtemp(prefix="rs-bench-merge-"))
    sms_dir = scratch / "sms"
    sms_dir.mkdir()
    witnesses: list[subprocess.Popen[str]] = []
    where = "embedded PostgreSQL"
    if os.environ.get("DATABASE_URL"):
        where = f"PostgreSQL at {urlsplit(os.environ['DATABASE_URL']).hostname}"
    try:
        url = setup_django(database, fresh=True)
        from django.conf import settings

        from providers.services import api_key_create, provider_create

        key = api_key_create(provider=provider_create(slug="bench", name="Bench")).secret
        if args.witnesses:
            witnesses = witnesses_started(args.witnesses, scratch)
            print(f"{args.witnesses} witnesses (rs witness serve) on loopback", flush=True)
        schedule = settings.CELERY_BEAT_SCHEDULE["log-integrate"]["schedule"]
        workers = "worker, a worker for the log's queue" if args.log_worker else "worker"
        print(
            f"{where}, database {database}; gunicorn {args.server_workers} workers, Celery "
            f"{workers} and beat on {args.broker}; log-integrate every {schedule} s",
            flush=True,
        )
        numbers = Numbers()
        with service_running(
            url=url,
            workers=args.server_workers,
            broker=args.broker,
            sms_dir=sms_dir,
            scratch=scratch,
            key=key,
            log_worker=args.log_worker,
        ) as service:
            api = Api(port=service.port, key=key, sms_dir=sms_dir)
            # Warm up: every worker loads its code and decrypts the CA and log keys once.
            warm = with_csrs(numbers.take(args.server_workers * 4))
            steady(api, warm, args.rate, args.concurrency)
            items = with_csrs(numbers.take(int(args.rate * args.seconds)))
            print(
                f"writing: {len(items)} issuances at {args.rate:g}/s for {args.seconds:g} s",
                flush=True,
            )
            started = database_now()
            late = steady(api, items, args.rate, args.concurrency)
            ended = database_now()
            integrated_wait()
            if witnesses:
                time.sleep(2.0)  # the last checkpoints' cosignatures
        report(started, ended, late, len(items), args.witnesses)
    finally:
        for process in witnesses:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        from django.conf import settings as configured

        if configured.configured:
            from django.db import connections

            connections.close_all()
        databases_drop(stale=False, names=[database])
        shutil.rmtree(keys, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
