"""CA reads: certificates as the repository serves them, CRLs, and challenge statistics."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from ca.authority import ca_keys
from ca.choices import ChallengeStatus, DeliveryStatus, DisputeStatus
from ca.models import (
    REPOSITORY_ID,
    Certificate,
    CertificateRequest,
    Challenge,
    Crl,
    Dispute,
    ExternalCertificate,
    ExternalCrl,
)
from ca.trust import trusted_root_of, trusted_roots
from providers.models import Provider
from resolution.protocol.certificates import (
    CertificateError,
    certificate_chain_verify,
    crl_check,
    tn_auth_list_covers,
)
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, covers, decode_tn_auth_list

SERIAL = re.compile(r"[0-9a-f]{32}")
# The CA keys whose CRL signatures cryptography can check.
CRL_SIGNING_KEYS = (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)


def certificate_get(*, provider: Provider, serial: str) -> Certificate | None:
    """The provider's own certificate with this serial (32 hex digits), if any.

    Another provider's certificate is None, as an unknown serial is: a serial (the CRL lists
    them) must not tell anyone but its provider that it exists, nor open anything.
    """
    serial = serial.lower()
    if not SERIAL.fullmatch(serial):
        return None
    return (
        Certificate.objects.select_related("provider")
        .filter(serial=serial, provider=provider)
        .first()
    )


def certificate_in_repository(*, repository_id: str) -> Certificate | None:
    """The certificate the public repository serves under this id (``Certificate.x5u``), if any.

    A serial is not an id: ``/ca/certs/<serial>.pem`` finds nothing, like any unknown id.
    """
    if not REPOSITORY_ID.fullmatch(repository_id):
        return None
    return Certificate.objects.filter(repository_id=repository_id).first()


def certificate_x509(certificate: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(certificate.der))


class CertificateNamingError(ValueError):
    """A JWS header names its certificate in a way that cannot be read, or inconsistently."""


def certificate_named(*, kid: object, x5c: object, provider: Provider) -> Certificate | None:
    """The provider's certificate a JWS header names: by serial (``kid``), or as ``x5c[0]``.

    None when it names no certificate this CA issued to ``provider``: another provider's is
    answered as an unknown one is, before any signature is checked, so that a serial (the CRL
    lists them) tells no one but its provider whether it exists. Raises CertificateNamingError
    for a header that names none at all, or two different ones.
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
        by_serial = (
            Certificate.objects.select_related("provider")
            .filter(serial=kid, provider=provider)
            .first()
        )
        if by_serial is None:
            return None
    if x5c is not None:
        leaf = _x5c_ders(x5c)[0]
        by_chain = (
            Certificate.objects.select_related("provider")
            .filter(certificate_sha256=hashlib.sha256(leaf).digest(), provider=provider)
            .first()
        )
        if by_chain is None:
            return None
    if by_serial is not None and by_chain is not None and by_serial.pk != by_chain.pk:
        raise CertificateNamingError("'kid' and 'x5c' name different certificates.")
    return by_serial or by_chain


MAX_X5C = 4  # a number certificate, its issuing CA, maybe one more, and a root sent anyway


def _x5c_ders(x5c: object) -> list[bytes]:
    if (
        not isinstance(x5c, list)
        or not 1 <= len(x5c) <= MAX_X5C
        or not all(isinstance(c, str) for c in x5c)
    ):
        raise CertificateNamingError(
            f"'x5c' must be a list of 1 to {MAX_X5C} base64 DER certificates."
        )
    try:
        return [base64.b64decode(value, validate=True) for value in x5c]
    except (binascii.Error, ValueError):
        raise CertificateNamingError("'x5c' holds a value that is not base64.") from None


def x5c_certificates(x5c: object) -> list[x509.Certificate]:
    """The certificates of a JWS ``x5c`` header (RFC 7515 §4.1.6), leaf first."""
    try:
        return [x509.load_der_x509_certificate(der) for der in _x5c_ders(x5c)]
    except ValueError:
        raise CertificateNamingError("'x5c' holds a value that is not a DER certificate.") from None


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


_VERIFIED = Q(status__in=[ChallengeStatus.VERIFIED, ChallengeStatus.USED])
_DELIVERY_FAILED = Q(delivery_status__in=[DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED])


def challenge_volume_by_country(*, since: datetime) -> list[CountryVolume]:
    """Per destination country since ``since``, busiest first: one grouped query."""
    rows = (
        Challenge.objects.filter(created_at__gte=since)
        .values("region", "calling_code")
        .annotate(
            started=Count("id"),
            verified=Count("id", filter=_VERIFIED),
            delivery_failed=Count("id", filter=_DELIVERY_FAILED),
        )
        .order_by("-started", "region")
    )
    return [CountryVolume(**row) for row in rows]


