"""Providers (app vendors), the API's principals, and their API keys."""

from __future__ import annotations

import hashlib

from django.db import models
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact

from providers.choices import Scope


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
        db_table = "directory_provider"  # the table it had in the directory app
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
    scope = models.CharField(
        max_length=16, choices=Scope.choices, help_text="What the key may do; set at creation."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "directory_apikey"  # the table it had in the directory app
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("key_hash"), 32), name="directory_apikey_hash_32_bytes"
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=Scope.values), name="directory_apikey_scope_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.provider_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotentRequest(models.Model):
    """A POST made with an ``Idempotency-Key`` that succeeded, and its answer, so that the same
    request sent again with the same key gets the same answer without repeating its effect
    (providers.idempotency). Kept ``RS_IDEMPOTENCY_KEEP_HOURS`` (24 h), then pruned.

    The answer is sealed (AES-GCM under a key derived from ``SECRET_KEY``): it may hold a number,
    or a webhook endpoint's secret, which the database must not hold in clear.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="idempotent_requests"
    )
    key = models.CharField(max_length=255, help_text="The Idempotency-Key, as the client sent it")
    fingerprint = models.BinaryField(
        max_length=32, editable=False, help_text="SHA-256 of the method, path, media type and body"
    )
    status = models.PositiveSmallIntegerField()
    answer = models.BinaryField(editable=False, help_text="Sealed: headers and body")
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="providers_idempotency_key"),
            models.CheckConstraint(
                condition=Exact(Length("fingerprint"), 32), name="providers_idempotency_sha256"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="providers_idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
