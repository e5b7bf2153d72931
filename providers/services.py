"""Provider writes: providers and their API keys. Each function is one atomic change."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import structlog
from django.db import transaction
from django.utils import timezone

from providers.models import ApiKey, Provider, api_key_hash
from providers.selectors import api_key_cache_clear

logger = structlog.get_logger(__name__)

KEY_PREFIX = "rs_"
KEY_BYTES = 32
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` is shown once to its owner and never stored."""

    api_key: ApiKey
    secret: str


@transaction.atomic
def provider_create(*, slug: str, name: str) -> Provider:
    """Register a new provider."""
    provider = Provider(slug=slug, name=name)
    provider.full_clean()
    provider.save()
    logger.info("provider created", provider=slug)
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
