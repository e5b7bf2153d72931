"""Celery tasks of the directory: thin wrappers over services."""

from __future__ import annotations

from core.tasks import periodic_task
from directory.services import handler_requests_prune, handler_tile_proofs_keep, handlers_expire


@periodic_task(name="directory.tasks.handlers_expire")
def handlers_expire_task() -> int:
    """Remove, and log the removal of, handlers whose certificate expired (beat: every minute)."""
    return handlers_expire()


@periodic_task(name="directory.tasks.handler_requests_prune")
def handler_requests_prune_task() -> int:
    """Forget the jtis of signed changes too old to be replayed (beat: every ten minutes)."""
    return handler_requests_prune()


@periodic_task(name="directory.tasks.handler_tile_proofs_keep")
def handler_tile_proofs_keep_task() -> int:
    """Keep the in-tile proof hashes of handlers whose log tile is full (beat: every 30 s)."""
    return handler_tile_proofs_keep()
