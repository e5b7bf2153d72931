"""Serializers of the directory API: one input and one output shape per operation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class LogPosition(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 ‖ entry), base64")


class HandlerOutput(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="E.164")
    provider = serializers.SlugField()
    service = serializers.CharField()
    uri = serializers.CharField()
    priority = serializers.IntegerField()
    visibility = serializers.JSONField(help_text='"all", or the slugs of the providers that see it')
    expires_at = serializers.CharField(help_text="The certificate's notAfter (RFC 3339)")
    certificate = serializers.CharField(help_text="The serial of the certificate that signed it")
    log = LogPosition()


class HandlerRemovedOutput(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="E.164")
    provider = serializers.SlugField()
    service = serializers.CharField()
    log = LogPosition()


class LookupLog(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    entry = serializers.CharField(help_text="The entry's exact bytes (canonical JSON), base64")
    opening = serializers.CharField(help_text="The commitment's 32-byte HMAC key, base64")
    inclusion_proof = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="Hashes (base64) proving the entry is in the checkpoint; null when pending",
    )
    pending = serializers.BooleanField(help_text="Not yet in the checkpoint (merge delay)")


class LookupHandler(serializers.Serializer[Any]):
    provider = serializers.SlugField()
    service = serializers.CharField()
    uri = serializers.CharField()
    priority = serializers.IntegerField()
    expires_at = serializers.CharField(help_text="RFC 3339, as the commitment covers it")
    certificate = serializers.CharField(help_text="Certificate serial")
    log = LookupLog()


class LookupOutput(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="E.164")
    label = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.label
        help_text="The number's VRF label (hex), as log entries name it"
    )
    vrf_proof = serializers.CharField(help_text="RFC 9381 proof of the label (base64)")
    checkpoint = serializers.CharField(
        allow_null=True, help_text="The latest signed checkpoint (C2SP signed note)"
    )
    handlers = LookupHandler(many=True)


class LookupQuery(serializers.Serializer[Any]):
    service = serializers.CharField(required=False, max_length=16)
