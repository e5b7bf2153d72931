"""Provider reads: API keys, by secret (authentication) and by provider."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models import QuerySet

from providers.models import ApiKey, Provider, api_key_hash

# Live keys this process has seen lately, by hash: (monotonic expiry, key with its provider).
# Every API call authenticates, and the lookup would be its most expensive query. A key revoked
# (or a provider deactivated) in another process stops working here within the cache's lifetime.
_recent: dict[bytes, tuple[float, ApiKey]] = {}
_recent_lock = threading.Lock()
RECENT_KEYS_MAX = 10_000


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The live key matching ``secret`` (with its provider loaded), or None.

    None for an unknown key, a revoked key, and a key of an inactive provider alike: the
    caller learns nothing about which keys exist. Live keys are remembered in this process
    for ``RS_API_KEY_CACHE_SECONDS``; otherwise one query. Unknown keys are never remembered:
    each costs its query. Only reads: ``providers.services.api_key_used`` notes the use.
    """
    key_hash = api_key_hash(secret)
    now_monotonic = time.monotonic()
    recent = _recent.get(key_hash)
    if recent is not None and recent[0] > now_monotonic:
        return recent[1]
    api_key = (
        ApiKey.objects.select_related("provider")
        .filter(key_hash=key_hash, revoked_at__isnull=True, provider__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    lifetime = settings.RS_API_KEY_CACHE_SECONDS
    if lifetime > 0:
        with _recent_lock:
            if len(_recent) >= RECENT_KEYS_MAX:
                _recent.clear()
            _recent[key_hash] = (now_monotonic + lifetime, api_key)
    return api_key


def api_key_cache_clear(**_signal: object) -> None:
    """Forget the keys this process remembers (a key or provider changed here)."""
    with _recent_lock:
        _recent.clear()


def api_key_list(*, provider: Provider) -> QuerySet[ApiKey]:
    """A provider's keys, newest first, revoked ones included."""
    return provider.api_keys.order_by("-created_at", "-pk")


def api_key_get(*, provider: Provider, prefix: str) -> ApiKey | None:
    """The provider's key with this visible prefix, or None."""
    return provider.api_keys.filter(prefix=prefix).first()
