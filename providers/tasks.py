"""Tasks of the providers app: thin wrappers over services."""

from __future__ import annotations

from core.tasks import periodic_task
from providers.idempotency import idempotent_requests_prune as prune


@periodic_task(name="providers.tasks.idempotent_requests_prune")
def idempotent_requests_prune() -> int:
    """Forget the answers kept for Idempotency-Key retries once 24 hours old (beat: hourly)."""
    return prune()
