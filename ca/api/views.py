"""CA API views: parse, call one service or selector, serialise.

``/v1/…`` is for providers (API key); ``/ca/…`` is the public certificate repository that
relying parties fetch without an account; ``/v1/twilio/status`` is Twilio's, signed by it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ca.api import serializers as s
from ca.authority import ca_keys
from ca.choices import RevocationReason
from ca.limits import ChallengeRateLimited
from ca.models import Certificate, CertificateRequest
from ca.passports import PassportVerdict, certificate_serial
from ca.problems import (
    CertificateExpired,
    CertificateNotForNumber,
    CertificateNotFound,
    CertificateRequestClosed,
    CertificateRequestNotFound,
    CertificateRevoked,
    ChallengeAlreadyVerified,
    ChallengeCancelled,
    ChallengeCodeWrong,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotForNumber,
    ChallengeNotFound,
    ChallengeNotVerified,
    ChallengeUsed,
    CountryNotAllowed,
    CrlUnavailable,
    CsrKeyUnsupported,
    CsrMalformed,
    CsrSignatureInvalid,
    DisputeAlreadyOpen,
    DisputeInvalid,
    DisputeNotFound,
    HolderNotLocked,
    NumberNotServed,
    TwilioSignatureInvalid,
)
from ca.selectors import (
    MAX_REQUESTS_LISTED,
    certificate_chain_pem,
    certificate_get,
    certificate_in_repository,
    certificate_request_visible,
    certificate_requests_visible,
    certificates_of,
    challenge_get,
    challenges_of,
    crl_latest,
    dispute_get,
)
from ca.services.challenges import challenge_cancel, challenge_start, challenge_verify
from ca.services.delivery import challenge_delivery_report
from ca.services.issuance import certificate_issue
from ca.services.locks import (
    certificate_request_approve,
    certificate_request_refuse,
    dispute_open,
    number_lock,
    number_unlock,
)
from ca.services.passports import passport_check
from ca.services.renewal import certificate_renew
from ca.services.revocation import certificate_revoke_signed
from ca.sms.twilio import twilio_signature_valid
from core.numbers import NumberInvalid, NumberMalformed, NumberNotMobile
from core.pagination import CursorInvalid, keyset_page, page_of, page_response
from core.problems import ServiceUnavailable
from core.schema import jws_payload, jws_request, problem
from core.signed_requests import (
    JoseParser,
    SignedRequestMalformed,
    SignedRequestMismatch,
    SignedRequestReplayed,
    SignedRequestSignatureInvalid,
    SignedRequestStale,
)
from core.throttling import SMS_SENDING_THROTTLES, CaReadRateThrottle, client_address
from providers.authentication import caller_provider
from providers.idempotency import idempotent
from providers.permissions import DirectoryScope, LookupScope
from resolution.protocol.lock import (
    DECISION_FIELDS,
    DISPUTE_FIELDS,
    LOCK_FIELDS,
    RENEWAL_FIELDS,
    STATEMENT_LENGTH,
)
from transparency.selectors import entry_appended

PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1
CERTIFICATE_CACHE = "public, max-age=86400"
# Before the first CRL is signed (by `manage.py bootstrap`, or beat's ca.tasks.crl_refresh).
CRL_RETRY_AFTER_SECONDS = 60


# The payloads of the signed requests, over the field sets their services check.
SERIAL = {"type": "string", "maxLength": 40, "description": "A certificate's serial (hex)"}
UUID = {"type": "string", "format": "uuid"}
LOCK_PAYLOAD = jws_payload("LockPayload", LOCK_FIELDS, serial=SERIAL)
DECISION_PAYLOAD = jws_payload(
    "DecisionPayload", DECISION_FIELDS, request={**UUID, "description": "The request's id"}
)
DISPUTE_PAYLOAD = jws_payload(
    "DisputePayload",
    DISPUTE_FIELDS,
    optional=frozenset({"statement"}),
    disputed={**SERIAL, "description": "The serial of the certificate disputed"},
    challenge={**UUID, "description": "A challenge for the number the caller just verified"},
    statement={"type": "string", "maxLength": STATEMENT_LENGTH},
)
RENEWAL_PAYLOAD = jws_payload(
    "RenewalPayload",
    RENEWAL_FIELDS,
    renews={**SERIAL, "description": "The serial of the certificate renewed"},
    challenge={**UUID, "description": "The body's challenge"},
)
REVOKE_PAYLOAD = jws_payload(
    "RevokePayload",
    frozenset({"serial", "reason", "iat"}),
    optional=frozenset({"reason"}),
    serial=SERIAL,
    reason={"type": "string", "enum": list(RevocationReason.values), "default": "unspecified"},
)


# A list's filters, limit or cursor that cannot be read (core.pagination).
LIST_PROBLEMS = problem("validation-error", CursorInvalid)
# A challenge that cannot be spent for a certificate (ca.services.issuance.challenge_spend).
CHALLENGE_SPENT = problem(ChallengeUsed, ChallengeFailed, ChallengeCancelled, ChallengeNotVerified)


# What a request signed with a holder's certificate key may get (ca.services.locks.
# signed_by_holder, certificate_hold, jti_spend); its 415 is the shared machinery's.
SIGNED_PROBLEMS = {
    400: problem(SignedRequestMalformed, SignedRequestStale, SignedRequestMismatch),
    403: problem(SignedRequestSignatureInvalid),
    409: problem(SignedRequestReplayed, CertificateRevoked, CertificateExpired),
}
# A locked holder's answer to a certificate request (ca.services.locks).
DECISION_PROBLEMS = {
    **SIGNED_PROBLEMS,
    403: SIGNED_PROBLEMS[403]
    | problem(
        HolderNotLocked,
        CertificateNotForNumber,
        note="Not signed by a locked holder of the request's number.",
    ),
    404: problem(CertificateRequestNotFound, CertificateNotFound),
    409: SIGNED_PROBLEMS[409] | problem(CertificateRequestClosed),
}


def _client_ip(request: Request) -> str:
    """The client's address, behind RS_TRUSTED_PROXIES proxies (as the throttles see it)."""
    return str(client_address(request))


