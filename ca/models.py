"""CA models: SMS challenges, the number certificates they lead to, and the CRLs.

A challenge keeps only an HMAC of its code (ca.codes). A certificate row holds the DER the CA
signed; the log holds its hash and serial, never the number. Number certificates issued under
another trusted root (ca.trust) are kept apart, with the CRLs of their CAs.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Final

from django.conf import settings
from django.db import models
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact
from django.utils import timezone

from ca.choices import (
    ChallengeStatus,
    DeliveryStatus,
    DisputeStatus,
    RequestStatus,
    RevocationReason,
)
from providers.models import Provider
from transparency.models import log_entry_field


class Challenge(models.Model):
    """An SMS challenge: a provider asks to prove control of ``number``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="challenges")
    number = models.CharField(max_length=16, help_text="E.164")
    region = models.CharField(max_length=2, help_text="ISO 3166 country of the number")
    calling_code = models.PositiveSmallIntegerField(help_text="Country calling code, e.g. 33")
    client_ip = models.GenericIPAddressField()
    code_hmac = models.BinaryField(max_length=32, editable=False)
    status = models.CharField(
        max_length=16, choices=ChallengeStatus.choices, default=ChallengeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong codes given")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    delivery_status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=200, blank=True)
    message_id = models.CharField(max_length=64, blank=True, help_text="The SMS provider's id")
    delivery_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Rate limits count recent challenges by each of these (ca.limits).
        indexes = [
            models.Index(fields=["number", "created_at"], name="ca_challenge_number_time"),
            models.Index(fields=["provider", "created_at"], name="ca_challenge_provider_time"),
            models.Index(fields=["client_ip", "created_at"], name="ca_challenge_ip_time"),
            models.Index(fields=["calling_code", "created_at"], name="ca_challenge_country_time"),
            models.Index(fields=["created_at"], name="ca_challenge_time"),
            models.Index(
                fields=["message_id"],
                name="ca_challenge_message_id",
                condition=~models.Q(message_id=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("code_hmac"), 32), name="ca_challenge_hmac_32_bytes"
            ),
        ]

    def __str__(self) -> str:
        return f"challenge {self.id}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


# A certificate's name in the public repository (its x5u): 24 random bytes as unpadded base64url
# (RFC 4648 §5), 32 characters, 192 bits. Unlike the serial, which the CRL lists, it appears
# only in the certificate response and in the PASSporTs its holder signs (DESIGN §7.1).
REPOSITORY_ID_BYTES: Final = 24
REPOSITORY_ID_LENGTH: Final = 32
REPOSITORY_ID: Final = re.compile(r"[A-Za-z0-9_-]{32}")


def repository_id_new() -> str:
    """A fresh repository id for a certificate: :data:`REPOSITORY_ID_BYTES` from the CSPRNG."""
    return secrets.token_urlsafe(REPOSITORY_ID_BYTES)


class Certificate(models.Model):
    """A number certificate this CA issued (DESIGN §4.3)."""

    serial = models.CharField(
        max_length=40, unique=True, help_text="Serial number, lowercase hex (128 random bits)"
    )
    repository_id = models.CharField(
        max_length=REPOSITORY_ID_LENGTH,
        unique=True,
        default=repository_id_new,
        editable=False,
        help_text="The certificate's unguessable name in the repository: its x5u, not its serial",
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="certificates")
    # One challenge, one certificate: the database itself refuses a second use.
    challenge = models.OneToOneField(
        Challenge, on_delete=models.PROTECT, related_name="certificate"
    )
    number = models.CharField(max_length=16, help_text="E.164, as named in the TNAuthList")
    label = models.BinaryField(max_length=64, editable=False, help_text="The number's VRF label")
    der = models.BinaryField(editable=False)
    certificate_sha256 = models.BinaryField(max_length=32, unique=True, editable=False)
    public_key_sha256 = models.BinaryField(max_length=32, editable=False)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    log_entry = log_entry_field("The certificate's log entry")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(
        max_length=32, choices=RevocationReason.choices, blank=True
    )
    revocation_log_entry = log_entry_field("The revocation's log entry", optional=True)
    # The number lock (DESIGN §7.2): set by a JWS of this certificate's key, it lasts as long
    # as the certificate, and holds back any certificate for the number to another key.
    locked_at = models.DateTimeField(null=True, blank=True)
    lock_log_entry = log_entry_field("The lock's log entry", optional=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["number", "not_after"], name="ca_certificate_number"),
            models.Index(
                fields=["number", "not_after"],
                name="ca_certificate_locked",
                condition=models.Q(locked_at__isnull=False, revoked_at__isnull=True),
            ),
            models.Index(
                fields=["not_after"],
                name="ca_certificate_revoked",
                condition=models.Q(revoked_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True)
                | (~models.Q(revocation_reason="") & models.Q(revocation_log_entry__isnull=False)),
                name="ca_certificate_revocation_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(locked_at__isnull=True, lock_log_entry__isnull=True)
                | models.Q(locked_at__isnull=False, lock_log_entry__isnull=False),
                name="ca_certificate_lock_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.serial

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def x5u(self) -> str:
        """The URL of the certificate and its chain (RFC 8224 §7.3), as PASSporTs name it: by
        repository id, so that a serial read from the CRL or the log opens nothing."""
        return f"{settings.RS_PUBLIC_URL}/ca/certs/{self.repository_id}.pem"

    @property
    def is_locked(self) -> bool:
        """Whether its lock holds: set, and the certificate valid."""
        return self.locked_at is not None and self.status == "valid"

    @property
    def status(self) -> str:
        """``valid``, ``revoked``, ``expired`` or ``not_yet_valid``, as of now."""
        now = timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.not_after:
            return "expired"
        if now < self.not_before:
            return "not_yet_valid"
        return "valid"


class Crl(models.Model):
    """A certificate revocation list the issuing CA signed; ``/ca/crl`` serves the newest."""

    number = models.PositiveBigIntegerField(primary_key=True, help_text="The CRLNumber")
    der = models.BinaryField(editable=False)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    revoked_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-number"]
        verbose_name = "CRL"

    def __str__(self) -> str:
        return f"CRL {self.number}"


class ChallengeVolume(Challenge):
    """The admin's per-country view of challenges (a report, not a table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "challenge volume by country"
        verbose_name_plural = "challenge volume by country"


class ExternalCertificate(models.Model):
    """A number certificate issued under a root trusted besides ours (ca.trust), once used.

    Kept from the first signed change it authorised, so that handlers can reference it and a
    CRL that lists it later removes them.
    """

    root = models.CharField(max_length=64, help_text="The trusted root it chains to, by name")
    serial = models.CharField(max_length=40, help_text="Serial number, lowercase hex")
    issuer = models.CharField(max_length=1000, help_text="The issuing CA's name (RFC 4514)")
    # Its CA is named by key, not by name: CAs under different roots may share a name, and
    # only the CA whose key signed a CRL may revoke with it (ca.selectors.ca_key_sha256).
    issuer_key_sha256 = models.BinaryField(
        max_length=32,
        editable=False,
        help_text="SHA-256 of the issuing CA's public key (SubjectPublicKeyInfo), from the path",
    )
    der = models.BinaryField(editable=False)
    issuer_der = models.BinaryField(editable=False, help_text="The issuing CA's certificate")
    certificate_sha256 = models.BinaryField(max_length=32, unique=True, editable=False)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["issuer_key_sha256", "serial"], name="ca_external_issuer_key_serial"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.serial} ({self.root})"


class ExternalCrl(models.Model):
    """The newest CRL fetched from one URL a trusted root names (ca.services.external).

    It belongs to the CA whose key signed it, never to a name: ``issuer_key_sha256`` is that
    key once a CA certificate known under the root (the root, or an issuing CA from a path
    once accepted) verified it. Until then it is kept unverified, and each use checks it with
    the issuing CA of the chain presented. Checked again at every use either way.
    """

    root = models.CharField(max_length=64, help_text="The trusted root it was configured under")
    url = models.URLField(max_length=1000)
    issuer = models.CharField(max_length=1000, help_text="The CRL issuer's name (RFC 4514)")
    issuer_key_sha256 = models.BinaryField(
        max_length=32,
        null=True,
        editable=False,
        help_text="SHA-256 of the public key that verified its signature; none until one did",
    )
    der = models.BinaryField(editable=False)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "external CRL"
        constraints = [
            models.UniqueConstraint(fields=["root", "url"], name="ca_external_crl_one_per_url"),
        ]
        indexes = [
            models.Index(fields=["issuer_key_sha256"], name="ca_external_crl_issuer_key"),
        ]

    def __str__(self) -> str:
        return self.issuer

    @property
    def verified(self) -> bool:
        """Whether a CA certificate known under its root verified it when it was fetched."""
        return self.issuer_key_sha256 is not None


class PassportSeen(models.Model):
    """A PASSporT a provider had verified (ca.services.passports): presented again, a replay.

    Named by the SHA-256 of its signed part, ``header.payload``, and kept until its ``iat`` is
    too old to be accepted anyway (``expires_at``); then pruned.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    digest = models.BinaryField(
        max_length=32, editable=False, help_text="SHA-256 of the JWS signing input"
    )
    expires_at = models.DateTimeField(help_text="When the PASSporT is stale, and this is pruned")

    class Meta:
        verbose_name = "PASSporT seen"
        verbose_name_plural = "PASSporTs seen"
        constraints = [
            # A PASSporT is verified by each provider it is sent to: a group message reaches
            # several. A replay is the same one presented to the same provider again.
            models.UniqueConstraint(
                fields=["provider", "digest"], name="ca_passport_seen_once_per_provider"
            ),
            models.CheckConstraint(
                condition=Exact(Length("digest"), 32), name="ca_passport_seen_digest_32_bytes"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="ca_passport_seen_expires")]

    def __str__(self) -> str:
        return f"PASSporT {bytes(self.digest).hex()[:16]}"


class CertificateRequest(models.Model):
    """A certificate for a locked number, to a key no locked holder has: held back until a
    locked holder approves or refuses it, or ``issues_at`` passes (DESIGN §7.2).

    Its challenge was spent when it was made, so the SMS proves nothing twice; the key it
    asks for waits here, and the certificate is signed when the request is issued.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="certificate_requests"
    )
    challenge = models.OneToOneField(
        Challenge, on_delete=models.PROTECT, related_name="certificate_request"
    )
    number = models.CharField(max_length=16, help_text="E.164")
    label = models.BinaryField(max_length=64, editable=False, help_text="The number's VRF label")
    public_key_der = models.BinaryField(
        editable=False, help_text="The key to certify (SubjectPublicKeyInfo, DER)"
    )
    public_key_sha256 = models.BinaryField(max_length=32, editable=False)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    issues_at = models.DateTimeField(help_text="Issued then, with no answer from a holder")
    closed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        Certificate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The locked holder's certificate that approved or refused it",
    )
    certificate = models.OneToOneField(
        Certificate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="request",
        help_text="The certificate it was issued as",
    )
    log_entry = log_entry_field("The request's log entry")
    closed_log_entry = log_entry_field("The log entry that closed it", optional=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["issues_at"],
                name="ca_request_due",
                condition=models.Q(status=RequestStatus.PENDING),
            ),
            models.Index(fields=["number", "status"], name="ca_request_number"),
            models.Index(fields=["provider", "created_at"], name="ca_request_provider"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RequestStatus.values), name="ca_request_status"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status=RequestStatus.PENDING,
                    closed_at__isnull=True,
                    closed_log_entry__isnull=True,
                )
                | (
                    ~models.Q(status=RequestStatus.PENDING)
                    & models.Q(closed_at__isnull=False, closed_log_entry__isnull=False)
                ),
                name="ca_request_closed_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(certificate__isnull=True)
                | models.Q(
                    status__in=[
                        RequestStatus.APPROVED,
                        RequestStatus.WAITED,
                        RequestStatus.UNLOCKED,
                    ]
                ),
                name="ca_request_certificate_when_issued",
            ),
        ]

    def __str__(self) -> str:
        return f"request {self.id}"


class Dispute(models.Model):
    """A holder's dispute of a certificate for its number (DESIGN §7.2): a JWS of its own
    certificate's key and a fresh SMS challenge, on the operator's queue until revoked or
    dismissed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=16, help_text="E.164")
    disputed = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="disputes")
    disputer = models.ForeignKey(
        Certificate,
        on_delete=models.PROTECT,
        related_name="disputes_opened",
        help_text="The holder's certificate whose key signed the dispute",
    )
    challenge = models.OneToOneField(
        Challenge,
        on_delete=models.PROTECT,
        related_name="dispute",
        help_text="The fresh proof of control of the number",
    )
    statement = models.CharField(
        max_length=1000, blank=True, help_text="What the holder says, in its own words"
    )
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=150, blank=True, help_text="The operator")
    resolution = models.CharField(
        max_length=1000, blank=True, help_text="The operator's reason for the outcome"
    )
    log_entry = log_entry_field("The dispute's log entry")
    closed_log_entry = log_entry_field("The log entry that closed it", optional=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DisputeStatus.values), name="ca_dispute_status"
            ),
            # One open dispute per certificate: a second holder's adds nothing to decide.
            models.UniqueConstraint(
                fields=["disputed"],
                condition=models.Q(status=DisputeStatus.OPEN),
                name="ca_dispute_one_open_per_certificate",
            ),
            models.CheckConstraint(
                condition=models.Q(status=DisputeStatus.OPEN, closed_at__isnull=True)
                | (~models.Q(status=DisputeStatus.OPEN) & models.Q(closed_at__isnull=False)),
                name="ca_dispute_closed_complete",
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="ca_dispute_queue")]

    def __str__(self) -> str:
        return f"dispute {self.id}"


class SignedRequestSeen(models.Model):
    """A lock, unlock, approval, refusal or dispute already accepted, by its certificate and
    ``jti``: presented again within its freshness window, a replay. Pruned once stale."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=128)
    expires_at = models.DateTimeField(help_text="When its iat is too old to be accepted anyway")

    class Meta:
        verbose_name = "signed request seen"
        verbose_name_plural = "signed requests seen"
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "jti"], name="ca_signed_request_seen_once"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="ca_signed_request_expires")]

    def __str__(self) -> str:
        return f"jti {self.jti}"
