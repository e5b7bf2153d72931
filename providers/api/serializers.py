"""Serializers of the providers API: one input and one output shape per operation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from providers.choices import Scope
from providers.services import IssuedKey

SCOPE_HELP = "What the key may do: lookup, directory (also publishes) or admin (also manages keys)"


class CallerOutput(serializers.Serializer[Any]):
    provider = serializers.SlugField(help_text="The calling provider's slug")
    name = serializers.CharField()
    key_prefix = serializers.CharField(help_text="The visible prefix of the key used")
    scope = serializers.ChoiceField(choices=Scope.values, help_text=SCOPE_HELP)


class ApiKeyOutput(serializers.Serializer[Any]):
    prefix = serializers.CharField(help_text="The first characters of the key")
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    scope = serializers.ChoiceField(choices=Scope.values, help_text=SCOPE_HELP)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute")
    revoked_at = serializers.DateTimeField(allow_null=True)


class LabelField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn ``123`` into ``"123"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ApiKeyCreateInput(serializers.Serializer[Any]):
    label = LabelField(  # type: ignore[assignment]  # a field, not Field.label
        max_length=100, required=False, default="", allow_blank=True
    )
    scope = serializers.ChoiceField(
        choices=Scope.values,
        help_text=f"{SCOPE_HELP}. Required; at most the calling key's own scope",
    )


class ApiKeyCreatedOutput(ApiKeyOutput):
    # Serialises a providers.services.IssuedKey: the ApiKey, and the key shown only here.

    key = serializers.CharField(help_text="The new key. Shown only in this response.")

    def to_representation(self, instance: IssuedKey) -> dict[str, Any]:
        # The other fields are the ApiKey's, as ApiKeyOutput shows them.
        return {**ApiKeyOutput(instance.api_key).data, "key": instance.secret}
