"""Invitations (DESIGN §7.5): an SMS the service sent a number on behalf of an inviter, the
do-not-invite list (HMACs of numbers, never the numbers), and the refusals counted."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact

from invitations.choices import InvitationStatus, OptOutSource, Refusal, SmsStatus
from providers.models import Provider
from transparency.models import log_entry_field

# An invitation's page is /i/<code>: 12 random bytes, unpadded base64url, 96 bits. Short, as
# it travels in an SMS; unguessable, as the page shows the inviter's number.
CODE_BYTES = 12
CODE_LENGTH = 16


def code_new() -> str:
    """A fresh code for an invitation's link."""
    return secrets.token_urlsafe(CODE_BYTES)


class Invitation(models.Model):
    """The holder of ``certificate`` (a certificate for ``inviter``, held by ``provider``)
    had the service invite ``number`` to publish a handler of ``service``.

    The number is kept in clear as long as the invitation is (the SMS, and the callback when
    the number publishes, need it); it is shown only to the inviter's provider.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="invitations")
    certificate = models.ForeignKey(
        "ca.Certificate", on_delete=models.PROTECT, related_name="invitations"
    )
    inviter = models.CharField(max_length=16, help_text="E.164: the certificate's number")
    number = models.CharField(max_length=16, help_text="E.164: the invited number")
    region = models.CharField(max_length=2, help_text="ISO 3166 country of the invited number")
    calling_code = models.PositiveSmallIntegerField(help_text="Country calling code, e.g. 33")
    service = models.CharField(max_length=16)
    jti = models.CharField(max_length=128, help_text="The inviter's JWS 'jti'")
    code = models.CharField(max_length=CODE_LENGTH, unique=True, default=code_new, editable=False)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.OPEN
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    log_entry = log_entry_field("The invitation's log entry")
    # Signed once, when the invitation is made: an ECDSA signature differs at each signing,
    # and the token the SMS's page shows must be the one the inviter was given.
    spinvitation = models.TextField(editable=False, help_text="The SPINvitation (compact JWS)")
    handler_log_entry = log_entry_field(
        "The log entry of the handler that accepted it", optional=True
    )
    sms_status = models.CharField(
        max_length=16, choices=SmsStatus.choices, default=SmsStatus.QUEUED
    )
    sms_attempts = models.PositiveSmallIntegerField(default=0)
    sms_error = models.CharField(max_length=200, blank=True)
    message_id = models.CharField(max_length=64, blank=True, help_text="The SMS provider's id")

    class Meta:
        ordering = ["-created_at"]
        # The limits count recent invitations by each of these (invitations.limits).
        indexes = [
            models.Index(fields=["number", "created_at"], name="invitations_number_time"),
            models.Index(fields=["inviter", "created_at"], name="invitations_inviter_time"),
            models.Index(fields=["provider", "created_at"], name="invitations_provider_time"),
            models.Index(fields=["calling_code", "created_at"], name="invitations_country_time"),
            models.Index(fields=["created_at"], name="invitations_time"),
            models.Index(
                fields=["number", "service"],
                name="invitations_open_number",
                condition=models.Q(status="open"),
            ),
            models.Index(
                fields=["expires_at"],
                name="invitations_open_expiry",
                condition=models.Q(status="open"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "jti"], name="invitations_jti_unique_per_certificate"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values),
                name="invitations_status_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accepted") | models.Q(accepted_at__isnull=False),
                name="invitations_accepted_at",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.id}"


class DoNotInvite(models.Model):
    """A number that asked for no invitation, by the HMAC of its E.164 form alone (keyed from
    ``SECRET_KEY``: ``invitations.digests``); it is never sent another."""

    number_hmac = models.BinaryField(max_length=32, unique=True, editable=False)
    source = models.CharField(max_length=16, choices=OptOutSource.choices)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name = "do-not-invite entry"
        verbose_name_plural = "do-not-invite list"
        indexes = [models.Index(fields=["created_at"], name="invitations_optout_time")]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("number_hmac"), 32), name="invitations_optout_hmac_32"
            ),
        ]

    def __str__(self) -> str:
        return f"opt-out {bytes(self.number_hmac).hex()[:12]}… ({self.source})"


class RefusalCount(models.Model):
    """Invitations refused in one hour for one reason: the dashboard's (no number, no
    provider: the figure, not who)."""

    hour = models.DateTimeField(help_text="The hour's start (UTC)")
    reason = models.CharField(max_length=32, choices=Refusal.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "reason"], name="invitations_refusal_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.count} refused ({self.reason}) at {self.hour:%Y-%m-%d %H}h"
