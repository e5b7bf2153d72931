"""The outbox's tasks: a dispatch, from beat every few seconds and after each commit that
writes a message (it takes no arguments, so the broker never holds a message's payload); and
forgetting old sent and dead messages (beat, hourly)."""

from __future__ import annotations

from celery import shared_task

from outbox import services


@shared_task(name="outbox.tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    """Send what is due (outbox.services.outbox_dispatch); how many were sent."""
    return services.outbox_dispatch()[services.SENT]


@shared_task(name="outbox.tasks.messages_prune", ignore_result=True)
def messages_prune() -> int:
    """Forget sent and dead messages older than RS_OUTBOX_KEEP_DAYS."""
    return services.messages_prune()
