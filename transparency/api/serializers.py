"""Serializers of the log's JSON API. Hashes and entry bytes are standard base64.

:class:`AppendedLog` is what every API that appends to the log (certificates, handlers, ...)
answers of its entry, ``{leaf_hash, promise}``: the entry has no index until the sequencer
gives it one, and the log's signed promise bounds when (resolution.protocol.promise);
:class:`CommittedLog` adds, for the holder alone, the opening and content of a version-2
entry's commitment; :class:`WriteOutput` is the base of a resource as a write answers it, with
the entry it appended in ``log``. :class:`LogPosition` is where a sequenced entry is,
``{index, leaf_hash}``.
:class:`Base64Field` writes bytes as the API does.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.encoding import b64

MAX_TREE_SIZE = 2**63 - 1
PAGE_LIMIT = 1000


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.Field[bytes, str, str, Any]):
    """Bytes, written as standard, padded base64 (RFC 4648 §4); read-only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: bytes) -> str:
        return b64(value)


@extend_schema_field(OpenApiTypes.BYTE)
class Base64HashField(serializers.Field[bytes, str, str, Any]):
    """A 32-byte hash as base64 (standard or URL-safe alphabet, padding optional)."""

    default_error_messages = {"invalid": "Must be a 32-byte hash in base64."}

    def to_internal_value(self, data: Any) -> bytes:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        text = data.strip().replace("-", "+").replace("_", "/")
        try:
            value = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            self.fail("invalid")
        if len(value) != 32:
            self.fail("invalid")
        return value

    def to_representation(self, value: bytes) -> str:
        return b64(value)


def _hashes(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=Base64Field(), **kwargs)


class LogPosition(serializers.Serializer[Any]):
    """Where a sequenced entry is in the log."""

    index = serializers.IntegerField()
    leaf_hash = Base64Field(help_text="SHA-256(0x00 ‖ entry)")


def log_index_field(source: str, what: str) -> serializers.IntegerField:
    """A resource's field giving the index of the entry at ``source`` (a foreign key to
    transparency.Entry): null while the sequencer has not given it one (or there is none)."""
    return serializers.IntegerField(
        source=f"{source}.index",
        allow_null=True,
        help_text=f"{what}'s index in the log; null until sequenced (within the merge delay)",
    )


class AppendedLog(serializers.Serializer[Any]):
    """An entry a write appended: its leaf hash and the log's promise to include it."""

    # Serialises a transparency.entries.AppendedEntry.
    leaf_hash = Base64Field(help_text="SHA-256(0x00 ‖ entry)")
    promise = serializers.CharField(
        help_text="The log's signed promise (a signed note, docs/transparency-log.md) that the "
        "entry is in a checkpoint within its merge-delay bound; GET /v1/log/proofs/inclusion "
        "?leaf_hash= gives its index and proof once sequenced"
    )


class WriteOutput(serializers.Serializer[Any]):
    """The base of a resource as a write answers it (a revocation, a lock, a dispute, ...):
    ``log`` is the entry the write appended, from the context (``{"log": AppendedEntry}``),
    or the entry of the state it found when it changed nothing (locking a locked
    certificate), or null (unlocking an unlocked one). A read of the resource has no ``log``:
    its ``*_log_index`` fields give where its entries are once sequenced."""

    log = serializers.SerializerMethodField(
        help_text="The entry this write appended: its leaf hash and the log's promise to "
        "include it; null when the write changed nothing and no entry records the state"
    )

    @extend_schema_field(AppendedLog(allow_null=True))
    def get_log(self, _instance: Any) -> dict[str, Any] | None:
        appended = self.context.get("log")
        return None if appended is None else dict(AppendedLog(appended).data)


class CommittedLog(AppendedLog):
    """A version-2 entry appended, with what only the caller gets: the opening of its
    commitment and the content it commits to, so that the caller can check its own entry."""

    # Serialises a transparency.entries.CommittedEntry.
    opening = Base64Field(help_text="The commitment's 32-byte HMAC-SHA256 key")
    content = serializers.SerializerMethodField(
        help_text="The object committed to: the entry's commitment is "
        "HMAC-SHA256(opening, canonical JSON of content)"
    )

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_content(self, entry: Any) -> Any:
        return json.loads(entry.content)


