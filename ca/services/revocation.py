"""Revoking a number certificate, by its holder (a JWS made with its key) or by an operator: the
revocation is logged and a CRL listing it is signed, in one transaction."""

from __future__ import annotations

import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.utils import timezone

from ca.choices import DisputeStatus, RevocationReason
from ca.models import Certificate
from ca.problems import CertificateExpired, CertificateRevoked
from ca.selectors import certificate_x509
from ca.services.crls import crl_lock, crl_publish
from ca.services.locks import disputes_close, disputes_hold
from ca.signals import certificate_revoked, certificate_revoking
from core.dates import rfc3339
from core.signed_requests import (
    SignedRequestMalformed,
    SignedRequestMismatch,
    signed_request_parse,
    signed_request_verify,
)
from resolution.protocol.entries import EntryKind
from transparency.services import log_append_committed

logger = structlog.get_logger(__name__)


def certificate_revoke(
    *, certificate: Certificate, reason: RevocationReason, actor: str, note: str = ""
) -> Certificate:
    """Revoke a certificate: log the revocation, then sign a CRL that lists it. Open disputes
    of it close as ``revoked`` (logged), with ``note`` as their resolution.

    ``actor`` says who asked (``holder`` or ``admin:<username>``) for the service's own logs.
    Locks in ``core.locks``'s order: the certificate, its open disputes, the handlers it
    authorised (the directory, on ``certificate_revoking``), then the CRL number.
    """
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        locked = (
            Certificate.objects.select_for_update(of=("self",))  # not the provider's row
            .select_related("provider")
            .get(pk=certificate.pk)
        )
        if locked.revoked_at is not None:
            raise CertificateRevoked(f"Revoked at {rfc3339(locked.revoked_at)}.")
        if locked.not_after <= now:
            raise CertificateExpired("An expired certificate needs no revocation.")
        disputes = disputes_hold(locked)  # CA rows, before the directory's handler rows
        certificate_revoking.send(sender=Certificate, certificate=locked)
        crl_lock()
        entry = log_append_committed(
            kind=EntryKind.REVOCATION,
            label=bytes(locked.label),
            content={
                "number": locked.number,
                "provider": locked.provider.slug,
                "serial": locked.serial,
                "revoked_at": rfc3339(now),
            },
            reason=reason.value,
        )
        locked.revoked_at = now
        locked.revocation_reason = reason.value
        locked.revocation_log_entry_id = entry.entry_id
        locked.save(update_fields=["revoked_at", "revocation_reason", "revocation_log_entry"])
        # The directory removes (and logs the removal of) the handlers it authorised.
        certificate_revoked.send(sender=Certificate, certificate=locked)
        disputes_close(
            disputes,
            certificate=locked,
            status=DisputeStatus.REVOKED,
            operator=actor.removeprefix("admin:"),
            resolution=note,
            now=now,
        )
        crl_publish()
    logger.info(
        "certificate revoked",
        serial=locked.serial,
        reason=reason.value,
        actor=actor,
        log_entry_id=entry.entry_id,
        disputes_closed=len(disputes),
    )
    return locked


def certificate_revoke_signed(*, certificate: Certificate, token: object) -> Certificate:
    """Revoke at the holder's request: a JWS over ``{serial, reason?, iat}`` made with the
    certificate's own key."""
    parsed = signed_request_parse(token)
    kid = parsed.header.get("kid")
    if kid is not None and kid != certificate.serial:
        raise SignedRequestMismatch("The JWS 'kid' names another certificate.")
    public_key = certificate_x509(certificate).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # we only certify P-256 keys
    payload = signed_request_verify(parsed, public_key, now=timezone.now())
    if payload.get("serial") != certificate.serial:
        raise SignedRequestMismatch("The payload's 'serial' is not this certificate's serial.")
    reason = payload.get("reason", RevocationReason.UNSPECIFIED.value)
    if reason not in RevocationReason.values:
        raise SignedRequestMalformed(
            f"'reason' must be one of: {', '.join(RevocationReason.values)}."
        )
    return certificate_revoke(
        certificate=certificate, reason=RevocationReason(reason), actor="holder"
    )
