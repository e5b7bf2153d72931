"""Renewal: a new certificate for a number whose certificate is still valid, in one call.

The caller proves control of the number again (a fresh SMS challenge, as for any certificate)
and signs the request with the key of the certificate it renews (``renewal``: a JWS over
``resolution.protocol.lock.RENEWAL_FIELDS``). In the transaction that issues the new
certificate, the handlers the old one authorised pass to the new one (each logged again, with
the new certificate and expiry: ``ca.signals.certificate_renewed``, directory's receiver), and so
does its lock. The old certificate stays valid until it expires; it authorises nothing more.

A renewal to another key while another holder's lock holds the number waits as any request
does (``ca.services.issuance``): the holder's answer decides, and nothing is carried over.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from ca.csr import csr_public_key
from ca.models import Certificate, CertificateRequest
from ca.problems import ChallengeNotForNumber
from ca.services.holders import certificate_lock_set, locked_holders, number_hold, public_key_sha256
from ca.services.issuance import (
    IssuedCertificate,
    certificate_request_hold,
    certificate_sign,
    challenge_spend,
    issued_log,
)
from ca.services.locks import certificate_hold, jti_spend, signed_by_holder
from ca.signals import certificate_renewed, certificate_renewing
from core.signed_requests import SignedRequestMismatch
from providers.models import Provider
from resolution.protocol.lock import RENEWAL_FIELDS
from transparency.labels import number_label_keep

logger = structlog.get_logger(__name__)


def certificate_renew(
    *, provider: Provider, challenge_id: uuid.UUID, csr: str, token: object
) -> IssuedCertificate | CertificateRequest:
    """Issue a certificate for the CSR's key, spending the verified challenge, as the renewal
    of the certificate that signed ``token``: its handlers and lock carried over."""
    signed = signed_by_holder(provider=provider, token=token, fields=RENEWAL_FIELDS)
    if signed.payload.get("renews") != signed.certificate.serial:
        raise SignedRequestMismatch("The payload's 'renews' is not the signing certificate.")
    if signed.payload.get("challenge") != str(challenge_id):
        raise SignedRequestMismatch("The payload's 'challenge' is not the request's challenge.")
    public_key = csr_public_key(csr)
    key_sha256 = public_key_sha256(public_key)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(durable=True):
        # core.locks's order: the challenge, the certificate, the number, the jti, the
        # handlers (certificate_renewing), the label, the log.
        number = challenge_spend(provider=provider, challenge_id=challenge_id)
        renewed = certificate_hold(signed.certificate, now=now)
        if renewed.number != number:
            raise ChallengeNotForNumber("The challenge is for another number than the certificate.")
        number_hold(number)
        jti_spend(signed)
        label = number_label_keep(number).label
        holders = locked_holders(number, now=now)
        others_lock = holders and all(
            holder.pk != renewed.pk and bytes(holder.public_key_sha256) != key_sha256
            for holder in holders
        )
        if others_lock:
            return certificate_request_hold(
                provider=provider,
                challenge_id=challenge_id,
                number=number,
                label=label,
                public_key=public_key,
                now=now,
            )
        certificate_renewing.send(sender=Certificate, certificate=renewed)
        issued = certificate_sign(
            provider=provider,
            challenge_id=challenge_id,
            number=number,
            label=label,
            public_key=public_key,
            now=now,
        )
        if renewed.locked_at is not None and issued.certificate.locked_at is None:
            certificate_lock_set(certificate=issued.certificate, now=now)
        moved: list[tuple[Any, Any]] = certificate_renewed.send(
            sender=Certificate, certificate=renewed, renewal=issued.certificate
        )
        carried = sum(count for _, count in moved if isinstance(count, int))
        issued = dataclasses.replace(issued, renews=renewed, handlers_carried=carried)
    issued_log(issued)
    logger.info("certificate renewed", renews=renewed.serial, handlers=carried)
    return issued
