"""CA reads: certificates as the repository serves them, CRLs, and challenge statistics."""

from __future__ import annotations

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

SERIAL = re.compile(r"[0-9a-f]{32}")


def certificate_get(*, serial: str) -> Certificate | None:
    """The certificate with this serial (32 lowercase hex digits), if any."""
    serial = serial.lower()
    if not SERIAL.fullmatch(serial):
        return None
    return Certificate.objects.select_related("provider").filter(serial=serial).first()


def certificate_x509(certificate: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(certificate.der))


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