class ChallengesApi(APIView):
    """Start an SMS challenge: the number receives a one-time code; or list the caller's
    challenges, newest first."""

    permission_classes = [DirectoryScope]

    def get_throttles(self) -> list[Any]:
        # The API's rates, refused (503) rather than counted per process while the cache is
        # down, for what sends an SMS; a list is an ordinary read.
        if self.request.method == "POST":
            return [throttle() for throttle in SMS_SENDING_THROTTLES]
        return super().get_throttles()

    @extend_schema(
        operation_id="challenges_list",
        parameters=[s.ChallengeListQuery],
        responses={
            200: page_of("ChallengePage", s.ChallengeOutput(many=True)),
            400: LIST_PROBLEMS,
        },
    )
    def get(self, request: Request) -> Response:
        query = s.ChallengeListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        challenges = challenges_of(
            provider=caller_provider(request),
            number=query.validated_data.get("number"),
            status=query.validated_data.get("status"),
        )
        page = keyset_page(challenges, request, keys=("created_at", "id"))
        return page_response([s.ChallengeOutput(row).data for row in page.rows], page)

    @extend_schema(
        operation_id="challenges_start",
        request=s.ChallengeStartInput,
        responses={
            201: s.ChallengeOutput,
            400: problem(NumberMalformed, NumberInvalid, NumberNotMobile),
            403: problem(CountryNotAllowed),
            421: problem(
                NumberNotServed,
                note="Another resolution service serves the number: `served_by` names those known.",
            ),
            429: problem(
                ChallengeRateLimited,
                note="A limit per number, provider, client IP or country was reached: `scope` "
                "says which.",
            ),
            503: problem(ServiceUnavailable, note="Also while the cache of the limits is down."),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.ChallengeStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = challenge_start(
            provider=caller_provider(request),
            number=data.validated_data["number"],
            client_ip=_client_ip(request),
        )
        return Response(s.ChallengeOutput(challenge).data, status=201)


class ChallengeApi(APIView):
    """A challenge's state, delivery included (never its code)."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="challenges_get",
        responses={200: s.ChallengeOutput, 404: problem(ChallengeNotFound)},
    )
    def get(self, request: Request, challenge_id: uuid.UUID) -> Response:
        challenge = challenge_get(provider=caller_provider(request), challenge_id=challenge_id)
        if challenge is None:
            raise ChallengeNotFound("The calling provider has no challenge with this id.")
        return Response(s.ChallengeOutput(challenge).data)


class ChallengeCancelApi(APIView):
    """Cancel a challenge: an action on it, like its answer (the challenge stays, cancelled)."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="challenges_cancel",
        request=None,
        responses={
            200: s.ChallengeOutput,
            404: problem(ChallengeNotFound),
            409: problem(ChallengeUsed),
        },
    )
    @idempotent
    def post(self, request: Request, challenge_id: uuid.UUID) -> Response:
        """Cancel the challenge: its code is refused from now on, its SMS is not sent if it has
        not been yet. It still counts against the SMS limits, and shows as ``cancelled``.
        Cancelling it again answers the same."""
        challenge = challenge_cancel(provider=caller_provider(request), challenge_id=challenge_id)
        return Response(s.ChallengeOutput(challenge).data)


class ChallengeVerifyApi(APIView):
    """Answer a challenge with the code from the SMS."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="challenges_verify",
        request=s.ChallengeVerifyInput,
        responses={
            200: s.ChallengeOutput,
            400: problem(ChallengeCodeWrong, note="`attempts_left` says how many remain."),
            404: problem(ChallengeNotFound),
            409: problem(
                ChallengeAlreadyVerified, ChallengeUsed, ChallengeFailed, ChallengeCancelled
            ),
            410: problem(ChallengeExpired),
        },
    )
    @idempotent
    def post(self, request: Request, challenge_id: uuid.UUID) -> Response:
        data = s.ChallengeVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = challenge_verify(
            provider=caller_provider(request),
            challenge_id=challenge_id,
            code=data.validated_data["code"],
        )
        return Response(s.ChallengeOutput(challenge).data)


class CertificatesApi(APIView):
    """Issue a number certificate for a CSR, spending a verified challenge; or list the
    caller's certificates, newest first."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="certificates_list",
        parameters=[s.CertificateListQuery],
        responses={
            200: page_of("CertificatePage", s.CertificateOutput(many=True)),
            400: LIST_PROBLEMS,
        },
    )
    def get(self, request: Request) -> Response:
        query = s.CertificateListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        certificates = certificates_of(
            provider=caller_provider(request),
            number=query.validated_data.get("number"),
            status=query.validated_data.get("status"),
        )
        page = keyset_page(certificates, request, keys=("created_at", "id"))
        return page_response([s.CertificateOutput(row).data for row in page.rows], page)

    @extend_schema(
        operation_id="certificates_issue",
        request=s.CertificateIssueInput,
        **jws_request(RENEWAL_PAYLOAD, field="renewal"),
        responses={
            201: s.CertificateIssuedOutput,
            202: OpenApiResponse(
                s.CertificateRequestChangeOutput,
                description="The number is locked by a holder with another key: the request "
                "waits for a locked holder's answer or the end of the wait (Location: the "
                "request to poll)",
            ),
            # With `renewal`, also what a holder's signed request may get (SIGNED_PROBLEMS).
            400: problem(
                CsrMalformed, CsrKeyUnsupported, CsrSignatureInvalid, ChallengeNotForNumber
            )
            | SIGNED_PROBLEMS[400],
            403: SIGNED_PROBLEMS[403],
            404: problem(ChallengeNotFound, CertificateNotFound),
            409: CHALLENGE_SPENT | SIGNED_PROBLEMS[409],
            410: problem(ChallengeExpired),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.CertificateIssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        provider = caller_provider(request)
        if "renewal" in data.validated_data:
            issued = certificate_renew(
                provider=provider,
                challenge_id=data.validated_data["challenge"],
                csr=data.validated_data["csr"],
                token=data.validated_data["renewal"],
            )
        else:
            issued = certificate_issue(
                provider=provider,
                challenge_id=data.validated_data["challenge"],
                csr=data.validated_data["csr"],
            )
        if isinstance(issued, CertificateRequest):
            return _request_response(
                issued, provider=provider, status=202, entry_id=issued.log_entry_id
            )
        return Response(s.CertificateIssuedOutput(issued).data, status=201)


def _own_certificate(request: Request, serial: str) -> Certificate:
    """The caller's certificate with this serial; another provider's is not found, as an
    unknown serial is not, so that a serial tells no one else whether it exists."""
    certificate = certificate_get(provider=caller_provider(request), serial=serial)
    if certificate is None:
        raise CertificateNotFound("The calling provider has no certificate with this serial.")
    return certificate


class CertificateApi(APIView):
    """A certificate's state: valid, revoked or expired, with its log entries and x5u.

    Only the provider it was issued through sees it.
    """

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="certificates_get",
        responses={200: s.CertificateOutput, 404: problem(CertificateNotFound)},
    )
    def get(self, request: Request, serial: str) -> Response:
        return Response(s.CertificateOutput(_own_certificate(request, serial)).data)


class CertificateRevokeApi(APIView):
    """Revoke a certificate, asked by its holder: the body is a JWS made with its key.

    The payload is ``{"serial": "<serial>", "iat": <seconds>, "reason": "keyCompromise"}``
    (``reason`` optional: one of the RFC 5280 names), signed ES256 (compact, ``application/jose``).
    It is sent with the API key of the provider the certificate was issued through: to any
    other, the certificate is not found.
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="certificates_revoke",
        **jws_request(REVOKE_PAYLOAD),
        responses={
            200: s.CertificateChangeOutput,
            400: SIGNED_PROBLEMS[400],
            403: SIGNED_PROBLEMS[403],
            404: problem(CertificateNotFound),
            409: problem(CertificateRevoked, CertificateExpired),
        },
    )
    @idempotent
    def post(self, request: Request, serial: str) -> Response:
        certificate = _own_certificate(request, serial)
        revoked = certificate_revoke_signed(certificate=certificate, token=request.data)
        assert revoked.revocation_log_entry_id is not None  # ca_certificate_revocation_complete
        return _certificate_response(revoked, revoked.revocation_log_entry_id)


# --- The number lock (DESIGN §7.2) ----------------------------------------------------------------


def _certificate_response(certificate: Certificate, entry_id: int | None) -> Response:
    """A certificate as a write answers it, with the entry ``entry_id`` (the one it appended)."""
    log = None if entry_id is None else entry_appended(entry_id=entry_id)
    return Response(s.CertificateChangeOutput(certificate, context={"log": log}).data)


def _request_response(
    request: CertificateRequest, *, provider: Any, status: int = 200, entry_id: int | None = None
) -> Response:
    """A certificate request as a read gives it, or with ``entry_id`` as a write answers it:
    with the entry it appended."""
    if entry_id is None:
        body = s.CertificateRequestOutput(request, context={"provider": provider}).data
    else:
        context = {"provider": provider, "log": entry_appended(entry_id=entry_id)}
        body = s.CertificateRequestChangeOutput(request, context=context).data
    headers = {"Location": f"/v1/certificate-requests/{request.id}"} if status == 202 else None
    return Response(body, status=status, headers=headers)


class CertificateLockApi(APIView):
    """Lock the certificate's number: until this certificate ends, a certificate for the number
    to any other key waits for this holder's answer (or ``RS_LOCK_WAIT_SECONDS``).

    The body is a JWS (ES256, ``application/jose``) made with the certificate's key over
    ``{"serial", "iat", "jti"}``. Locking a locked certificate changes nothing.
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="certificates_lock",
        **jws_request(LOCK_PAYLOAD),
        responses={
            200: s.CertificateChangeOutput,
            404: problem(CertificateNotFound),
            **SIGNED_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request: Request, serial: str) -> Response:
        locked = number_lock(provider=caller_provider(request), serial=serial, token=request.data)
        # The lock's entry: this write's, or the one that locked it before (nothing changed).
        return _certificate_response(locked, locked.lock_log_entry_id)


class CertificateUnlockApi(APIView):
    """Lift the certificate's lock; requests it held back are issued once no lock holds.

    The body is a JWS made with the certificate's key over ``{"serial", "iat", "jti"}``.
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="certificates_unlock",
        **jws_request(LOCK_PAYLOAD),
        responses={
            200: s.CertificateChangeOutput,
            404: problem(CertificateNotFound),
            **SIGNED_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request: Request, serial: str) -> Response:
        unlocked, entry = number_unlock(
            provider=caller_provider(request), serial=serial, token=request.data
        )
        return _certificate_response(unlocked, None if entry is None else entry.entry_id)


class CertificateRequestsApi(APIView):
    """The certificate requests held back by a lock that the caller may see: its own, and
    those for the numbers it holds a valid certificate for; newest first, at most 100.
    ``?status=pending`` lists the pending ones only."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="certificate_requests_list",
        parameters=[s.CertificateRequestListQuery],
        responses={
            200: s.CertificateRequestListOutput,
            400: problem("validation-error", note="An unknown status."),
        },
    )
    def get(self, request: Request) -> Response:
        query = s.CertificateRequestListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        provider = caller_provider(request)
        requests = certificate_requests_visible(provider=provider)
        if query.validated_data.get("status"):
            requests = requests.filter(status=query.validated_data["status"])
        listed = list(requests[:MAX_REQUESTS_LISTED])
        out = s.CertificateRequestListOutput({"results": listed}, context={"provider": provider})
        return Response(out.data)


