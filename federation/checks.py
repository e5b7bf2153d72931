"""System checks of federation's settings that only a combination of them can get wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

W010_ADVERTISEMENT_RESIGNED_TOO_LATE = "rs.W010"


@register()
def advertisement_ages_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when this service's advertisement is signed so rarely that peers would find it
    stale: it must be signed anew well within the age they accept."""
    resign = settings.RS_ADVERTISEMENT_RESIGN_SECONDS
    max_age = settings.RS_ADVERTISEMENT_MAX_AGE_SECONDS
    if 2 * resign <= max_age:
        return []
    return [
        Warning(
            f"RS_ADVERTISEMENT_RESIGN_SECONDS ({resign}) is more than half of "
            f"RS_ADVERTISEMENT_MAX_AGE_SECONDS ({max_age}): peers may find this service's "
            "advertisement stale between two signatures, and stop believing its ranges.",
            hint="Sign daily and accept for a week (the defaults: 86400 and 604800).",
            id=W010_ADVERTISEMENT_RESIGNED_TOO_LATE,
        )
    ]
