"""Celery tasks of the log: thin wrappers over services."""

from __future__ import annotations

from core.tasks import periodic_task
from transparency.services import log_integrate as integrate


@periodic_task(name="transparency.tasks.log_integrate")
def log_integrate() -> int | None:
    """Hash new entries into tiles and sign a checkpoint (beat: every second)."""
    checkpoint = integrate()
    return checkpoint.size if checkpoint else None