class CertificateRequestApi(APIView):
    """One certificate request: to its requester (with the certificate once issued) and to the
    holders of the number."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="certificate_requests_get",
        responses={200: s.CertificateRequestOutput, 404: problem(CertificateRequestNotFound)},
    )
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        provider = caller_provider(request)
        found = certificate_request_visible(provider=provider, request_id=request_id)
        if found is None:
            raise CertificateRequestNotFound("The calling provider sees no request with this id.")
        return _request_response(found, provider=provider)


class CertificateRequestApproveApi(APIView):
    """A locked holder approves a request (a second app of its own): issued at once.

    The body is a JWS made with the locked holder's certificate key, the header naming it
    (``kid``: its serial), over ``{"request", "iat", "jti"}``.
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="certificate_requests_approve",
        **jws_request(DECISION_PAYLOAD),
        responses={
            200: s.CertificateRequestChangeOutput,
            **DECISION_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request: Request, request_id: uuid.UUID) -> Response:
        provider = caller_provider(request)
        decided = certificate_request_approve(
            provider=provider, request_id=request_id, token=request.data
        )
        return _request_response(decided, provider=provider, entry_id=decided.closed_log_entry_id)


class CertificateRequestRefuseApi(APIView):
    """A locked holder refuses a request: it ends, never issued (no SMS is asked for: the SMS
    is what an intruder may hold). The body is as for approving."""

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="certificate_requests_refuse",
        **jws_request(DECISION_PAYLOAD),
        responses={
            200: s.CertificateRequestChangeOutput,
            **DECISION_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request: Request, request_id: uuid.UUID) -> Response:
        provider = caller_provider(request)
        decided = certificate_request_refuse(
            provider=provider, request_id=request_id, token=request.data
        )
        return _request_response(decided, provider=provider, entry_id=decided.closed_log_entry_id)


