"""Serializers of the CA API: one input and one output shape per operation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ca.csr import MAX_CSR_LENGTH
from ca.models import Certificate, Challenge
from core.numbers import MAX_INPUT_LENGTH


class ChallengeStartInput(serializers.Serializer[Any]):
    number = serializers.CharField(
        max_length=MAX_INPUT_LENGTH,
        trim_whitespace=True,
        help_text="E.164, with '+' and the country code: +33612345678",
    )


class ChallengeOutput(serializers.Serializer[Challenge]):
    id = serializers.UUIDField()
    number = serializers.CharField(help_text="E.164")
    status = serializers.CharField(help_text="pending, verified, used or failed")
    expires_at = serializers.DateTimeField()
    attempts_left = serializers.SerializerMethodField()
    delivery = serializers.CharField(
        source="delivery_status",
        help_text="queued, retrying, accepted, sent, delivered, undelivered or failed",
    )

    def get_attempts_left(self, challenge: Challenge) -> int:
        from django.conf import settings

        return max(settings.RS_CHALLENGE_MAX_ATTEMPTS - challenge.attempts, 0)


class ChallengeVerifyInput(serializers.Serializer[Any]):
    code = serializers.RegexField(
        r"^[0-9]{6,10}$",
        help_text="The digits of the SMS",
        error_messages={"invalid": "Digits only."},
    )


class CertificateIssueInput(serializers.Serializer[Any]):
    challenge = serializers.UUIDField(help_text="A verified challenge of the calling provider")
    csr = serializers.CharField(
        max_length=MAX_CSR_LENGTH,
        trim_whitespace=False,
        help_text="PEM PKCS #10 request for a P-256 key; its subject and extensions are ignored",
    )


class LogPositionOutput(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="Base64 SHA-256(0x00 ‖ entry)")


class CertificateIssuedOutput(serializers.Serializer[Any]):
    serial = serializers.CharField(help_text="32 hex digits")
    certificate = serializers.CharField(help_text="PEM")
    chain = serializers.ListField(
        child=serializers.CharField(), help_text="PEM issuers up to, not including, the root"
    )
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    x5u = serializers.URLField(
        help_text="Where the certificate and chain are served (PASSporT x5u)"
    )
    log = LogPositionOutput()


class CertificateOutput(serializers.Serializer[Certificate]):
    serial = serializers.CharField()
    provider = serializers.CharField(source="provider.slug", help_text="The provider's slug")
    status = serializers.CharField(help_text="valid, revoked, expired or not_yet_valid")
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revocation_reason = serializers.CharField(allow_blank=True)
    x5u = serializers.URLField()
    log_index = serializers.IntegerField()
    revocation_log_index = serializers.IntegerField(allow_null=True)
