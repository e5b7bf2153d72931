"""Appends per second through ``log_append``, against plain INSERTs of the same rows, and the
merge delay meanwhile.

    .venv/bin/python bench/log_append.py [--appends 4000] [--rounds 3] [--writers 1,8,32]

Each append is its own transaction (as in the service: one change, one entry), its promise
signed. Writers are separate processes, their keys opened before the clock starts (as a
service process opens them at start-up). Two baselines insert the same rows (same canonical
JSON and leaf hash): "plain", into a table made ``LIKE transparency_entry INCLUDING ALL`` (the
same columns, defaults and indexes; no trigger, no sequencing, no promise), and "bare", into a
table with a ``bigserial`` key and no other index (the baseline of the earlier runs). While
the log's writers run, an integrator process (started, and ready, first) sequences and
integrates every 0.5 s, as beat's ``log-integrate`` does. Prints medians over the rounds and
the ratios log_append / plain and log_append / bare for each number of writers; and for the
log runs, the merge delay of their entries (from an entry's ``created_at`` to that of the
first checkpoint covering it, as the dashboard counts it): p50 and p99 at each rate.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import join_django, percentile, setup_django

PERIOD = 0.5  # RS_LOG_INTEGRATE_SECONDS, beat's schedule

TABLES = """
CREATE TABLE IF NOT EXISTS bench_plain (LIKE transparency_entry INCLUDING ALL);
CREATE TABLE IF NOT EXISTS bench_bare (
    "index" bigserial PRIMARY KEY, kind varchar(32) NOT NULL, data bytea NOT NULL,
    leaf_hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
"""


def worker(mode: str, count: int, offset: int, url: str) -> None:
    join_django(url)
    from django.db import connection, transaction

    from resolution.protocol.entries import entry_encode
    from resolution.protocol.merkle import leaf_hash
    from transparency.keys import log_keys
    from transparency.services import log_append

    log_keys()  # opened at start-up, as a service process does (keys_open): not measured
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()  # the start signal: process start-up is not measured
    for n in range(offset, offset + count):
        payload = {"n": n, "serial": f"{n:032x}", "provider": "bench"}
        with transaction.atomic():
            if mode == "log":
                log_append(kind="bench", payload=payload)
            else:
                data = entry_encode(kind="bench", payload=payload)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO bench_{mode} (kind, data, leaf_hash) "  # noqa: S608
                        "VALUES (%s, %s, %s)",
                        ["bench", data, leaf_hash(data)],
                    )
    sys.stdout.write("done\n")


def integrator(url: str, period: float) -> None:
    """Sequence and integrate every ``period`` seconds until stdin closes (beat's schedule)."""
    join_django(url)
    import threading

    from transparency.keys import log_keys
    from transparency.services import log_integrate

    log_keys()  # opened at start-up, as a worker does: not in the first checkpoint's delay
    log_integrate()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    stop = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not stop.wait(period):
        log_integrate()
    log_integrate()


# Each entry's merge delay, for the entries from a first id on: the first checkpoint covering
# it (the smallest size above its index), both times PostgreSQL's now() of their transactions.
MERGE_DELAYS = """
SELECT extract(epoch FROM (
    SELECT c.created_at FROM transparency_checkpoint AS c
    WHERE c.size > e."index" ORDER BY c.size LIMIT 1
) - e.created_at)
FROM transparency_entry AS e WHERE e.id >= %s
"""


def run(mode: str, writers: int, appends: int, url: str, offset: int) -> float:
    """Appends per second of ``writers`` processes sharing ``appends`` appends."""
    each = appends // writers
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", mode, str(each), str(offset + w * each), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for process in processes:
        assert process.stdout and process.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for process in processes:
        assert process.stdin
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.communicate()
        assert process.returncode == 0
    return each * writers / (time.perf_counter() - started)


def merge_delays(first_id: int) -> list[float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(MERGE_DELAYS, [first_id])
        delays = [row[0] for row in cursor.fetchall()]
    assert all(d is not None for d in delays), "an entry was left out of every checkpoint"
    return [max(float(d), 0.0) for d in delays]


def next_entry_id() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM transparency_entry")
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,8,32", help="numbers of writers, comma-separated")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--integrator", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, count, offset, url = args.worker
        worker(mode, int(count), int(offset), url)
        return
    if args.integrator:
        integrator(args.integrator[0], PERIOD)
        return

    url = setup_django("rs_bench_append", fresh=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(TABLES)
    print(f"log_append vs plain INSERT, {args.appends} appends per run, one transaction each")
    offset = 0
    for writers in (int(w) for w in args.writers.split(",")):
        rates: dict[str, list[float]] = {"log": [], "plain": [], "bare": []}
        delays: list[float] = []
        for _ in range(args.rounds):
            for mode in rates:  # interleaved, so all see the same machine load
                if mode == "log":
                    first = next_entry_id()
                    sequencer = subprocess.Popen(
                        [sys.executable, __file__, "--integrator", url],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    assert sequencer.stdout and sequencer.stdout.readline().strip() == "ready"
                rates[mode].append(run(mode, writers, args.appends, url, offset))
                offset += args.appends
                if mode == "log":
                    sequencer.communicate()  # stdin closed: a last integration, then it exits
                    assert sequencer.returncode == 0
                    delays += merge_delays(first)
        log, plain, bare = (statistics.median(rates[mode]) for mode in ("log", "plain", "bare"))
        pairs = zip(rates["log"], rates["plain"], strict=True)
        ratios = ", ".join(f"{a / b:.2f}" for a, b in pairs)
        print(
            f"{writers} writer(s): log_append {log:,.0f}/s, plain INSERT {plain:,.0f}/s, "
            f"ratio {log / plain:.2f} (medians of {args.rounds}; per round {ratios}); "
            f"bare INSERT {bare:,.0f}/s, ratio {log / bare:.2f}; "
            f"merge delay p50 {percentile(delays, 0.50) * 1000:,.0f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:,.0f} ms, max {max(delays) * 1000:,.0f} ms "
            f"over {len(delays):,} entries"
        )


if __name__ == "__main__":
    main()
