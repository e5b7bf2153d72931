"""Serializers of the CA API: one input and one output shape per operation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ca.choices import ChallengeStatus, RequestStatus
from ca.csr import MAX_CSR_LENGTH
from ca.models import Certificate, CertificateRequest, Challenge, Dispute
from ca.selectors import CERTIFICATE_STATES, certificate_pem, chain_pems
from ca.services.issuance import IssuedCertificate
from core.encoding import b64
from core.numbers import MAX_INPUT_LENGTH, number_parse
from core.pagination import PageQuery
from core.problems import Problem
from transparency.api.serializers import CommittedLog, WriteOutput, log_index_field
from transparency.selectors import entry_committed


class ChallengeStartInput(serializers.Serializer[Any]):
    number = serializers.CharField(
        max_length=MAX_INPUT_LENGTH,
        trim_whitespace=True,
        help_text="E.164, with '+' and the country code: +33612345678",
    )


class _NumberFilter(serializers.CharField):
    """A list's ``number`` filter: any spelling of a number, compared in E.164. A ``+`` sent
    unencoded in a query string arrives as a space: it is read as the ``+`` it was."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = str(super().to_internal_value(data))
        if text.startswith(" ") and text.strip()[:1].isdigit():
            text = "+" + text.strip()
        try:
            return number_parse(text).e164
        except Problem as error:  # malformed, or not a number
            raise serializers.ValidationError(str(error.detail)) from None


