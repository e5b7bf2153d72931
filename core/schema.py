"""OpenAPI (drf-spectacular) extensions: how our authentication and errors are documented."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Document :class:`providers.authentication.ApiKeyAuthentication` as HTTP bearer auth."""

    target_class = "providers.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "Provider API key (rs_…)"}


class FieldErrorSerializer(serializers.Serializer[Any]):
    pointer = serializers.CharField(help_text="JSON Pointer (RFC 6901) to the field, as '#/…'")
    detail = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details, as every error response carries them."""

    type = serializers.URLField(help_text="Stable URI naming the kind of problem")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(  # type: ignore[assignment]  # a field, not Serializer.errors
        many=True, required=False, help_text="Invalid fields (400)"
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds (429)")


def problem(description: str) -> OpenApiResponse:
    """An OpenAPI response entry for a problem+json error."""
    return OpenApiResponse(response=ProblemSerializer, description=description)


# Errors any authenticated endpoint can return.
COMMON_PROBLEMS = {
    401: problem("Missing, unknown or revoked API key"),
    429: problem("Rate limited; see Retry-After"),
}
