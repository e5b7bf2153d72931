"""Appends per second through ``log_append``, against plain INSERTs of the same rows.

    .venv/bin/python bench/log_append.py [--appends 4000] [--rounds 3]

Each append is its own transaction (as in the service: one change, one entry). Writers are
separate processes. The baseline inserts the same rows (same canonical JSON and leaf hash)
into a plain table with a ``bigserial`` key: no lock, no gapless index. Prints medians over
the rounds and the ratio log_append / plain for 1 and 8 writers.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import join_django, setup_django

PLAIN_TABLE = """
CREATE TABLE IF NOT EXISTS bench_plain (
    "index" bigserial PRIMARY KEY, kind varchar(32) NOT NULL, data bytea NOT NULL,
    leaf_hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
)
"""


def worker(mode: str, count: int, offset: int, url: str) -> None:
    join_django(url)
    from django.db import connection, transaction

    from resolution.protocol.entries import entry_encode
    from resolution.protocol.merkle import leaf_hash
    from transparency.services import log_append

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
                        "INSERT INTO bench_plain (kind, data, leaf_hash) VALUES (%s, %s, %s)",
                        ["bench", data, leaf_hash(data)],
                    )
    sys.stdout.write("done\n")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, count, offset, url = args.worker
        worker(mode, int(count), int(offset), url)
        return

    url = setup_django("rs_bench_append", fresh=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(PLAIN_TABLE)
    print(f"log_append vs plain INSERT, {args.appends} appends per run, one transaction each")
    offset = 0
    for writers in (1, 8):
        rates: dict[str, list[float]] = {"log": [], "plain": []}
        for _ in range(args.rounds):
            for mode in ("log", "plain"):  # interleaved, so both see the same machine load
                rates[mode].append(run(mode, writers, args.appends, url, offset))
                offset += args.appends
        log, plain = statistics.median(rates["log"]), statistics.median(rates["plain"])
        print(
            f"{writers} writer(s): log_append {log:,.0f}/s, plain INSERT {plain:,.0f}/s, "
            f"ratio {log / plain:.2f} (medians of {args.rounds})"
        )


if __name__ == "__main__":
    main()
