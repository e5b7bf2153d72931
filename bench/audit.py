"""A full audit of a 1,000,000-entry log over HTTP, as an auditor would run it.

    .venv/bin/python bench/audit.py [--size 1000000] [--workers 8] [--server-workers 3]

Uses the log of bench/proofs.py (database ``rs_bench_log``, built once), serves it with
gunicorn on a free local port, and times ``rs log audit`` from a fresh state: every entry
bundle and hash tile downloaded, every entry checked, the root recomputed. Target: <= 60 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import httpx
from common import ROOT, Timer, ensure_log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=8, help="auditor's parallel downloads")
    parser.add_argument("--server-workers", type=int, default=3, help="gunicorn workers")
    args = parser.parse_args()
    url = ensure_log("rs_bench_log", args.size)
    from transparency.keys import log_keys

    verifier = log_keys().note_verifier_key
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "DJANGO_DEBUG": "false", "RS_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.server_workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}/log/"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "checkpoint").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        from resolution.client.audit import audit_log

        with Timer() as timer:
            report = audit_log(base, verifier, workers=args.workers)
        print(
            f"audit of {report.size:,} entries: {timer.seconds:.1f} s "
            f"({report.entries_checked / timer.seconds:,.0f} entries/s, "
            f"{report.tiles_checked:,} tiles checked; {args.workers} client threads, "
            f"{args.server_workers} gunicorn workers; target <= 60 s)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