@dataclass(frozen=True)
class HourVolume:
    """Challenges started in one hour, how many of them were verified, and failed deliveries."""

    hour: datetime
    started: int
    verified: int
    delivery_failed: int


def challenge_volume_by_hour(*, since: datetime) -> list[HourVolume]:
    """Per hour (UTC) since ``since``, oldest first: one grouped query on the time index."""
    rows = (
        Challenge.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(
            started=Count("id"),
            verified=Count("id", filter=_VERIFIED),
            delivery_failed=Count("id", filter=_DELIVERY_FAILED),
        )
        .order_by("hour")
    )
    return [HourVolume(**row) for row in rows]


@dataclass(frozen=True)
class DeliveryError:
    """One reason SMS providers gave for failed deliveries, and how often."""

    error: str
    challenges: int


def delivery_errors(*, since: datetime, limit: int = 10) -> list[DeliveryError]:
    """The commonest delivery errors of challenges started since ``since``: one query."""
    rows = (
        Challenge.objects.filter(_DELIVERY_FAILED, created_at__gte=since)
        .values("delivery_error")
        .annotate(challenges=Count("id"))
        .order_by("-challenges", "delivery_error")[:limit]
    )
    return [
        DeliveryError(row["delivery_error"] or "(none given)", row["challenges"]) for row in rows
    ]


# --- Certificates issued under other trusted roots (ca.trust) -------------------------------


class ExternalCertificateError(ValueError):
    """A certificate from ``x5c`` that is not ours cannot authorise the change; ``reason`` says why.

    Reasons: ``unknown`` (no path to a trusted root), ``provider`` (the root does not speak
    for the caller), ``not-valid`` (expired, not yet valid, revoked, or its revocation status
    unknown), ``number`` (its TNAuthList does not name the number).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def ca_key_sha256(certificate: x509.Certificate) -> bytes:
    """How a CA is named in ``ExternalCertificate`` and ``ExternalCrl``: the SHA-256 of its
    public key (SubjectPublicKeyInfo DER). Not its name: CAs under different roots may share
    one, and a CRL is the word of the key that signed it, about what that key issued."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def external_crl_of(issuer: x509.Certificate) -> x509.CertificateRevocationList | None:
    """The newest kept CRL that ``issuer``'s key signed, if any.

    Either one verified with that key when it was fetched, or one kept unverified (fetched
    before any certificate of this CA was used) whose name is ``issuer``'s and whose signature
    its key verifies. A CRL of another CA that merely gives the same name is never it.
    """
    key = ca_key_sha256(issuer)
    kept = ExternalCrl.objects.filter(
        Q(issuer_key_sha256=key) | Q(issuer_key_sha256__isnull=True)
    ).order_by("-this_update")
    for row in kept:
        crl = x509.load_der_x509_crl(bytes(row.der))
        if crl.issuer != issuer.subject:  # the same key under another name: not this CA's
            continue
        if row.issuer_key_sha256 is not None or crl_signed_by(crl, issuer):
            return crl
    return None


def crl_signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    """Whether ``crl`` names ``ca`` as its issuer and ``ca``'s key signed it (RFC 5280 §6.3.3:
    a key that may sign CRLs)."""
    if crl.issuer != ca.subject:
        return False
    try:
        key_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.crl_sign:
        return False
    key = ca.public_key()
    return isinstance(key, CRL_SIGNING_KEYS) and crl.is_signature_valid(key)


