"""The outbox's tasks: a dispatch, from beat every few seconds and after each commit that
writes a message (it takes no arguments, so the broker never holds a message's payload); and
forgetting old sent and dead messages (beat, hourly)."""

from __future__ import annotations

from core.tasks import periodic_task
from outbox import services


@periodic_task(name="outbox.tasks.outbox_dispatch")
def outbox_dispatch() -> int:
    """Send what is due (outbox.services.outbox_dispatch); how many were sent."""
    return services.outbox_dispatch()[services.SENT]


@periodic_task(name="outbox.tasks.messages_prune")
def messages_prune() -> int:
    """Forget sent and dead messages older than RS_OUTBOX_KEEP_DAYS."""
    return services.messages_prune()
