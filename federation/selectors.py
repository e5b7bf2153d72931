"""Reads of federation (DESIGN §7.4)."""

from __future__ import annotations

from federation.models import Advertisement


def advertisement_latest() -> Advertisement | None:
    """This service's newest advertisement, if it signed one."""
    return Advertisement.objects.order_by("-issued_at", "-id").first()
