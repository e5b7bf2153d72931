"""A log writer process for the concurrency test: ``python -m tests.transparency.writer ID N``.

Appends N entries, each in its own transaction; every 7th transaction appends and then rolls
back. Prints the payload numbers it committed, one JSON list on stdout.
"""

from __future__ import annotations

import json
import sys

import django


def main(writer: int, count: int) -> None:
    django.setup()
    from django.db import transaction

    from transparency.services import log_append

    committed = []
    for n in range(count):
        try:
            with transaction.atomic():
                log_append(kind="test", payload={"writer": writer, "n": n})
                if n % 7 == 3:
                    raise RuntimeError("roll back after appending")
            committed.append(n)
        except RuntimeError:
            pass
    print(json.dumps(committed))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