class DisputesApi(APIView):
    """Dispute a foreign certificate for one's number: it goes on the operator's queue.

    The body is a JWS made with the holder's own certificate key, the header naming it
    (``kid``), over ``{"disputed": "<serial>", "challenge": "<id>", "statement"?, "iat",
    "jti"}``: ``challenge`` is a challenge for the number that the caller verified just before
    (a fresh proof of control, spent here).
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="disputes_open",
        **jws_request(DISPUTE_PAYLOAD),
        responses={
            201: s.DisputeOpenedOutput,
            **SIGNED_PROBLEMS,
            400: SIGNED_PROBLEMS[400] | problem(ChallengeNotForNumber),
            404: problem(
                ChallengeNotFound,
                CertificateNotFound,
                note="No such challenge, or no certificate for the number with this serial.",
            ),
            409: SIGNED_PROBLEMS[409]
            | CHALLENGE_SPENT
            | problem(
                DisputeInvalid,
                DisputeAlreadyOpen,
                note="The certificate disputed ended or is the holder's own, or it is disputed "
                "already.",
            ),
            410: problem(ChallengeExpired),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        dispute = dispute_open(provider=caller_provider(request), token=request.data)
        context = {"log": entry_appended(entry_id=dispute.log_entry_id)}
        return Response(s.DisputeOpenedOutput(dispute, context=context).data, status=201)


class DisputeApi(APIView):
    """A dispute the caller opened, and how the operator closed it."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="disputes_get",
        responses={200: s.DisputeOutput, 404: problem(DisputeNotFound)},
    )
    def get(self, request: Request, dispute_id: uuid.UUID) -> Response:
        dispute = dispute_get(provider=caller_provider(request), dispute_id=dispute_id)
        if dispute is None:
            raise DisputeNotFound("The calling provider opened no dispute with this id.")
        return Response(s.DisputeOutput(dispute).data)


