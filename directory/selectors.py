"""Directory reads."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from directory.models import ApiKey, Provider
from directory.services import api_key_hash

# last_used_at is written at most this often per key: one UPDATE per key per minute, not per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The live key matching ``secret`` (with its provider loaded), or None.

    None for an unknown key, a revoked key, and a key of an inactive provider alike: the
    caller learns nothing about which keys exist. One query, plus one UPDATE of
    ``last_used_at`` at most once a minute per key.
    """
    api_key = (
        ApiKey.objects.select_related("provider")
        .filter(key_hash=api_key_hash(secret), revoked_at__isnull=True, provider__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_list(*, provider: Provider) -> QuerySet[ApiKey]:
    """A provider's keys, newest first, revoked ones included."""
    return provider.api_keys.order_by("-created_at", "-pk")


def api_key_get(*, provider: Provider, prefix: str) -> ApiKey | None:
    """The provider's key with this visible prefix, or None."""
    return provider.api_keys.filter(prefix=prefix).first()