def _size_field(*, min_value: int = 0, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=min_value, max_value=MAX_TREE_SIZE, **kwargs)


class CosignatureOutput(serializers.Serializer[Any]):
    witness = serializers.CharField(help_text="The witness's name in the log's witness policy")
    verifier_key = serializers.CharField(help_text="Its cosigner key (C2SP tlog-cosignature)")
    timestamp = serializers.IntegerField(help_text="When it cosigned (POSIX seconds, signed)")
    line = serializers.CharField(help_text="The signature line, as appended to the note")


class CheckpointOutput(serializers.Serializer[Any]):
    origin = serializers.CharField()
    size = serializers.IntegerField()
    root_hash = Base64Field()
    note = serializers.CharField(
        help_text="The signed checkpoint (C2SP signed note), with the witnesses' cosignature "
        "lines appended; the same bytes as /log/checkpoint"
    )
    cosignatures = CosignatureOutput(many=True)
    created_at = serializers.DateTimeField()


class EntriesQuery(serializers.Serializer[Any]):
    start = _size_field()
    end = _size_field(required=False, help_text=f"Exclusive; at most start+{PAGE_LIMIT}")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.setdefault("end", attrs["start"] + PAGE_LIMIT)
        if end <= attrs["start"]:
            raise serializers.ValidationError({"end": "Must be greater than start."})
        if end - attrs["start"] > PAGE_LIMIT:
            raise serializers.ValidationError({"end": f"At most {PAGE_LIMIT} entries a page."})
        return attrs


class EntryOutput(LogPosition):
    # Serialises a transparency.selectors.EntryRow.

    kind = serializers.CharField()
    entry = Base64Field(source="data", help_text="The entry's exact bytes (canonical JSON)")


class EntriesOutput(serializers.Serializer[Any]):
    start = serializers.IntegerField()
    end = serializers.IntegerField(help_text="Exclusive")
    size = serializers.IntegerField(help_text="Tree size of the latest checkpoint")
    entries = EntryOutput(many=True)
    next = serializers.IntegerField(allow_null=True, help_text="start of the next page")


class InclusionQuery(serializers.Serializer[Any]):
    index = _size_field(required=False)
    leaf_hash = Base64HashField(required=False)
    size = _size_field(required=False, help_text="Defaults to the latest checkpoint")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("index" in attrs) == ("leaf_hash" in attrs):
            raise serializers.ValidationError("Give exactly one of index and leaf_hash.")
        return attrs


class InclusionOutput(LogPosition):
    size = serializers.IntegerField()
    proof = _hashes(help_text="RFC 9162 §2.1.3 inclusion proof")


class ConsistencyQuery(serializers.Serializer[Any]):
    to = _size_field(required=False, help_text="Defaults to the latest checkpoint")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # "from" is a Python keyword, so it cannot be declared as a class attribute.
        return {"from": _size_field(min_value=1), **super().get_fields()}


class ConsistencyOutput(serializers.Serializer[Any]):
    to = serializers.IntegerField()
    proof = _hashes(help_text="RFC 9162 §2.1.4 consistency proof")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {"from": serializers.IntegerField(), **super().get_fields()}


class LogKeyOutput(serializers.Serializer[Any]):
    origin = serializers.CharField()
    note_verifier_key = serializers.CharField(
        help_text="Checkpoint verifier key, C2SP signed-note format"
    )
    vrf_suite = serializers.CharField()
    vrf_public_key = Base64Field(help_text="32 bytes")
    promise_verifier_key = serializers.CharField(
        help_text="Verifier key of the log's promises of inclusion (<origin>/promise), C2SP "
        "signed-note format; never the checkpoint key"
    )


@extend_schema_field(OpenApiTypes.STR)
class HexField(serializers.Field[bytes, str, str, Any]):
    """Bytes, written as lowercase hex; read-only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: bytes) -> str:
        return value.hex()


class LabelOutput(serializers.Serializer[Any]):
    # Serialises {"number": e164, "label": transparency.labels.NumberLabel}.

    number = serializers.CharField(help_text="E.164")
    label = HexField(  # type: ignore[assignment]  # a field, not Field.label
        source="label.label", help_text="The number's VRF label (hex), as log entries name it"
    )
    vrf_proof = Base64Field(source="label.proof", help_text="RFC 9381 proof of the label")
