"""Provider writes: providers and their API keys. Each function is one atomic change.

The commands, the API and the admin all change providers and keys through these functions.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from core.throttling import rate_parse
from providers.choices import Scope
from providers.models import ApiKey, Provider, api_key_hash
from providers.problems import ApiKeyLimitReached, ApiKeyRateLimited, ScopeInsufficient
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
    """Rename a provider, or (de)activate it. Its slug never changes: certificates and log
    entries name it.

    An inactive provider's keys are refused at once in this process, within
    ``RS_API_KEY_CACHE_SECONDS`` in the others; its handlers leave every lookup
    (``directory.selectors.number_lookup``), and its certificates are suspended: PASSporTs they
    sign are ``suspended`` (``ca.passports``) and they authorise no handler change. Nothing is
    removed or revoked, so reactivating it restores all of it as it was.
    """
    provider.name = name
    provider.is_active = is_active
    provider.full_clean()
    provider.save(update_fields=["name", "is_active"])
    api_key_cache_clear()
    logger.info("provider updated", provider=provider.slug, is_active=is_active)
    return provider


@transaction.atomic
def api_key_create(
    *,
    provider: Provider,
    scope: Scope = Scope.ADMIN,
    label: str = "",
    granted_by: ApiKey | None = None,
) -> IssuedKey:
    """Create a key of ``scope`` for ``provider``: 256 random bits, URL-safe, prefixed ``rs_``.

    ``granted_by`` is the key that asks for it (``POST /v1/keys``): only a live admin key of the
    same provider may, it grants no scope it does not include itself, and it may create at most
    ``RS_API_KEY_CREATE_RATE`` keys per period for its provider. None is an operator (commands,
    admin), whose keys are ``admin`` unless said otherwise. Whoever asks, a provider has at most
    ``RS_API_KEY_MAX_PER_PROVIDER`` live keys.
    """
    scope = Scope(scope)
    if granted_by is not None:
        _grant_check(granted_by=granted_by, provider=provider, scope=scope)
    # One creation at a time per provider, so that two cannot both take the last slot. NO KEY
    # UPDATE: a FOR UPDATE lock would also stop the provider's certificates and handlers from
    # being inserted, which every change that names the provider does (core.locks).
    Provider.objects.select_for_update(no_key=True).filter(pk=provider.pk).exists()
    _key_limits_enforce(provider=provider, rate_limited=granted_by is not None)
    secret = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    api_key = ApiKey.objects.create(
        provider=provider,
        prefix=secret[:VISIBLE_PREFIX_LENGTH],
        key_hash=api_key_hash(secret),
        label=label,
        scope=scope,
    )
    logger.info(
        "api key created", provider=provider.slug, key_prefix=api_key.prefix, scope=scope.value
    )
    return IssuedKey(api_key=api_key, secret=secret)


def _grant_check(*, granted_by: ApiKey, provider: Provider, scope: Scope) -> None:
    """Refuse a key that may not create one of ``scope``: only admin keys manage keys, and a
    key never grants more than it has."""
    held = Scope(granted_by.scope)
    live = (
        granted_by.provider_id == provider.pk
        and ApiKey.objects.filter(pk=granted_by.pk, revoked_at__isnull=True).exists()
    )
    if not live or not held.includes(Scope.ADMIN):
        raise ScopeInsufficient(
            "Only a live admin key of the provider creates API keys.",
            required_scope=Scope.ADMIN.value,
        )
    if not held.includes(scope):
        raise ScopeInsufficient(
            f"A key of scope '{held}' cannot grant the scope '{scope}'.", required_scope=scope.value
        )


def _key_limits_enforce(*, provider: Provider, rate_limited: bool) -> None:
    """Refuse a key over the provider's live keys cap, or (``rate_limited``) its creation rate.

    Counted from the keys themselves: the caller holds the provider's row lock.
    """
    live = provider.api_keys.filter(revoked_at__isnull=True).count()
    if live >= settings.RS_API_KEY_MAX_PER_PROVIDER:
        raise ApiKeyLimitReached(
            f"The provider has {live} live API keys, the most it may have "
            f"(RS_API_KEY_MAX_PER_PROVIDER): revoke one first."
        )
    if not rate_limited:
        return
    count, period = rate_parse(settings.RS_API_KEY_CREATE_RATE)
    now = timezone.now()
    recent = provider.api_keys.filter(created_at__gt=now - timedelta(seconds=period))
    window = recent.aggregate(created=Count("pk"), oldest=Min("created_at"))
    if window["created"] >= count:
        retry_after = max(
            1, math.ceil((window["oldest"] + timedelta(seconds=period) - now).total_seconds())
        )
        raise ApiKeyRateLimited(
            f"The provider created {window['created']} API keys in the last {period} s, "
            f"the most it may (RS_API_KEY_CREATE_RATE); retry in {retry_after} s.",
            retry_after=retry_after,
        )


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
