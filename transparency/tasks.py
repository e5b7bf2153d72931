"""Celery tasks of the log: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task

from transparency.services import log_integrate as integrate


@shared_task(name="transparency.tasks.log_integrate", ignore_result=True)
def log_integrate() -> int | None:
    """Hash new entries into tiles and sign a checkpoint (beat: every second)."""
    checkpoint = integrate()
    return checkpoint.size if checkpoint else None
