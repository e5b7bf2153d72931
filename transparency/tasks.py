"""Celery tasks of the log: thin wrappers over services."""

from __future__ import annotations

from core.tasks import periodic_task
from transparency.services import log_integrate as integrate
from transparency.services import witnesses_submit as submit


@periodic_task(name="transparency.tasks.log_integrate")
def log_integrate() -> int | None:
    """Hash new entries into tiles and sign a checkpoint (beat: every second)."""
    checkpoint = integrate()
    return checkpoint.size if checkpoint else None


@periodic_task(name="transparency.tasks.witnesses_submit")
def witnesses_submit() -> int | None:
    """Submit the newest checkpoint to the witnesses (each new checkpoint, and beat)."""
    return submit()
