"""Processes for the concurrency test: ``python -m tests.transparency.writer ID N`` appends N
entries, ``python -m tests.transparency.writer integrate STOPFILE`` integrates until STOPFILE
exists.

A writer appends each entry in its own transaction: every 7th transaction appends and then
rolls back; every 5th waits a while between its append and its commit, so that transactions
begun after it commit first. It prints one JSON list on stdout: for each committed entry, its
number, its entry id and when it committed (``time.time()``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import django

ROLLED_BACK = 3  # n % 7
SLOW = 2  # n % 5
SLOW_SECONDS = 0.1


def write(writer: int, count: int) -> None:
    from django.db import transaction

    from transparency.services import log_append

    committed = []
    for n in range(count):
        try:
            with transaction.atomic():
                appended = log_append(kind="test", payload={"writer": writer, "n": n})
                if n % 7 == ROLLED_BACK:
                    raise RuntimeError("roll back after appending")
                if n % 5 == SLOW:
                    time.sleep(SLOW_SECONDS)  # others begin, append and commit meanwhile
            committed.append({"n": n, "entry": appended.entry_id, "at": time.time()})
        except RuntimeError:
            pass
    print(json.dumps(committed))


def integrate(stop: Path) -> None:
    from transparency.services import log_integrate

    runs = 0
    while not stop.exists():
        if log_integrate() is not None:
            runs += 1
        time.sleep(0.02)
    print(json.dumps({"checkpoints": runs}))


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "integrate":
        integrate(Path(sys.argv[2]))
    else:
        write(int(sys.argv[1]), int(sys.argv[2]))
