"""Directory models: providers (app vendors) and their API keys, and the handler records."""

from __future__ import annotations

import hashlib

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact, LessThanOrEqual

from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.tiles import TILE_HEIGHT


def api_key_hash(key: str) -> bytes:
    """The stored form of an API key (``ApiKey.key_hash``)."""
    return hashlib.sha256(key.encode()).digest()


class Provider(models.Model):
    """An app vendor. Its slug names it in the API, in certificates and in the log."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(
        default=True, help_text="An inactive provider's keys are refused."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_authenticated(self) -> bool:
        """Providers are the API's principals (``request.user``); DRF's permissions ask this."""
        return True


class ApiKey(models.Model):
    """A provider's API key, stored only as a SHA-256 hash with a short visible prefix.

    Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    """

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="api_keys")
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a key.")
    key_hash = models.BinaryField(max_length=32, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("key_hash"), 32), name="directory_apikey_hash_32_bytes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.provider_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Handler(models.Model):
    """For ``number``, ``provider`` handles ``service`` at ``uri`` (DESIGN §4.2, §5).

    Published and removed only with a JWS made with the number certificate's key; each change
    is logged (``handler`` / ``handler_removed`` entries) with a commitment to these fields,
    whose random ``opening`` lookups return so callers can check the entry.
    """

    number = models.CharField(max_length=16, help_text="E.164")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="handlers")
    service = models.CharField(max_length=16)
    uri = models.CharField(max_length=1024)
    priority = models.PositiveIntegerField(default=0, help_text="Lower is preferred")
    visible_to = ArrayField(
        models.SlugField(max_length=64),
        null=True,
        blank=True,
        help_text="Slugs of the providers that may see it; empty (null) means every provider",
    )
    # The number certificate that authorised it: ours, or one issued under another trusted root.
    certificate = models.ForeignKey(
        "ca.Certificate", on_delete=models.PROTECT, related_name="handlers", null=True, blank=True
    )
    external_certificate = models.ForeignKey(
        "ca.ExternalCertificate",
        on_delete=models.PROTECT,
        related_name="handlers",
        null=True,
        blank=True,
    )
    label = models.BinaryField(max_length=64, editable=False, help_text="The number's label")
    opening = models.BinaryField(max_length=32, editable=False)
    log_index = models.BigIntegerField(help_text="Index of the handler's latest log entry")
    # Set by directory.services.handler_tile_proofs_keep once the entry's level-0 tile is full
    # (fixed from then on), so that a lookup need neither read that tile nor hash inside it.
    tile_proof = models.BinaryField(
        null=True,
        editable=False,
        help_text="The entry's eight in-tile inclusion proof hashes (resolution.protocol.tiles)",
    )
    expires_at = models.DateTimeField(help_text="The certificate's notAfter")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["number", "service", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["number", "provider", "service"], name="directory_handler_unique"
            ),
            models.CheckConstraint(
                condition=Exact(Length("opening"), 32), name="directory_handler_opening_32"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(models.F("priority"), 65535),
                name="directory_handler_priority",
            ),
            models.CheckConstraint(
                condition=models.Q(certificate__isnull=True)
                ^ models.Q(external_certificate__isnull=True),
                name="directory_handler_one_certificate",
            ),
            models.CheckConstraint(
                condition=models.Q(tile_proof__isnull=True)
                | models.Q(Exact(Length("tile_proof"), TILE_HEIGHT * HASH_SIZE)),
                name="directory_handler_tile_proof_256",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="directory_handler_expiry"),
            models.Index(
                fields=["log_index"],
                name="directory_handler_proof_due",
                condition=models.Q(tile_proof__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} of {self.number} by {self.provider_id}"

    @property
    def certificate_serial(self) -> str:
        """The serial of the certificate that authorised it, whichever CA issued it."""
        signing = self.certificate or self.external_certificate
        assert signing is not None  # directory_handler_one_certificate
        return signing.serial


class HandlerRequest(models.Model):
    """A signed handler change already accepted, by its ``jti``: a replay is refused.

    Kept while its ``iat`` could still be accepted (five minutes each way), then pruned.
    """

    certificate_sha256 = models.BinaryField(
        max_length=32, editable=False, help_text="SHA-256 of the signing certificate's DER"
    )
    jti = models.CharField(max_length=128)
    issued_at = models.DateTimeField(help_text="The JWS 'iat'")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["certificate_sha256", "jti"], name="directory_jti_unique_per_certificate"
            ),
        ]
        indexes = [models.Index(fields=["issued_at"], name="directory_jti_issued")]

    def __str__(self) -> str:
        return f"jti {self.jti}"


class LookupCount(models.Model):
    """Lookups a provider made in one hour (``directory.metrics``): the operator dashboard's.

    Each process counts in memory and adds its counts here every few seconds, so a lookup
    costs no write of its own.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The hour's start (UTC)")
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "hour"], name="directory_lookup_count_provider_hour"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="directory_lookup_count_hour")]

    def __str__(self) -> str:
        return f"{self.count} lookups by {self.provider_id} at {self.hour:%Y-%m-%d %H}h"
