"""Queueing work, and the project-wide periodic tasks.

Work for later is queued with :func:`enqueue_on_commit`, never called directly: a change that
rolls back queues nothing. With a broker the task goes to a worker; without one (the embedded
default) Celery runs it eagerly, still only after the commit. A message that leaves the service
(an SMS) is no task but a row of the outbox (``outbox.services.message_enqueue``), written in
the change's transaction, so that no broker outage or killed process can lose it.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task, shared_task
from django.core import management
from django.db import transaction

logger = structlog.get_logger(__name__)


def enqueue_on_commit(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Queue ``task(*args, **kwargs)`` when the current transaction commits (at once if none)."""

    def enqueue() -> None:
        task.apply_async(args=args, kwargs=kwargs)

    # A named function: Django's robust on_commit logs a failing callback by its __qualname__.
    enqueue.__qualname__ = f"enqueue[{task.name}]"
    transaction.on_commit(enqueue, robust=True)


@shared_task(name="core.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Delete expired admin sessions (Django keeps them until told)."""
    management.call_command("clearsessions")
    logger.info("expired sessions cleared")
