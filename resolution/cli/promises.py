"""The log's promises ``rs`` holds, checked (``rs monitor``, ``rs log audit``).

Every write ``rs`` makes (register, publish, remove, lock, unlock, revoke, approve, refuse,
dispute, invite) is answered with the log's signed promise
to include its entry within the merge delay; ``rs`` keeps it in the store until it sees the
entry in a signed checkpoint. A promise whose deadline has passed with its entry in no
checkpoint is broken: the signed promise is the evidence, printed whole.

Public API: ``promises_report``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from resolution.cli.output import info
from resolution.client.verify import PinnedService, PromiseReport


def promises_report(pinned: PinnedService) -> tuple[PromiseReport, dict[str, Any]]:
    """Check the promises held for ``pinned``'s service; tell people of each broken one (on
    standard error) and return the report and its JSON summary."""
    report = pinned.promises_check()
    for promise, note in report.broken:
        deadline = datetime.fromtimestamp(promise.deadline_ms / 1000, UTC)
        info(
            f"rs: ALERT: the log broke its promise to include entry {promise.leaf_hash.hex()} "
            f"by {deadline:%Y-%m-%d %H:%M:%S %Z}; the signed promise follows:\n{note}"
        )
    summary = {
        "kept": [{"leaf_hash": p.leaf_hash.hex(), "index": index} for p, index in report.kept],
        "pending": [p.leaf_hash.hex() for p in report.pending],
        "broken": [note for _, note in report.broken],
    }
    return report, summary
