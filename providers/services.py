"""Provider writes: providers and their API keys. Each function is one atomic change.

The commands, the API and the admin all change providers and keys through these functions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from providers.models import ApiKey, Provider, api_key_hash
from providers.selectors import api_key_cache_clear

logger = structlog.get_logger(__name__)

KEY_PREFIX = "rs_"
KEY_BYTES = 32
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8
# last_used_at is written at most this often per key: one UPDATE per key per minute, not per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` is shown once to its owner and never stored."""

    api_key: ApiKey
    secret: str


@transaction.atomic
def provider_create(*, slug: str, name: str, is_active: bool = True) -> Provider:
    """Register a new provider (the slug is checked: a slug, and not taken)."""
    provider = Provider(slug=slug, name=name, is_active=is_active)
    provider.full_clean()
    provider.save()
    logger.info("provider created", provider=slug)
    return provider


@transaction.atomic
def provider_update(*, provider: Provider, name: str, is_active: bool) -> Provider:
    """Rename a provider, or (de)activate it: an inactive provider's keys are refused at once in
    this process, within ``RS_API_KEY_CACHE_SECONDS`` in the others. Its slug never changes:
    certificates and log entries name it."""
    provider.name = name
    provider.is_active = is_active
    provider.full_clean()
    provider.save(update_fields=["name", "is_active"])
    api_key_cache_clear()
    logger.info("provider updated", provider=provider.slug, is_active=is_active)
    return provider


@transaction.atomic
def api_key_create(*, provider: Provider, label: str = "") -> IssuedKey:
    """Create a key for ``provider``: 256 random bits, URL-safe, prefixed ``rs_``."""
    secret = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    api_key = ApiKey.objects.create(
        provider=provider,
        prefix=secret[:VISIBLE_PREFIX_LENGTH],
        key_hash=api_key_hash(secret),
        label=label,
    )
    logger.info("api key created", provider=provider.slug, key_prefix=api_key.prefix)
    return IssuedKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_update(*, api_key: ApiKey, label: str) -> ApiKey:
    """Change a key's label (what its owner uses it for): the one field that can change."""
    api_key.label = label
    api_key.full_clean()
    api_key.save(update_fields=["label"])
    return api_key


@transaction.atomic(durable=True)
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good; revoking twice keeps the first time."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    api_key_cache_clear()  # an UPDATE sends no post_save
    if revoked:
        logger.info("api key revoked", provider=api_key.provider_id, key_prefix=api_key.prefix)
    return api_key


def api_key_used(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Note that ``api_key`` authenticated a request: ``last_used_at``, to the minute.

    At most one UPDATE per key a minute, whichever process sees the key, rather than one per
    call. ``api_key`` may be the instance ``api_key_authenticate`` remembers: it is kept up to
    date, so that the next calls within the minute write nothing.
    """
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    noted = ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION),
        pk=api_key.pk,
    ).update(last_used_at=now)
    if noted:
        api_key.last_used_at = now
    else:  # another process noted it within the minute: its time is the one to count from
        api_key.refresh_from_db(fields=["last_used_at"])
