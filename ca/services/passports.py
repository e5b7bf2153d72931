"""PASSporT checks for providers: ``ca.passports``' verdict, then the replay record.

A PASSporT that verified is recorded (:class:`ca.models.PassportSeen`); the same one presented
again by the same provider while it could still be accepted is refused as ``replayed``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca.models import PassportSeen
from ca.passports import PassportVerdict, passport_verdict, passport_window
from providers.models import Provider
from resolution.protocol.passport import Passport

logger = structlog.get_logger(__name__)


def passport_seen_record(*, provider: Provider, passport: Passport) -> bool:
    """Record that ``provider`` had ``passport`` verified; False when it was recorded already.

    One ``INSERT … ON CONFLICT DO NOTHING``: of two checks of the same PASSporT at once, exactly
    one records it. Keyed by the SHA-256 of the signed part, ``header.payload``: an ECDSA
    signature can be rewritten into another valid one (s to n - s), so the whole token would let
    a replay through. Kept until the PASSporT is stale anyway, with a freshness of slack for
    clocks.
    """
    digest = hashlib.sha256(passport.jws.signing_input).digest()
    expires_at = datetime.fromtimestamp(passport.iat, UTC) + timedelta(
        seconds=passport_window(passport) + settings.RS_PASSPORT_FRESHNESS_SECONDS
    )
    table = PassportSeen._meta.db_table
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (provider_id, digest, expires_at) "  # noqa: S608
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [provider.pk, digest, expires_at],
        )
        return cursor.fetchone() is not None


def passport_check(*, provider: Provider, token: str, body: bytes | None) -> PassportVerdict:
    """Verify a PASSporT for ``provider`` (and the message ``body`` a msg PASSporT protects).

    Valid means valid by ``ca.passports.passport_verdict`` and not presented by this provider
    before. Only a PASSporT valid in every other way is recorded for the replay check.
    """
    verdict = passport_verdict(token=token, body=body)
    passport = verdict.passport
    if (
        passport is not None
        and verdict.valid
        and not passport_seen_record(provider=provider, passport=passport)
    ):
        verdict = PassportVerdict(
            reasons=("replayed",), passport=passport, certificate=verdict.certificate
        )
    logger.info(
        "passport checked",
        provider=provider.slug,
        valid=verdict.valid,
        reasons=list(verdict.reasons),
        ppt=verdict.passport.ppt if verdict.passport else None,
    )
    return verdict


def passports_seen_prune() -> int:
    """Forget PASSporTs too old to be accepted again anyway; how many were forgotten."""
    deleted, _ = PassportSeen.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
