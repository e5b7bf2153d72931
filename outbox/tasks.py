"""The outbox's task: a dispatch, from beat every few seconds and after each commit that
writes a message. It takes no arguments, so the broker never holds a message's payload."""

from __future__ import annotations

from celery import shared_task

from outbox import services


@shared_task(name="outbox.tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    """Send what is due (outbox.services.outbox_dispatch); how many were sent."""
    return services.outbox_dispatch()[services.SENT]
