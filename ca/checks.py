"""System checks of the CA's settings that only a combination of them can get wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

from ca.sms import BACKEND_ALIASES

W002_LEASE_BELOW_SMS_TIMEOUT = "rs.W002"
TWILIO_BACKEND = BACKEND_ALIASES["twilio"]


@register()
def outbox_lease_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when a challenge SMS can outlast the outbox's lease: a dispatcher still waiting for
    Twilio would be overtaken by another, and the SMS sent twice (outbox.services)."""
    if BACKEND_ALIASES.get(settings.SMS_BACKEND, settings.SMS_BACKEND) != TWILIO_BACKEND:
        return []
    lease, timeout = settings.RS_OUTBOX_LEASE_SECONDS, settings.TWILIO_TIMEOUT_SECONDS
    if lease > timeout:
        return []
    return [
        Warning(
            f"RS_OUTBOX_LEASE_SECONDS ({lease:g}) is not above TWILIO_TIMEOUT_SECONDS "
            f"({timeout:g}): a send still waiting for Twilio can be overtaken by a second "
            "dispatcher, and the SMS sent twice.",
            hint="Keep RS_OUTBOX_LEASE_SECONDS a few seconds above TWILIO_TIMEOUT_SECONDS "
            "(defaults: 20 and 10).",
            id=W002_LEASE_BELOW_SMS_TIMEOUT,
        )
    ]
