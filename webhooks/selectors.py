"""Webhook reads: a provider's endpoints and their deliveries, and who holds a number."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from django.db.models import Q, QuerySet

from ca.models import Certificate
from providers.models import Provider
from webhooks.models import Delivery, Endpoint

# The deliveries GET /v1/webhooks/{id}/deliveries lists: the most recent.
DELIVERIES_LISTED = 100


def endpoint_list(*, provider: Provider) -> QuerySet[Endpoint]:
    """The provider's endpoints (not the deleted ones), newest first."""
    return Endpoint.objects.filter(provider=provider, deleted_at__isnull=True).order_by(
        "-created_at", "pk"
    )


def endpoint_get(*, provider: Provider, endpoint_id: uuid.UUID) -> Endpoint | None:
    """The provider's endpoint with this id, unless deleted; None for another provider's."""
    return endpoint_list(provider=provider).filter(pk=endpoint_id).first()


def delivery_list(*, endpoint: Endpoint) -> QuerySet[Delivery]:
    """The endpoint's most recent deliveries, newest first, with their events' types."""
    return (
        endpoint.deliveries.select_related("event")
        .defer("event__body")
        .order_by("-created_at", "-pk")[:DELIVERIES_LISTED]
    )


def endpoints_concerned(
    *, number: str, also: Collection[int], at: datetime, holders: bool = True
) -> QuerySet[Endpoint]:
    """The active endpoints of the active providers that hold a valid certificate of ours for
    ``number`` at ``at`` (not revoked, not expired, already valid; unless ``holders`` is
    False), or whose ids are in ``also``; one query."""
    concerned = Q(provider_id__in=list(also))
    if holders:
        holding = Certificate.objects.filter(
            number=number, revoked_at__isnull=True, not_before__lte=at, not_after__gt=at
        ).values("provider_id")
        concerned |= Q(provider_id__in=holding)
    return Endpoint.objects.filter(
        concerned,
        is_active=True,
        deleted_at__isnull=True,
        provider__is_active=True,
    ).order_by("pk")
