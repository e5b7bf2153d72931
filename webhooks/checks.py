"""System checks of the webhooks' settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

W030_LEASE_BELOW_WEBHOOK_TIMEOUT = "rs.W030"
E031_RETRY_SCHEDULE = "rs.E031"


@register()
def webhook_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when a delivery can outlast the outbox's lease: a second dispatcher would send it
    again while the first still waits (outbox.services). The schedule needs a delay."""
    messages: list[CheckMessage] = []
    lease, timeout = settings.RS_OUTBOX_LEASE_SECONDS, settings.RS_WEBHOOK_TIMEOUT_SECONDS
    if timeout >= lease:
        messages.append(
            Warning(
                f"RS_WEBHOOK_TIMEOUT_SECONDS ({timeout:g}) is not below RS_OUTBOX_LEASE_SECONDS "
                f"({lease:g}): a delivery still waiting for a slow endpoint can be overtaken by a "
                "second dispatcher, and the webhook sent twice.",
                hint="Keep the timeout a few seconds below the lease (defaults: 10 and 20).",
                id=W030_LEASE_BELOW_WEBHOOK_TIMEOUT,
            )
        )
    schedule = settings.RS_WEBHOOK_RETRY_SCHEDULE
    if not schedule or any(delay <= 0 for delay in schedule):
        messages.append(
            Error(
                "RS_WEBHOOK_RETRY_SCHEDULE must list at least one delay, each above 0 s.",
                id=E031_RETRY_SCHEDULE,
            )
        )
    return messages