def external_certificate_verify(
    *, chain: list[x509.Certificate], provider_slug: str, number: str, at: datetime
) -> ExternalCertificate:
    """Check a presented chain (leaf first) under the trusted roots; the leaf as a row to keep.

    The row is the one already kept for this certificate, or a new unsaved one: the caller
    keeps it in its own transaction (``ca.services.external.external_certificate_hold``).
    """
    leaf, intermediates = chain[0], chain[1:]
    roots = [root.certificate for root in trusted_roots()]
    try:
        path = certificate_chain_verify(leaf, intermediates, roots, at=at) if roots else []
    except CertificateError as error:
        if error.reason in {"expired", "not-yet-valid"}:
            raise ExternalCertificateError("not-valid", str(error)) from None
        raise ExternalCertificateError(
            "unknown", f"The certificate was not issued here nor under a trusted root: {error}"
        ) from None
    root = trusted_root_of(path[-1]) if path else None
    if root is None:
        raise ExternalCertificateError(
            "unknown", "The certificate was not issued here nor under a trusted root."
        )
    if provider_slug not in root.providers:
        raise ExternalCertificateError(
            "provider", f"Certificates under the root {root.name!r} do not speak for the caller."
        )
    issuer = path[1]
    crl = external_crl_of(issuer)
    if crl is None:
        raise ExternalCertificateError(
            "not-valid", "No CRL of the certificate's issuer is at hand: its status is unknown."
        )
    try:
        crl_check(leaf, issuer, crl, at=at)
    except CertificateError as error:
        raise ExternalCertificateError("not-valid", f"Revocation check failed: {error}") from None
    if not tn_auth_list_covers(leaf, number):
        raise ExternalCertificateError("number", "The certificate's TNAuthList does not name it.")
    der = leaf.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).digest()
    kept = ExternalCertificate.objects.filter(certificate_sha256=digest).first()
    if kept is not None:
        if kept.revoked_at is not None:
            raise ExternalCertificateError("not-valid", "The certificate is revoked.")
        return kept
    return ExternalCertificate(
        root=root.name,
        serial=f"{leaf.serial_number:x}",
        issuer=leaf.issuer.rfc4514_string()[:1000],
        issuer_key_sha256=ca_key_sha256(issuer),
        der=der,
        issuer_der=issuer.public_bytes(serialization.Encoding.DER),
        certificate_sha256=digest,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


# --- The number lock -----------------------------------------------------------------------------

MAX_REQUESTS_LISTED = 100


def certificate_requests_visible(*, provider: Provider) -> QuerySet[CertificateRequest]:
    """The certificate requests ``provider`` may see: its own, and those for the numbers it
    holds a valid certificate for (the holders who answer them). Newest first."""
    now = timezone.now()
    holds = Certificate.objects.filter(
        provider=provider,
        number=OuterRef("number"),
        revoked_at__isnull=True,
        not_before__lte=now,
        not_after__gt=now,
    )
    return (
        CertificateRequest.objects.select_related("provider", "certificate")
        .filter(Q(provider=provider) | Exists(holds))
        .order_by("-created_at")
    )


def certificate_request_visible(
    *, provider: Provider, request_id: uuid.UUID
) -> CertificateRequest | None:
    """One request ``provider`` may see (``certificate_requests_visible``), or None: another's
    is not found, as an unknown id is not."""
    return certificate_requests_visible(provider=provider).filter(pk=request_id).first()


def certificates_ending_count(*, within: timedelta) -> int:
    """How many valid certificates end within ``within`` (not renewed, their handlers go)."""
    now = timezone.now()
    return Certificate.objects.filter(
        revoked_at__isnull=True, not_after__gt=now, not_after__lte=now + within
    ).count()


def disputes_open_count() -> int:
    """How many disputes wait on the operator's queue."""
    return Dispute.objects.filter(status=DisputeStatus.OPEN).count()


def dispute_get(*, provider: Provider, dispute_id: uuid.UUID) -> Dispute | None:
    """A dispute the provider opened, or None."""
    return (
        Dispute.objects.select_related("disputed", "disputer")
        .filter(pk=dispute_id, disputer__provider=provider)
        .first()
    )


CERTIFICATE_STATES = ("valid", "not_yet_valid", "expired", "revoked")


def certificates_of(
    *, provider: Provider, number: str | None = None, status: str | None = None
) -> QuerySet[Certificate]:
    """The provider's certificates, for ``number`` and in ``status`` (one of
    ``CERTIFICATE_STATES``, as ``Certificate.status`` reads) when given."""
    certificates = Certificate.objects.filter(provider=provider).select_related("provider")
    if number is not None:
        certificates = certificates.filter(number=number)
    now = timezone.now()
    if status == "revoked":
        certificates = certificates.filter(revoked_at__isnull=False)
    elif status == "expired":
        certificates = certificates.filter(revoked_at__isnull=True, not_after__lte=now)
    elif status == "not_yet_valid":
        certificates = certificates.filter(revoked_at__isnull=True, not_before__gt=now)
    elif status == "valid":
        certificates = certificates.filter(
            revoked_at__isnull=True, not_before__lte=now, not_after__gt=now
        )
    return certificates


def challenges_of(
    *, provider: Provider, number: str | None = None, status: str | None = None
) -> QuerySet[Challenge]:
    """The provider's challenges, for ``number`` and in ``status`` when given."""
    challenges = Challenge.objects.filter(provider=provider)
    if number is not None:
        challenges = challenges.filter(number=number)
    if status is not None:
        challenges = challenges.filter(status=status)
    return challenges
