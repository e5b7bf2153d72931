"""Serializers of the directory API: one input and one output shape per operation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.dates import rfc3339
from core.encoding import b64
from directory.selectors import HandlerAnswer, LookupAnswer
from directory.services import NumberHistory
from resolution.protocol.canonical import parse_canonical
from transparency.api.serializers import (
    AppendedLog,
    Base64Field,
    HexField,
    LabelOutput,
    log_index_field,
)
from transparency.selectors import EntryHistoryRow

VISIBILITY_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": ["all"]},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}


@extend_schema_field({"type": "string", "format": "date-time", "example": "2026-11-23T10:00:00Z"})
class Rfc3339Field(serializers.Field[datetime, str, str, Any]):
    """A time to the second in UTC, as the log's commitments write it; read-only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: datetime) -> str:
        return rfc3339(value)


@extend_schema_field(VISIBILITY_SCHEMA)
class VisibilityField(serializers.Field[Any, Any, Any, Any]):
    """``Handler.visible_to``: ``"all"`` when null, else the slugs that may see the handler."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        # Here, not in to_representation: DRF writes null for null without asking the field.
        return super().get_attribute(instance) or "all"

    def to_representation(self, value: Any) -> Any:
        return value


class HandlerOutput(serializers.Serializer[Any]):
    # Serialises {"handler": Handler, "provider": its slug, "log": AppendedEntry}.

    number = serializers.CharField(source="handler.number", help_text="E.164")
    provider = serializers.SlugField()
    service = serializers.CharField(source="handler.service")
    uri = serializers.CharField(source="handler.uri")
    priority = serializers.IntegerField(source="handler.priority")
    visibility = VisibilityField(
        source="handler.visible_to", help_text='"all", or the slugs of the providers that see it'
    )
    expires_at = Rfc3339Field(source="handler.expires_at", help_text="The certificate's notAfter")
    certificate = serializers.CharField(
        source="handler.certificate_serial",
        help_text="The serial of the certificate that signed it",
    )
    log = AppendedLog()


class OwnHandlerOutput(serializers.Serializer[Any]):
    """One of the caller's handlers, as it stands (serialises a ``directory.models.Handler``)."""

    number = serializers.CharField(help_text="E.164")
    provider = serializers.CharField(source="provider.slug")
    service = serializers.CharField()
    uri = serializers.CharField()
    priority = serializers.IntegerField()
    visibility = VisibilityField(
        source="visible_to", help_text='"all", or the slugs of the providers that see it'
    )
    expires_at = Rfc3339Field(help_text="The certificate's notAfter")
    certificate = serializers.CharField(
        source="certificate_serial", help_text="The serial of the certificate that signed it"
    )
    log_index = log_index_field("log_entry", "Its latest entry")
    updated_at = Rfc3339Field()


class HandlerRemovedOutput(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="E.164")
    provider = serializers.SlugField()
    service = serializers.CharField()
    log = AppendedLog()


# A lookup's answer is written out by hand: DRF's generic path, field by field, costs each
# lookup some 300 µs more than the 25 µs of these functions (three handlers with their proofs),
# which the lookup benchmark would see. The fields below still document the answer in the
# schema, and the tests check every answer they get against it (tests/openapi.py).


def _lookup_handler(found: HandlerAnswer) -> dict[str, Any]:
    proof = found.inclusion_proof
    return {
        "provider": found.provider,
        "service": found.service,
        "uri": found.uri,
        "priority": found.priority,
        "expires_at": rfc3339(found.expires_at),
        "certificate": found.certificate,
        "log": {
            "index": found.log_index,
            "entry": b64(found.entry),
            "opening": b64(found.opening),
            "inclusion_proof": None if proof is None else [b64(node) for node in proof],
            "pending": proof is None,
        },
    }


class LookupLog(serializers.Serializer[Any]):
    index = serializers.IntegerField(allow_null=True, help_text="null until sequenced")
    entry = Base64Field(help_text="The entry's exact bytes (canonical JSON)")
    opening = Base64Field(help_text="The commitment's 32-byte HMAC key")
    inclusion_proof = serializers.ListField(
        child=Base64Field(),
        allow_null=True,
        help_text="Hashes proving the entry is in the checkpoint; null when pending",
    )
    pending = serializers.BooleanField(help_text="Not yet in the checkpoint (merge delay)")


class LookupHandler(serializers.Serializer[HandlerAnswer]):
    provider = serializers.SlugField()
    service = serializers.CharField()
    uri = serializers.CharField()
    priority = serializers.IntegerField()
    expires_at = Rfc3339Field(help_text="As the commitment covers it")
    certificate = serializers.CharField(help_text="Certificate serial")
    log = LookupLog()

    def to_representation(self, instance: HandlerAnswer) -> dict[str, Any]:
        return _lookup_handler(instance)


class LookupReferral(serializers.Serializer[Any]):
    url = serializers.URLField(help_text="The other service's base URL")
    advertisement = serializers.CharField(
        help_text="Its range advertisement (compact JWS, ES256, x5c) naming that URL for the "
        "number: verify it against the root trusted for that service (GET /v1/map)"
    )


class LookupOutput(LabelOutput):
    checkpoint = serializers.CharField(
        allow_null=True, help_text="The latest signed checkpoint (C2SP signed note)"
    )
    handlers = LookupHandler(many=True)
    served = serializers.BooleanField(
        help_text="Whether this service serves the number (its ranges, DESIGN §7.4). When it "
        "does not, look the number up at a service of `referrals`"
    )
    referrals = LookupReferral(
        many=True,
        help_text="The other services whose advertisements claim the number: the service to "
        "ask when `served` is false; when it is true, a conflict of claims (both are shown, "
        "neither is chosen here). Empty for most numbers",
    )

    def to_representation(self, instance: LookupAnswer) -> dict[str, Any]:
        return {
            "number": instance.number,
            "label": instance.label.label.hex(),
            "vrf_proof": b64(instance.label.proof),
            "checkpoint": instance.checkpoint,
            "handlers": [_lookup_handler(found) for found in instance.handlers],
            "served": instance.served,
            "referrals": [
                {"url": serving.url, "advertisement": serving.token}
                for serving in instance.referrals
            ],
        }


class LookupQuery(serializers.Serializer[Any]):
    service = serializers.CharField(required=False, max_length=16)


# --- The holder's history ---------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "description": "The object the entry's commitment covers; null without an opening",
    }
)
class CommittedContentField(serializers.Field[Any, Any, Any, Any]):
    """The canonical JSON bytes an entry committed to, as the object they encode; read-only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: bytes) -> Any:
        return parse_canonical(bytes(value))


class HistoryEntry(serializers.Serializer[EntryHistoryRow]):
    index = serializers.IntegerField(allow_null=True, help_text="null until sequenced")
    entry = Base64Field(source="data", help_text="The entry's exact bytes (canonical JSON)")
    opening = Base64Field(
        allow_null=True,
        help_text="The commitment's 32-byte HMAC key; null for a version-1 entry, or one "
        "whose opening was erased",
    )
    content = CommittedContentField(allow_null=True)


class HistoryOutput(serializers.Serializer[NumberHistory]):
    number = serializers.CharField(help_text="E.164")
    label = HexField(  # type: ignore[assignment]  # a field, not Field.label
        help_text="The number's VRF label (hex), as log entries name it"
    )
    entries = HistoryEntry(many=True, help_text="Every entry under the label, oldest first")
