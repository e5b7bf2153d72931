"""Celery tasks of the webhooks app: thin wrappers over services. (Deliveries themselves are
the outbox's: outbox.tasks.)"""

from __future__ import annotations

from core.tasks import periodic_task
from webhooks.services import deliveries_prune


@periodic_task(name="webhooks.tasks.deliveries_prune")
def deliveries_prune_task() -> int:
    """Forget deliveries older than RS_WEBHOOK_KEEP_DAYS (beat: hourly)."""
    return deliveries_prune()
