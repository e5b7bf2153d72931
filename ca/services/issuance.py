"""Issuing a number certificate: a verified challenge is spent, the certificate signed and its
issuance logged, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca import authority
from ca.choices import ChallengeStatus, RequestStatus
from ca.csr import csr_public_key
from ca.models import Certificate, CertificateRequest, Challenge
from ca.problems import (
    ChallengeCancelled,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotVerified,
    ChallengeUsed,
)
from ca.services.challenges import challenge_lock
from ca.services.holders import (
    certificate_lock_set,
    locked_holders,
    number_hold,
    public_key_der,
    public_key_sha256,
)
from ca.signals import certificate_issued, certificate_request_closed, certificate_requested
from core.dates import rfc3339
from providers.models import Provider
from resolution.protocol.entries import EntryKind
from transparency.entries import CommittedEntry
from transparency.labels import number_label_keep
from transparency.services import log_append_committed

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: Certificate
    log: CommittedEntry
    renews: Certificate | None = None  # a renewal's certificate renewed
    handlers_carried: int = 0  # the handlers a renewal moved to the new certificate


def challenge_spend(*, provider: Provider, challenge_id: uuid.UUID) -> str:
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
    if challenge.status == ChallengeStatus.CANCELLED:
        raise ChallengeCancelled("This challenge was cancelled: start a new one.")
    if challenge.status != ChallengeStatus.VERIFIED:
        raise ChallengeNotVerified("Answer the challenge with its code first.")
    raise ChallengeExpired("The challenge expired before a certificate was requested.")


def certificate_issue(
    *, provider: Provider, challenge_id: uuid.UUID, csr: str
) -> IssuedCertificate | CertificateRequest:
    """Issue a number certificate for the CSR's key, spending a verified challenge; or, while
    a holder's lock holds the number and no locked holder has this key, hold it back as a
    pending request (DESIGN §7.2, ``ca.services.locks``).

    The certificate names exactly the challenge's number; its log entry (the number's label and
    a commitment to number, provider, serial, hashes and validity, whose opening the server
    keeps) commits with it or not at all.
    """
    public_key = csr_public_key(csr)
    key_sha256 = public_key_sha256(public_key)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        number = challenge_spend(provider=provider, challenge_id=challenge_id)
        number_hold(number)
        label = number_label_keep(number).label
        holders = locked_holders(number, now=now)
        if holders and all(bytes(h.public_key_sha256) != key_sha256 for h in holders):
            return certificate_request_hold(
                provider=provider,
                challenge_id=challenge_id,
                number=number,
                label=label,
                public_key=public_key,
                now=now,
            )
        issued = certificate_sign(
            provider=provider,
            challenge_id=challenge_id,
            number=number,
            label=label,
            public_key=public_key,
            now=now,
        )
    issued_log(issued)
    return issued


def certificate_from_request(
    request: CertificateRequest,
    *,
    status: RequestStatus,
    now: datetime,
    decided_by: Certificate | None = None,
) -> IssuedCertificate:
    """Issue the certificate a pending request held back (its row and the number's lock held
    by the caller's transaction), and close the request with ``status``."""
    public_key = serialization.load_der_public_key(bytes(request.public_key_der))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # a CSR's, checked then
    issued = certificate_sign(
        provider=request.provider,
        challenge_id=request.challenge_id,
        number=request.number,
        label=bytes(request.label),
        public_key=public_key,
        now=now,
    )
    certificate_request_close(
        request, status=status, now=now, decided_by=decided_by, certificate=issued.certificate
    )
    transaction.on_commit(lambda: issued_log(issued))
    return issued


def certificate_sign(
    *,
    provider: Provider,
    challenge_id: uuid.UUID,
    number: str,
    label: bytes,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
) -> IssuedCertificate:
    """Sign and log the certificate, in the caller's transaction (the number's lock held). A
    renewal to the key of a locked certificate for the number carries its lock over."""
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
    entry = log_append_committed(
        kind=EntryKind.CERTIFICATE,
        label=label,
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
        label=label,
        der=signed.der,
        certificate_sha256=signed.certificate_sha256,
        public_key_sha256=signed.public_key_sha256,
        not_before=not_before,
        not_after=not_after,
        log_entry_id=entry.entry_id,
    )
    renewed = any(
        bytes(holder.public_key_sha256) == signed.public_key_sha256
        for holder in locked_holders(number, now=now)
    )
    if renewed:
        certificate_lock_set(certificate=certificate, now=now)
    certificate_issued.send(sender=Certificate, certificate=certificate)
    return IssuedCertificate(certificate=certificate, log=entry)


def issued_log(issued: IssuedCertificate) -> None:
    logger.info(
        "certificate issued",
        serial=issued.certificate.serial,
        provider=issued.certificate.provider.slug,
        log_entry_id=issued.log.entry_id,
        locked=issued.certificate.locked_at is not None,
    )


def certificate_request_hold(
    *,
    provider: Provider,
    challenge_id: uuid.UUID,
    number: str,
    label: bytes,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
) -> CertificateRequest:
    """Hold back a certificate for a locked number (in the issuing transaction, the number's
    lock held): log the request and tell the locked holders."""
    request_id = uuid.uuid4()
    issues_at = now + timedelta(seconds=settings.RS_LOCK_WAIT_SECONDS)
    key_sha256 = public_key_sha256(public_key)
    entry = log_append_committed(
        kind=EntryKind.REQUEST,
        label=label,
        content={
            "number": number,
            "provider": provider.slug,
            "request": str(request_id),
            "public_key_sha256": key_sha256.hex(),
            "requested_at": rfc3339(now),
            "issues_at": rfc3339(issues_at),
        },
    )
    request = CertificateRequest.objects.create(
        id=request_id,
        provider=provider,
        challenge_id=challenge_id,
        number=number,
        label=label,
        public_key_der=public_key_der(public_key),
        public_key_sha256=key_sha256,
        created_at=now,
        issues_at=issues_at,
        log_entry_id=entry.entry_id,
    )
    certificate_requested.send(sender=CertificateRequest, request=request)
    logger.info(
        "certificate request held by a lock", request=str(request_id), log_entry_id=entry.entry_id
    )
    return request


def certificate_request_close(
    request: CertificateRequest,
    *,
    status: RequestStatus,
    now: datetime,
    decided_by: Certificate | None = None,
    certificate: Certificate | None = None,
) -> None:
    """Close a pending request (its row held by the caller): log why, and tell those
    concerned."""
    entry = log_append_committed(
        kind=EntryKind.REQUEST_CLOSED,
        label=bytes(request.label),
        content={"number": request.number, "request": str(request.id), "closed_at": rfc3339(now)},
        reason=status.value,
    )
    request.status = status
    request.closed_at = now
    request.closed_log_entry_id = entry.entry_id
    request.decided_by = decided_by
    request.certificate = certificate
    request.save(
        update_fields=["status", "closed_at", "closed_log_entry", "decided_by", "certificate"]
    )
    certificate_request_closed.send(sender=CertificateRequest, request=request)
    logger.info("certificate request closed", request=str(request.id), status=status.value)