def _verdict_output(verdict: PassportVerdict) -> dict[str, Any]:
    passport, certificate = verdict.passport, verdict.certificate
    return {
        "verdict": "valid" if verdict.valid else "invalid",
        "reasons": list(verdict.reasons),
        "passport": None
        if passport is None
        else {
            "orig": f"+{passport.orig}",
            "dest": [f"+{tn}" for tn in passport.dest],
            "dest_uri": list(passport.dest_uri),
            "iat": passport.iat,
            "ppt": passport.ppt,
            "x5u": passport.x5u,
        },
        "certificate": None
        if certificate is None
        else {
            "serial": certificate_serial(certificate),
            "issuer": certificate.issuer.rfc4514_string(),
            "not_after": certificate.not_valid_after_utc,
        },
    }


class PassportVerifyApi(APIView):
    """Verify a PASSporT (RFC 8225), with the message body a "msg" PASSporT protects.

    A readable request always gets 200 and a verdict: "valid", or "invalid" with the reasons
    (docs/passports.md). The signer's chain comes from x5u: our own repository, or an HTTPS
    host on RS_X5U_ALLOWED_HOSTS. A PASSporT is valid once per provider.
    """

    permission_classes = [LookupScope]

    @extend_schema(
        operation_id="passports_verify",
        request=s.PassportVerifyInput,
        responses={
            200: s.PassportVerdictOutput,
            400: problem(
                "validation-error",
                note="No passport, a passport that is not a string, too long, or a body that "
                "is not base64.",
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.PassportVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        verdict = passport_check(
            provider=caller_provider(request),
            token=data.validated_data["passport"],
            body=data.validated_data.get("body"),
        )
        return Response(s.PassportVerdictOutput(_verdict_output(verdict)).data)


class TwilioStatusApi(APIView):
    """Twilio's delivery reports (StatusCallback), accepted only with a valid X-Twilio-Signature."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        operation_id="twilio_status",
        request={
            "application/x-www-form-urlencoded": inline_serializer(
                "TwilioStatusForm",
                {
                    "MessageSid": serializers.CharField(),
                    "MessageStatus": serializers.CharField(),
                    "ErrorCode": serializers.CharField(required=False, allow_blank=True),
                },
            )
        },
        responses={204: None, 403: problem(TwilioSignatureInvalid)},
    )
    def post(self, request: Request) -> Response:
        params = request.data
        # Twilio signs the URL it was given, which is the one we gave it.
        if not twilio_signature_valid(
            url=settings.TWILIO_STATUS_CALLBACK_URL,
            params=params,
            signature=request.headers.get("X-Twilio-Signature", ""),
        ):
            raise TwilioSignatureInvalid("The request is not signed by our Twilio account.")
        challenge_delivery_report(
            message_id=str(params.get("MessageSid", ""))[:64],
            status=str(params.get("MessageStatus", "")),
            error_code=str(params.get("ErrorCode", ""))[:16],
        )
        return Response(status=204)


# --- The public repository (/ca/) ---------------------------------------------------------


class _RepositoryView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CaReadRateThrottle]


class RootCertificateApi(_RepositoryView):
    """The trust anchor: the root CA certificate (PEM)."""

    @extend_schema(operation_id="ca_root", responses={(200, PEM_CHAIN): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(ca_keys().root_pem, content_type=PEM_CHAIN)
        response["Cache-Control"] = CERTIFICATE_CACHE
        return response


class CertificateChainApi(_RepositoryView):
    """A number certificate and its issuing CA: what a PASSporT's x5u points to.

    Named by its repository id, which only the certificate response and its holder's PASSporTs
    carry; a serial (the CRL lists them) is no id here, and opens nothing.
    """

    @extend_schema(
        operation_id="ca_certificate",
        responses={
            (200, PEM_CHAIN): OpenApiTypes.STR,
            404: problem(CertificateNotFound, note="A serial is not a repository id."),
        },
    )
    def get(self, request: Request, certificate_id: str) -> HttpResponse:
        certificate = certificate_in_repository(repository_id=certificate_id)
        if certificate is None:
            raise CertificateNotFound("The repository has no certificate with this id.")
        response = HttpResponse(certificate_chain_pem(certificate), content_type=PEM_CHAIN)
        # A certificate never changes; whether it is revoked is the CRL's business.
        response["Cache-Control"] = CERTIFICATE_CACHE
        return response


class CrlApi(_RepositoryView):
    """The current CRL (DER, RFC 5280), signed by the issuing CA: the newest one stored.

    Serving it signs nothing: CRLs are signed by revocations, by beat and at startup.
    """

    @extend_schema(
        operation_id="ca_crl",
        responses={
            (200, "application/pkix-crl"): OpenApiTypes.BINARY,
            503: problem(CrlUnavailable, note="The service was not bootstrapped; see Retry-After."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        crl = crl_latest()
        if crl is None:
            raise CrlUnavailable(
                "No CRL has been signed yet; retry later.", retry_after=CRL_RETRY_AFTER_SECONDS
            )
        response = HttpResponse(bytes(crl.der), content_type="application/pkix-crl")
        max_age = max(int((crl.next_update - timezone.now()).total_seconds() // 2), 0)
        response["Cache-Control"] = f"public, max-age={min(max_age, 300)}"
        return response