class StatusFilter(serializers.ChoiceField):
    """A list's ``status`` filter: ``?status=`` (empty) is refused as no state, where DRF would
    read it as no filter at all."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def get_value(self, dictionary: Any) -> Any:
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class ChallengeListQuery(PageQuery):
    number = _NumberFilter(
        required=False, max_length=MAX_INPUT_LENGTH, help_text="Only this number's (E.164)"
    )
    status = StatusFilter(choices=ChallengeStatus.values, help_text="Only those in this state")


class CertificateListQuery(PageQuery):
    number = _NumberFilter(
        required=False, max_length=MAX_INPUT_LENGTH, help_text="Only this number's (E.164)"
    )
    status = StatusFilter(choices=CERTIFICATE_STATES, help_text="Only those in this state")


class ChallengeOutput(serializers.Serializer[Challenge]):
    id = serializers.UUIDField()
    number = serializers.CharField(help_text="E.164")
    status = serializers.CharField(help_text="pending, verified, used, failed or cancelled")
    expires_at = serializers.DateTimeField()
    attempts_left = serializers.SerializerMethodField()
    delivery = serializers.CharField(
        source="delivery_status",
        help_text="queued, retrying, accepted, sent, delivered, undelivered or failed",
    )
    delivery_error = serializers.CharField(
        help_text=(
            "Why the SMS is being retried or failed (e.g. the SMS provider's error code, or "
            "that it could not be sent before the challenge expired); empty otherwise"
        ),
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
    renewal = serializers.CharField(
        required=False,
        max_length=4096,
        help_text=(
            "To renew a valid certificate of the number, carrying its handlers and lock over: "
            "a compact JWS (ES256) made with that certificate's key, kid its serial, over "
            '{"renews": serial, "challenge": this challenge\'s id, "iat", "jti"}'
        ),
    )


X5U_HELP = (
    "Where the certificate and chain are served (PASSporT x5u), by an unguessable id, not the "
    "serial: only the certificate's provider and the PASSporTs its key signs carry it"
)


# What POST /v1/certificates answers, made from ca.services.issuance's IssuedCertificate.
class CertificateIssuedOutput(serializers.Serializer[IssuedCertificate]):
    serial = serializers.CharField(source="certificate.serial", help_text="32 hex digits")
    certificate = serializers.SerializerMethodField(help_text="PEM")
    chain = serializers.SerializerMethodField(
        help_text="PEM issuers up to, not including, the root"
    )
    not_before = serializers.DateTimeField(source="certificate.not_before")
    not_after = serializers.DateTimeField(source="certificate.not_after")
    x5u = serializers.URLField(
        source="certificate.x5u",
        help_text=X5U_HELP,
    )
    log = CommittedLog(
        help_text="The certificate's log entry, with the opening and content of its commitment"
    )
    renews = serializers.CharField(
        source="renews.serial",
        allow_null=True,
        default=None,
        help_text="A renewal's certificate renewed (its serial); null otherwise",
    )
    handlers_carried = serializers.IntegerField(
        help_text="How many handlers a renewal moved to this certificate (each logged again)"
    )

    def get_certificate(self, issued: IssuedCertificate) -> str:
        return certificate_pem(issued.certificate)

    def get_chain(self, issued: IssuedCertificate) -> list[str]:
        return chain_pems()


class CertificateOutput(serializers.Serializer[Certificate]):
    serial = serializers.CharField()
    provider = serializers.CharField(source="provider.slug", help_text="The provider's slug")
    status = serializers.CharField(help_text="valid, revoked, expired or not_yet_valid")
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revocation_reason = serializers.CharField(allow_blank=True)
    x5u = serializers.URLField(help_text=X5U_HELP)
    log_index = log_index_field("log_entry", "The certificate's entry")
    revocation_log_index = log_index_field("revocation_log_entry", "The revocation's entry")
    locked = serializers.BooleanField(
        source="is_locked",
        help_text="Whether this certificate's lock holds on its number (DESIGN §7.2)",
    )
    locked_at = serializers.DateTimeField(allow_null=True)
    lock_log_index = log_index_field("lock_log_entry", "The lock's entry")


class CertificateChangeOutput(CertificateOutput, WriteOutput):
    """A certificate as its revocation, lock or unlock answers it, with the entry appended."""


class CertificateRequestOutput(serializers.Serializer[CertificateRequest]):
    """A certificate held back by a number lock. The requester also sees its certificate once
    issued (``certificate``); the holders see who asked and for which key."""

    id = serializers.UUIDField()
    number = serializers.CharField(help_text="E.164")
    requester = serializers.CharField(source="provider.slug", help_text="The requester's slug")
    status = serializers.CharField(help_text="pending, approved, refused, waited or unlocked")
    public_key_sha256 = serializers.SerializerMethodField(
        help_text="SHA-256 of the key to certify (SubjectPublicKeyInfo), hex"
    )
    created_at = serializers.DateTimeField()
    issues_at = serializers.DateTimeField(help_text="Issued then unless a locked holder answers")
    closed_at = serializers.DateTimeField(allow_null=True)
    log_index = log_index_field("log_entry", "Its entry")
    closed_log_index = log_index_field("closed_log_entry", "The entry that closed it")
    certificate = serializers.SerializerMethodField(
        help_text="The certificate issued, for the requester only: what POST /v1/certificates "
        "answers (201), its log entry's opening included"
    )

    def get_public_key_sha256(self, request: CertificateRequest) -> str:
        return bytes(request.public_key_sha256).hex()

    @extend_schema_field(CertificateIssuedOutput(allow_null=True))
    def get_certificate(self, request: CertificateRequest) -> dict[str, Any] | None:
        viewer = self.context.get("provider")
        issued = request.certificate
        if issued is None or viewer is None or viewer.pk != request.provider_id:
            return None
        entry = entry_committed(entry_id=issued.log_entry_id)
        if entry is None:  # its opening was erased: the certificate alone would not check
            return None
        return dict(CertificateIssuedOutput(IssuedCertificate(certificate=issued, log=entry)).data)


class CertificateRequestChangeOutput(CertificateRequestOutput, WriteOutput):
    """A certificate request as its opening (202) or a holder's answer gives it, with the entry
    appended (the request's, or the one that closed it)."""


class CertificateRequestListQuery(serializers.Serializer[Any]):
    status = StatusFilter(choices=RequestStatus.values, help_text="Only those in this state")


class CertificateRequestListOutput(serializers.Serializer[Any]):
    results = CertificateRequestOutput(many=True)


class DisputeOutput(serializers.Serializer[Dispute]):
    id = serializers.UUIDField()
    number = serializers.CharField(help_text="E.164")
    disputed = serializers.CharField(source="disputed.serial", help_text="The disputed serial")
    certificate = serializers.CharField(
        source="disputer.serial", help_text="The holder's certificate that signed the dispute"
    )
    status = serializers.CharField(help_text="open, revoked or dismissed")
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField(help_text="The operator's reason, once closed")
    log_index = log_index_field("log_entry", "Its entry")
    closed_log_index = log_index_field("closed_log_entry", "The entry that closed it")


class DisputeOpenedOutput(DisputeOutput, WriteOutput):
    """A dispute just opened, with its entry."""


# --- PASSporT verification --------------------------------------------------------------------

MAX_PASSPORT_LENGTH = 8 * 1024
# Base64 characters of a message body; the request as a whole is capped by RS_MAX_REQUEST_BYTES.
MAX_BODY_LENGTH = 64 * 1024


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn ``123`` into ``"123"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BYTE)
class Base64BytesField(serializers.Field[bytes, str, str, Any]):
    """Bytes as standard, padded base64 (RFC 4648 §4); the empty string is the empty body."""

    default_error_messages = {
        "invalid": "Must be standard base64 (RFC 4648 §4, padded).",
        "max_length": "At most {max_length} base64 characters.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def to_internal_value(self, data: Any) -> bytes:
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            self.fail("invalid")

    def to_representation(self, value: bytes) -> str:
        return b64(value)


class PassportVerifyInput(serializers.Serializer[Any]):
    passport = StrictCharField(
        max_length=MAX_PASSPORT_LENGTH,
        trim_whitespace=False,
        help_text="The PASSporT as a compact JWS (RFC 8225 §7: header.claims.signature)",
    )
    body = Base64BytesField(
        max_length=MAX_BODY_LENGTH,
        required=False,
        allow_null=True,
        help_text='The message body a "msg" PASSporT protects (msgi), base64; only for "msg"',
    )


class PassportClaimsOutput(serializers.Serializer[Any]):
    orig = serializers.CharField(help_text="orig.tn, E.164 ('+' added)")
    dest = serializers.ListField(
        child=serializers.CharField(), help_text="dest.tn, E.164 ('+' added)"
    )
    dest_uri = serializers.ListField(child=serializers.CharField(), help_text="dest.uri")
    iat = serializers.IntegerField(help_text="Seconds since the epoch")
    ppt = serializers.CharField(allow_null=True, help_text='null, "shaken" or "msg"')
    x5u = serializers.CharField(help_text="Where the signer's certificate chain was taken from")


class PassportCertificateOutput(serializers.Serializer[Any]):
    serial = serializers.CharField(help_text="Lowercase hex")
    issuer = serializers.CharField(help_text="The issuing CA's name (RFC 4514)")
    not_after = serializers.DateTimeField()


class PassportVerdictOutput(serializers.Serializer[Any]):
    verdict = serializers.ChoiceField(choices=["valid", "invalid"])
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why it is invalid, as stable codes (docs/passports.md); empty when valid",
    )
    passport = PassportClaimsOutput(
        allow_null=True, help_text="The claims as read, verified or not; null when unreadable"
    )
    certificate = PassportCertificateOutput(
        allow_null=True, help_text="The signer's certificate x5u named; null when none was had"
    )
