"""Providers' webhook endpoints, the events they are sent, and each delivery's record."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now

from providers.models import Provider
from webhooks.choices import DeliveryState, EventType

URL_LENGTH = 2000
DESCRIPTION_LENGTH = 200


class Endpoint(models.Model):
    """An HTTPS URL a provider registered to receive its webhooks.

    Its signing secret is kept sealed (``webhooks.secrets``): the database, the admin and the
    logs never hold it in clear. A secret rotated lately is kept too, for a day, so that each
    delivery is signed with both while the provider moves to the new one. An endpoint its
    provider deletes is kept, inactive and without secrets, for its delivery history.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=URL_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_LENGTH, blank=True)
    secret_sealed = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_sealed = models.CharField(max_length=200, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(
        default=True, help_text="An inactive endpoint is sent nothing; its pending deliveries fail"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["provider", "created_at"],
                name="webhooks_endpoint_provider",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=True)
                | models.Q(is_active=False, secret_sealed="", previous_secret_sealed=""),
                name="webhooks_endpoint_deleted_inactive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.url}"


class Event(models.Model):
    """Something a webhook tells, once, whoever it is sent to. ``id`` is every delivery's
    ``webhook-id``; ``body`` the exact bytes every delivery sends (and signs)."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    type = models.CharField(max_length=64, choices=EventType.choices)
    # Holds the number: shown to the providers it is sent to, never in the admin.
    body = models.TextField(editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="webhooks_event_time")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=EventType.values), name="webhooks_event_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """An event on its way to one endpoint: one outbox message, and where it stands (recorded
    by the outbox's callbacks in the transactions that change the message)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deliveries")
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last answer"
    )
    last_error = models.CharField(max_length=200, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_endpoint"),
            models.Index(fields=["state", "updated_at"], name="webhooks_delivery_state_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhooks_delivery_once"),
            models.CheckConstraint(
                condition=models.Q(state__in=DeliveryState.values), name="webhooks_delivery_state"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=DeliveryState.DELIVERED)
                | models.Q(delivered_at__isnull=False),
                name="webhooks_delivery_delivered_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id}"
