"""Directory reads: API keys, and number lookups with their proofs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from directory.models import ApiKey, Handler, Provider, api_key_hash
from transparency.labels import NumberLabel, number_label
from transparency.models import Entry
from transparency.selectors import inclusion_proofs, signed_head

# last_used_at is written at most this often per key: one UPDATE per key per minute, not per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    for ``RS_API_KEY_CACHE_SECONDS``; otherwise one query, plus one UPDATE of ``last_used_at``
    at most once a minute per key. Unknown keys are never remembered: each costs its query.
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
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
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


# --- Lookups ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlerAnswer:
    """A handler as a lookup shows it, with what a caller needs to check it against the log."""

    handler: Handler
    provider_slug: str
    certificate_serial: str
    entry: bytes
    inclusion_proof: list[bytes] | None  # None: not yet in the checkpoint (pending)


@dataclass(frozen=True)
class LookupAnswer:
    number: str
    label: NumberLabel
    checkpoint: str | None
    handlers: list[HandlerAnswer]


def number_lookup(*, caller: Provider, number: str, service: str | None) -> LookupAnswer:
    """The handlers of ``number`` the caller may see, each provable against the checkpoint.

    A handler hidden from the caller is left out exactly as if it did not exist. Expired
    handlers (their certificate's notAfter) and those of revoked certificates never appear.
    At most five queries whatever the number of handlers: label, handlers with their entries,
    tiles (2), checkpoint (usually cached).
    """
    label = number_label(number)
    head = signed_head()
    rows = list(
        Handler.objects.filter(
            Q(visible_to__isnull=True) | Q(visible_to__contains=[caller.slug]) | Q(provider=caller),
            number=number,
            expires_at__gt=timezone.now(),
            certificate__revoked_at__isnull=True,
            **({"service": service} if service else {}),
        )
        .select_related("provider", "certificate")
        .only(
            *("number", "service", "uri", "priority", "expires_at", "opening", "log_index"),
            *("provider__slug", "certificate__serial"),
        )
        .annotate(entry=Subquery(Entry.objects.filter(index=OuterRef("log_index")).values("data")))
        .order_by("service", "priority", "provider__slug")
    )
    proofs: dict[int, list[bytes]] = {}
    if head is not None:
        proofs = inclusion_proofs(
            indices=[row.log_index for row in rows if row.log_index < head.size], head=head
        )
    return LookupAnswer(
        number=number,
        label=label,
        checkpoint=head.note if head else None,
        handlers=[
            HandlerAnswer(
                handler=row,
                provider_slug=row.provider.slug,
                certificate_serial=row.certificate.serial,
                entry=bytes(row.entry),
                inclusion_proof=proofs.get(row.log_index),
            )
            for row in rows
        ],
    )
