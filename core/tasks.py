"""Queueing work, and the project-wide periodic tasks.

Work for later is queued with :func:`enqueue_on_commit`, never called directly: a change that
rolls back queues nothing. With a broker the task goes to a worker; without one (the embedded
default) Celery runs it eagerly, still only after the commit. A message that leaves the service
(an SMS) is no task but a row of the outbox (``outbox.services.message_enqueue``), written in
the change's transaction, so that no broker outage or killed process can lose it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from celery import Task, shared_task
from django.core import management
from django.db import transaction

from core.outages import DATABASE_ERRORS, database_outage

logger = structlog.get_logger(__name__)

T = TypeVar("T")


def enqueue_on_commit(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Queue ``task(*args, **kwargs)`` when the current transaction commits (at once if none)."""

    def enqueue() -> None:
        task.apply_async(args=args, kwargs=kwargs)

    # A named function: Django's robust on_commit logs a failing callback by its __qualname__.
    enqueue.__qualname__ = f"enqueue[{task.name}]"
    transaction.on_commit(enqueue, robust=True)


def periodic_task(name: str) -> Callable[[Callable[[], T]], Task[Any, T | None]]:
    """A task that beat runs every so often: a run the database's outage fails is skipped (None),
    the outage logged once by core.outages instead of a traceback per run; the next run of the
    schedule does the work. Its result is not kept."""

    def decorate(run: Callable[[], T]) -> Task[Any, T | None]:
        @functools.wraps(run)
        def outage_skipped() -> T | None:
            try:
                result = run()
            except DATABASE_ERRORS as error:
                database_outage.failed(error)
                return None
            database_outage.answered()
            return result

        task: Task[Any, T | None] = shared_task(name=name, ignore_result=True)(outage_skipped)
        return task

    return decorate


@periodic_task(name="core.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Delete expired admin sessions (Django keeps them until told)."""
    management.call_command("clearsessions")
    logger.info("expired sessions cleared")
