"""Serializers of the webhooks API: one input and one output shape per operation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webhooks.choices import DeliveryState, EventType
from webhooks.models import DESCRIPTION_LENGTH, URL_LENGTH
from webhooks.services import EndpointWithSecret

NEW_KEY_HELP = (
    "The signing secret, whsec_ and the base64 of 32 random bytes (Standard Webhooks). "
    "Shown only in this response: keep it where the receiver reads it."
)


class EndpointInput(serializers.Serializer[Any]):
    url = serializers.CharField(
        max_length=URL_LENGTH,
        help_text="https URL with a host name (no IP address, no user or password) whose "
        "addresses are public",
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_LENGTH,
        required=False,
        default="",
        allow_blank=True,
    )


class EndpointOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField()
    is_active = serializers.BooleanField(
        help_text="False when the operator deactivated it: it is sent nothing"
    )
    created_at = serializers.DateTimeField()
    secret_rotated_at = serializers.DateTimeField(allow_null=True)


class EndpointWithSecretOutput(EndpointOutput):
    # Serialises a webhooks.services.EndpointWithSecret: the endpoint, and its new secret.

    secret = serializers.CharField(help_text=NEW_KEY_HELP)

    def to_representation(self, instance: EndpointWithSecret) -> dict[str, Any]:
        return {**EndpointOutput(instance.endpoint).data, "secret": instance.secret}


class DeliveryOutput(serializers.Serializer[Any]):
    event = serializers.CharField(source="event_id", help_text="The event's id: its webhook-id")
    type = serializers.ChoiceField(choices=EventType.values, source="event.type")
    state = serializers.ChoiceField(choices=DeliveryState.values)
    attempts = serializers.IntegerField()
    last_status = serializers.IntegerField(
        allow_null=True, help_text="The HTTP status of the last answer"
    )
    last_error = serializers.CharField(help_text="Why the last attempt failed, if it did")
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is tried again (pending deliveries)"
    )
    delivered_at = serializers.DateTimeField(allow_null=True)
