"""Directory models: handler records, the jtis of signed changes, and lookup counts."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact, LessThanOrEqual

from providers.models import Provider
from resolution.protocol.directory import MAX_PRIORITY
from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.tiles import TILE_HEIGHT
from transparency.models import log_entry_field


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
    log_entry = log_entry_field("The handler's latest log entry")
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
                condition=LessThanOrEqual(models.F("priority"), MAX_PRIORITY),
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
                fields=["log_entry"],
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
    """A signed handler change already accepted, by its ``jti``: another JWS with the same
    ``jti`` is refused; the very same JWS sent again gets the first answer, rebuilt from the log
    entry it made (``log_entry``), so a client that lost the answer can retry.

    Kept while its ``iat`` could still be accepted (five minutes each way), then pruned.
    """

    certificate_sha256 = models.BinaryField(
        max_length=32, editable=False, help_text="SHA-256 of the signing certificate's DER"
    )
    jti = models.CharField(max_length=128)
    issued_at = models.DateTimeField(help_text="The JWS 'iat'")
    request_sha256 = models.BinaryField(
        max_length=32, null=True, editable=False, help_text="SHA-256 of the compact JWS"
    )
    log_entry = log_entry_field(
        "The entry the change made (none for a history read)", optional=True
    )
    created = models.BooleanField(null=True, help_text="Whether a PUT created the handler")

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
