"""The number lock (DESIGN §7.2): a holder locks its number, a certificate for it to another key
then waits for a locked holder's answer (or the end of ``RS_LOCK_WAIT_SECONDS``), and a holder
who finds a foreign certificate disputes it before an operator.

Every change here is signed by a holder: a compact JWS (ES256) made with the key of one of its
own certificates, which the header names by serial (``kid``), over a payload with ``iat`` and
``jti`` (refused a second time: ``SignedRequestSeen``). Each is logged under the number's label,
commitment only, in the transaction of the change.

The payloads are ``resolution.protocol.lock``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ca.choices import DisputeStatus, RequestStatus
from ca.models import Certificate, CertificateRequest, Dispute, SignedRequestSeen
from ca.problems import (
    CertificateExpired,
    CertificateNotForNumber,
    CertificateNotFound,
    CertificateRequestClosed,
    CertificateRequestNotFound,
    CertificateRevoked,
    ChallengeNotForNumber,
    DisputeAlreadyOpen,
    DisputeClosed,
    DisputeInvalid,
    HolderNotLocked,
)
from ca.selectors import certificate_get, certificate_x509
from ca.services.holders import certificate_lock_set, locked_holders, number_hold
from ca.services.issuance import (
    certificate_from_request,
    certificate_request_close,
    challenge_spend,
)
from ca.signals import dispute_closed, dispute_opened
from core.dates import rfc3339
from core.signed_requests import (
    JTI,
    MAX_CLOCK_SKEW,
    SignedRequestMalformed,
    SignedRequestMismatch,
    SignedRequestReplayed,
    signed_request_parse,
    signed_request_verify,
)
from providers.models import Provider
from resolution.protocol.entries import EntryKind
from resolution.protocol.lock import (
    DECISION_FIELDS,
    DISPUTE_FIELDS,
    LOCK_FIELDS,
    STATEMENT_LENGTH,
)
from transparency.entries import AppendedEntry
from transparency.services import log_append_committed

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SignedByHolder:
    """A holder's signed request, checked up to what needs no lock."""

    certificate: Certificate
    payload: dict[str, Any]
    jti: str
    issued_at: datetime


def signed_by_holder(
    *, provider: Provider, token: object, fields: frozenset[str], serial: str | None = None
) -> SignedByHolder:
    """Check a JWS made with the key of one of ``provider``'s certificates: the one its header
    names (``kid``), which must be ``serial`` when the URL names one. Nothing is locked or
    changed; the certificate's validity is checked again under its lock."""
    parsed = signed_request_parse(token)
    kid = parsed.header.get("kid", serial)
    if not isinstance(kid, str) or not kid:
        raise SignedRequestMalformed(
            "Name the signing certificate by serial in the header's 'kid'."
        )
    if serial is not None and kid != serial:
        raise SignedRequestMismatch("The JWS 'kid' names another certificate.")
    certificate = certificate_get(provider=provider, serial=kid)
    if certificate is None:
        raise CertificateNotFound("The calling provider has no certificate with this serial.")
    public_key = certificate_x509(certificate).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # we only certify P-256 keys
    payload = signed_request_verify(parsed, public_key, now=timezone.now())
    unknown = sorted(set(payload) - fields)
    if unknown:
        raise SignedRequestMismatch(f"Unknown payload fields: {', '.join(unknown)}.")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        raise SignedRequestMalformed("'jti' must be 8 to 128 printable ASCII characters.")
    issued_at = datetime.fromtimestamp(payload["iat"], tz=UTC)
    return SignedByHolder(certificate=certificate, payload=payload, jti=jti, issued_at=issued_at)


def certificate_hold(certificate: Certificate, *, now: datetime) -> Certificate:
    """Lock a certificate's row until the caller's transaction ends; refuse one no longer valid
    (a revocation or expiry that came after the JWS was checked is seen here)."""
    held = (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("provider")
        .get(pk=certificate.pk)
    )
    if held.revoked_at is not None:
        raise CertificateRevoked(f"The certificate was revoked at {rfc3339(held.revoked_at)}.")
    if held.not_after <= now:
        raise CertificateExpired("The certificate has expired.")
    return held


