"""Issuing a number certificate: a verified challenge is spent, the certificate signed and its
issuance logged, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca import authority
from ca.choices import ChallengeStatus
from ca.csr import csr_public_key
from ca.models import Certificate, Challenge
from ca.problems import ChallengeExpired, ChallengeFailed, ChallengeNotVerified, ChallengeUsed
from ca.services.challenges import challenge_lock
from core.dates import rfc3339
from providers.models import Provider
from resolution.protocol.entries import EntryKind
from transparency.labels import number_label_keep
from transparency.services import CommittedEntry, log_append_committed

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: Certificate
    log: CommittedEntry


def _challenge_spend(*, provider: Provider, challenge_id: uuid.UUID) -> str:
    """Mark the provider's verified, unexpired challenge used, in one statement; its number.

    The row stays locked until the caller's transaction ends, so it is spent once. When the
    challenge cannot be spent, a second look says why.
    """
    table = Challenge._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, used_at = %s "  # noqa: S608 (a model's own table)
            "WHERE id = %s AND provider_id = %s AND status = %s AND expires_at > %s "
            "RETURNING number",
            [
                *(ChallengeStatus.USED, now),
                *(challenge_id, provider.pk, ChallengeStatus.VERIFIED, now),
            ],
        )
        row = cursor.fetchone()
    if row is not None:
        return str(row[0])
    challenge = challenge_lock(provider=provider, challenge_id=challenge_id)
    if challenge.status == ChallengeStatus.USED:
        raise ChallengeUsed("This challenge has already been used for a certificate.")
    if challenge.status == ChallengeStatus.FAILED:
        raise ChallengeFailed("This challenge ended after too many wrong codes.")
    if challenge.status != ChallengeStatus.VERIFIED:
        raise ChallengeNotVerified("Answer the challenge with its code first.")
    raise ChallengeExpired("The challenge expired before a certificate was requested.")


def certificate_issue(
    *, provider: Provider, challenge_id: uuid.UUID, csr: str
) -> IssuedCertificate:
    """Issue a number certificate for the CSR's key, spending a verified challenge.

    The certificate names exactly the challenge's number; its log entry (the number's label and
    a commitment to number, provider, serial, hashes and validity, whose opening the server
    keeps) commits with it or not at all.
    """
    public_key = csr_public_key(csr)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        number = _challenge_spend(provider=provider, challenge_id=challenge_id)
        serial = authority.serial_generate()
        not_before = now - authority.BACKDATE
        not_after = now + timedelta(days=settings.RS_CERT_LIFETIME_DAYS)
        signed = authority.end_entity_sign(
            public_key=public_key,
            number_digits=number[1:],
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            holder=provider.name,
        )
        label = number_label_keep(number)
        entry = log_append_committed(
            kind=EntryKind.CERTIFICATE,
            label=label.label,
            content={
                "number": number,
                "provider": provider.slug,
                "serial": authority.serial_hex(serial),
                "certificate_sha256": signed.certificate_sha256.hex(),
                "public_key_sha256": signed.public_key_sha256.hex(),
                "not_before": rfc3339(not_before),
                "not_after": rfc3339(not_after),
            },
        )
        certificate = Certificate.objects.create(
            serial=authority.serial_hex(serial),
            provider=provider,
            challenge_id=challenge_id,
            number=number,
            label=label.label,
            der=signed.der,
            certificate_sha256=signed.certificate_sha256,
            public_key_sha256=signed.public_key_sha256,
            not_before=not_before,
            not_after=not_after,
            log_index=entry.index,
        )
    logger.info(
        "certificate issued",
        serial=certificate.serial,
        provider=provider.slug,
        log_index=entry.index,
    )
    return IssuedCertificate(certificate=certificate, log=entry)
