"""CA reads: certificates as the repository serves them, CRLs, and challenge statistics."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db.models import Count, Q

from ca.authority import ca_keys
from ca.choices import ChallengeStatus, DeliveryStatus
from ca.models import Certificate, Challenge, Crl
from directory.models import Provider
from resolution.tnauthlist import TN_AUTH_LIST_OID, covers, decode_tn_auth_list

SERIAL = re.compile(r"[0-9a-f]{32}")


def certificate_get(*, serial: str) -> Certificate | None:
    """The certificate with this serial (32 lowercase hex digits), if any."""
    serial = serial.lower()
    if not SERIAL.fullmatch(serial):
        return None
    return Certificate.objects.select_related("provider").filter(serial=serial).first()


def certificate_x509(certificate: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(certificate.der))


class CertificateNamingError(ValueError):
    """A JWS header names its certificate in a way that cannot be read, or inconsistently."""


def certificate_named(*, kid: object, x5c: object) -> Certificate | None:
    """The certificate a JWS header names: by serial (``kid``), or as ``x5c[0]`` (DER, base64).

    None when it names no certificate this CA issued. Raises CertificateNamingError for a header
    that names none at all, or two different ones.
    """
    if kid is None and x5c is None:
        raise CertificateNamingError(
            "Name the certificate: its serial as 'kid', or the chain as 'x5c'."
        )
    by_serial = by_chain = None
    if kid is not None:
        if not isinstance(kid, str) or not SERIAL.fullmatch(kid):
            raise CertificateNamingError(
                "'kid' must be a certificate serial: 32 lowercase hex digits."
            )
        by_serial = Certificate.objects.select_related("provider").filter(serial=kid).first()
        if by_serial is None:
            return None
    if x5c is not None:
        if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
            raise CertificateNamingError("'x5c' must be a list of base64 DER certificates.")
        try:
            leaf = base64.b64decode(x5c[0], validate=True)
        except (binascii.Error, ValueError):
            raise CertificateNamingError("'x5c' holds a value that is not base64.") from None
        by_chain = (
            Certificate.objects.select_related("provider")
            .filter(certificate_sha256=hashlib.sha256(leaf).digest())
            .first()
        )
        if by_chain is None:
            return None
    if by_serial is not None and by_chain is not None and by_serial.pk != by_chain.pk:
        raise CertificateNamingError("'kid' and 'x5c' name different certificates.")
    return by_serial or by_chain


def certificate_covers(certificate: Certificate, digits: str) -> bool:
    """Whether the certificate's TNAuthList authorises the number (digits, no '+')."""
    extension = certificate_x509(certificate).extensions.get_extension_for_oid(
        x509.ObjectIdentifier(TN_AUTH_LIST_OID)
    )
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    return covers(decode_tn_auth_list(extension.value.value), digits)


def certificate_pem(certificate: Certificate) -> str:
    return certificate_x509(certificate).public_bytes(serialization.Encoding.PEM).decode()


def chain_pems() -> list[str]:
    """The certificates between a number certificate and the root: the issuing CA's."""
    return [ca_keys().issuing_pem.decode()]


def certificate_chain_pem(certificate: Certificate) -> str:
    """What an ``x5u`` URL serves (RFC 8224 §7.3): the certificate, then its issuers."""
    return "".join([certificate_pem(certificate), *chain_pems()])


def challenge_get(*, provider: Provider, challenge_id: uuid.UUID) -> Challenge | None:
    return Challenge.objects.filter(pk=challenge_id, provider=provider).first()


def crl_latest() -> Crl | None:
    return Crl.objects.order_by("-number").first()


@dataclass(frozen=True)
class CountryVolume:
    """Challenges to one country in a period: what an operator watches for SMS pumping."""

    region: str
    calling_code: int
    started: int
    verified: int
    delivery_failed: int

    @property
    def verification_rate(self) -> float:
        return self.verified / self.started if self.started else 0.0


def challenge_volume_by_country(*, since: datetime) -> list[CountryVolume]:
    """Per destination country since ``since``, busiest first: one grouped query."""
    verified = Q(status__in=[ChallengeStatus.VERIFIED, ChallengeStatus.USED])
    failed = Q(delivery_status__in=[DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED])
    rows = (
        Challenge.objects.filter(created_at__gte=since)
        .values("region", "calling_code")
        .annotate(
            started=Count("id"),
            verified=Count("id", filter=verified),
            delivery_failed=Count("id", filter=failed),
        )
        .order_by("-started", "region")
    )
    return [CountryVolume(**row) for row in rows]