def jti_spend(signed: SignedByHolder) -> None:
    """Record the jti in the caller's transaction; refuse one seen before."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SignedRequestSeen._meta.db_table} (certificate_id, jti, expires_at) "  # noqa: S608
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [signed.certificate.pk, signed.jti, signed.issued_at + MAX_CLOCK_SKEW],
        )
        if cursor.fetchone() is None:
            raise SignedRequestReplayed("This 'jti' was already used with this certificate.")


def signed_requests_prune() -> int:
    """Forget the jtis whose iat is too old to be accepted again anyway; how many."""
    deleted, _ = SignedRequestSeen.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


# --- Lock and unlock ---------------------------------------------------------------------------


def number_lock(*, provider: Provider, serial: str, token: object) -> Certificate:
    """Lock the certificate's number: until the certificate ends, no certificate for it to
    another key is issued without this holder's answer or the wait. Locking a locked
    certificate changes nothing."""
    signed = signed_by_holder(provider=provider, token=token, fields=LOCK_FIELDS, serial=serial)
    if signed.payload.get("serial") != serial:
        raise SignedRequestMismatch("The payload's 'serial' is not this certificate's serial.")
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        certificate = certificate_hold(signed.certificate, now=now)
        number_hold(certificate.number)
        jti_spend(signed)
        if certificate.locked_at is None:
            certificate_lock_set(certificate=certificate, now=now)
            logger.info("number locked", serial=serial, provider=provider.slug)
    return certificate


def number_unlock(
    *, provider: Provider, serial: str, token: object
) -> tuple[Certificate, AppendedEntry | None]:
    """Lift the certificate's lock: the certificate, and the unlock's log entry (None when it
    was not locked: nothing changed). Requests it held back are issued once no lock holds
    (``certificate_requests_settle``)."""
    signed = signed_by_holder(provider=provider, token=token, fields=LOCK_FIELDS, serial=serial)
    if signed.payload.get("serial") != serial:
        raise SignedRequestMismatch("The payload's 'serial' is not this certificate's serial.")
    now = timezone.now().replace(microsecond=0)
    entry = None
    with transaction.atomic(durable=True):
        certificate = certificate_hold(signed.certificate, now=now)
        number_hold(certificate.number)
        jti_spend(signed)
        if certificate.locked_at is not None:
            entry = log_append_committed(
                kind=EntryKind.UNLOCK,
                label=bytes(certificate.label),
                content={
                    "number": certificate.number,
                    "provider": certificate.provider.slug,
                    "serial": certificate.serial,
                    "unlocked_at": rfc3339(now),
                },
            )
            certificate.locked_at = None
            certificate.lock_log_entry = None
            certificate.save(update_fields=["locked_at", "lock_log_entry"])
            logger.info("number unlocked", serial=serial, provider=provider.slug)
    return certificate, entry


# --- Requests held back by a lock ---------------------------------------------------------------


def _request_hold(request_id: uuid.UUID) -> CertificateRequest:
    request = (
        CertificateRequest.objects.select_for_update(of=("self",))
        .select_related("provider")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise CertificateRequestNotFound("No certificate request has this id.")
    if request.status != RequestStatus.PENDING:
        raise CertificateRequestClosed(f"The request was {request.status} already.")
    return request


def _decision_check(signed: SignedByHolder, request_id: uuid.UUID) -> None:
    if signed.payload.get("request") != str(request_id):
        raise SignedRequestMismatch("The payload's 'request' is not this request's id.")


def _decider_hold(
    signed: SignedByHolder, request: CertificateRequest, *, now: datetime
) -> Certificate:
    holder = certificate_hold(signed.certificate, now=now)
    if holder.number != request.number:
        raise CertificateNotForNumber("The signing certificate is for another number.")
    number_hold(holder.number)
    if holder.locked_at is None:
        raise HolderNotLocked("Only a holder whose lock holds answers a request.")
    return holder


def certificate_request_approve(
    *, provider: Provider, request_id: uuid.UUID, token: object
) -> CertificateRequest:
    """A locked holder approves a request (a second app of its own): it is issued at once."""
    signed = signed_by_holder(provider=provider, token=token, fields=DECISION_FIELDS)
    _decision_check(signed, request_id)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        request = _request_hold(request_id)
        holder = _decider_hold(signed, request, now=now)
        jti_spend(signed)
        certificate_from_request(request, status=RequestStatus.APPROVED, now=now, decided_by=holder)
    return request


def certificate_request_refuse(
    *, provider: Provider, request_id: uuid.UUID, token: object
) -> CertificateRequest:
    """A locked holder refuses a request: it ends, never issued. No SMS is asked for: the SMS
    is what an intruder may hold."""
    signed = signed_by_holder(provider=provider, token=token, fields=DECISION_FIELDS)
    _decision_check(signed, request_id)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        request = _request_hold(request_id)
        holder = _decider_hold(signed, request, now=now)
        jti_spend(signed)
        certificate_request_close(request, status=RequestStatus.REFUSED, now=now, decided_by=holder)
    return request


def certificate_requests_settle(*, limit: int = 100) -> int:
    """Issue the pending requests whose wait is over, or that no lock holds back any more (the
    locks were lifted, or their certificates ended); how many. Each in its own transaction,
    skipping one another process is settling."""
    now = timezone.now().replace(microsecond=0)
    settled = 0
    for request_id in _requests_to_settle(now=now, limit=limit):
        with transaction.atomic(durable=True):
            request = (
                CertificateRequest.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("provider")
                .filter(pk=request_id, status=RequestStatus.PENDING)
                .first()
            )
            if request is None:
                continue
            number_hold(request.number)
            if request.issues_at <= now:
                status = RequestStatus.WAITED
            elif not locked_holders(request.number, now=now):
                status = RequestStatus.UNLOCKED
            else:
                continue
            certificate_from_request(request, status=status, now=now)
            settled += 1
    return settled


def _requests_to_settle(*, now: datetime, limit: int) -> Iterable[uuid.UUID]:
    held = Certificate.objects.filter(
        number=OuterRef("number"),
        locked_at__isnull=False,
        revoked_at__isnull=True,
        not_before__lte=now,
        not_after__gt=now,
    )
    return list(
        CertificateRequest.objects.filter(status=RequestStatus.PENDING)
        .filter(Q(issues_at__lte=now) | ~Exists(held))
        .order_by("issues_at")
        .values_list("id", flat=True)[:limit]
    )


# --- Disputes -----------------------------------------------------------------------------------


def dispute_open(*, provider: Provider, token: object) -> Dispute:
    """A holder disputes a foreign certificate for its number: a JWS made with its own
    certificate's key, and a fresh SMS challenge for the number that it verified (spent
    here). The dispute goes on the operator's queue; the foreign certificate stays valid
    until an operator revokes it."""
    signed = signed_by_holder(provider=provider, token=token, fields=DISPUTE_FIELDS)
    payload = signed.payload
    disputed_serial = payload.get("disputed")
    if not isinstance(disputed_serial, str) or not disputed_serial:
        raise SignedRequestMalformed("'disputed' must be the serial of the disputed certificate.")
    try:
        challenge_id = uuid.UUID(str(payload.get("challenge")))
    except ValueError:
        raise SignedRequestMalformed(
            "'challenge' must be the id of a verified challenge."
        ) from None
    statement = payload.get("statement", "")
    if not isinstance(statement, str) or len(statement) > STATEMENT_LENGTH:
        raise SignedRequestMalformed(
            f"'statement' is text of at most {STATEMENT_LENGTH} characters."
        )
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        number = challenge_spend(provider=provider, challenge_id=challenge_id)
        disputer = certificate_hold(signed.certificate, now=now)
        if number != disputer.number:
            raise ChallengeNotForNumber("The challenge is for another number than the certificate.")
        disputed = (
            Certificate.objects.select_for_update(of=("self",))
            .select_related("provider")
            .filter(serial=disputed_serial, number=disputer.number)
            .first()
        )
        if disputed is None:
            # Only certificates for the holder's own number can be named: others are not found.
            raise CertificateNotFound("No certificate for this number has this serial.")
        if disputed.status != "valid":
            raise DisputeInvalid(f"The disputed certificate is {disputed.status} already.")
        if bytes(disputed.public_key_sha256) == bytes(disputer.public_key_sha256):
            raise DisputeInvalid("The disputed certificate is for the holder's own key.")
        if Dispute.objects.filter(disputed=disputed, status=DisputeStatus.OPEN).exists():
            raise DisputeAlreadyOpen("This certificate is already on the operator's queue.")
        number_hold(number)
        jti_spend(signed)
        dispute_id = uuid.uuid4()
        entry = log_append_committed(
            kind=EntryKind.DISPUTE,
            label=bytes(disputer.label),
            content={
                "number": number,
                "provider": provider.slug,
                "serial": disputer.serial,
                "disputed": disputed.serial,
                "dispute": str(dispute_id),
                "opened_at": rfc3339(now),
            },
        )
        dispute = Dispute.objects.create(
            id=dispute_id,
            number=number,
            disputed=disputed,
            disputer=disputer,
            challenge_id=challenge_id,
            statement=statement,
            opened_at=now,
            log_entry_id=entry.entry_id,
        )
        dispute_opened.send(sender=Dispute, dispute=dispute)
    logger.info("certificate disputed", dispute=str(dispute.id), disputed=disputed.serial)
    return dispute


def disputes_hold(certificate: Certificate) -> list[Dispute]:
    """Lock the open disputes of ``certificate`` (core.locks' order)."""
    return list(
        Dispute.objects.select_for_update(of=("self",)).filter(
            disputed=certificate, status=DisputeStatus.OPEN
        )
    )


def disputes_close(
    disputes: list[Dispute],
    *,
    certificate: Certificate,
    status: DisputeStatus,
    operator: str,
    resolution: str,
    now: datetime,
) -> None:
    """Close held open disputes of ``certificate``, in the caller's transaction: log each, and
    tell the holders."""
    for dispute in disputes:
        entry = log_append_committed(
            kind=EntryKind.DISPUTE_CLOSED,
            label=bytes(certificate.label),
            content={
                "number": dispute.number,
                "dispute": str(dispute.id),
                "disputed": certificate.serial,
                "closed_at": rfc3339(now),
            },
            reason=status.value,
        )
        dispute.status = status
        dispute.closed_at = now
        dispute.closed_by = operator
        dispute.resolution = resolution
        dispute.closed_log_entry_id = entry.entry_id
        dispute.save(
            update_fields=["status", "closed_at", "closed_by", "resolution", "closed_log_entry"]
        )
        dispute_closed.send(sender=Dispute, dispute=dispute)


def dispute_dismiss(*, dispute: Dispute, operator: str, resolution: str) -> Dispute:
    """An operator dismisses a dispute: the certificate stays valid; logged and told."""
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        held = Dispute.objects.select_for_update(of=("self",)).get(pk=dispute.pk)
        if held.status != DisputeStatus.OPEN:
            raise DisputeClosed(f"The dispute was closed ({held.status}) already.")
        certificate = Certificate.objects.select_related("provider").get(pk=held.disputed_id)
        disputes_close(
            [held],
            certificate=certificate,
            status=DisputeStatus.DISMISSED,
            operator=operator,
            resolution=resolution,
            now=now,
        )
    logger.info("dispute dismissed", dispute=str(dispute.id), actor=f"admin:{operator}")
    return Dispute.objects.get(pk=dispute.pk)
