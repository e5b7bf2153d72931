"""Invitations API views: parse, call one service or selector, serialise.

``/v1/invitations`` is for providers (API key); ``/invitations/keys`` is public (the key that
signs SPINvitations); ``/v1/twilio/inbound`` is Twilio's, signed by it (STOP replies).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ca.problems import (
    CertificateNotFound,
    CountryNotAllowed,
    NumberNotServed,
    TwilioSignatureInvalid,
)
from ca.sms.twilio import twilio_signature_valid
from core.numbers import NumberInvalid, NumberMalformed, NumberNotMobile
from core.schema import E164_SCHEMA, SERVICE_SCHEMA, jws_payload, jws_request, problem
from core.signed_requests import (
    JoseParser,
    SignedRequestMalformed,
    SignedRequestMismatch,
    SignedRequestReplayed,
    SignedRequestSignatureInvalid,
    SignedRequestStale,
)
from core.throttling import SMS_SENDING_THROTTLES, CaReadRateThrottle
from directory.problems import ServiceUnknown
from invitations.api.serializers import (
    InvitationListOutput,
    InvitationOutput,
    InvitationSentOutput,
    JwksOutput,
)
from invitations.choices import InvitationStatus
from invitations.keys import invitation_jwks
from invitations.problems import (
    InvitationNotFound,
    InvitationRateLimited,
    InviterNotHolder,
    NumberNotInvitable,
)
from invitations.selectors import invitation_get, invitation_list
from invitations.services import invitation_send, sms_reply_receive
from providers.authentication import caller_provider
from providers.idempotency import idempotent
from providers.permissions import DirectoryScope
from resolution.protocol.invitation import INVITE_FIELDS
from transparency.selectors import entry_appended

# The payload of an invitation's signed request (resolution.protocol.invitation).
INVITE_PAYLOAD = jws_payload(
    "InvitationPayload",
    INVITE_FIELDS,
    to={**E164_SCHEMA, "description": "The number invited"},
    service=SERVICE_SCHEMA,
)


class InvitationsApi(APIView):
    """Invite a number to a service (one SMS), or list the caller's invitations.

    The body of a POST is a JWS (ES256, ``application/jose``) made with the key of one of the
    caller's valid number certificates (named by serial in ``kid``) over
    ``{"to", "service", "iat", "jti"}``: the invitation carries that certificate's number.
    """

    permission_classes = [DirectoryScope]

    def get_parsers(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return [JoseParser()]
        return super().get_parsers()

    def get_throttles(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return [throttle() for throttle in SMS_SENDING_THROTTLES]
        return super().get_throttles()

    @extend_schema(
        operation_id="invitations_list",
        parameters=[
            OpenApiParameter("status", str, enum=InvitationStatus.values, required=False),
        ],
        responses={
            200: InvitationListOutput,
            400: problem("validation-error", note="An unknown status."),
        },
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status")
        if status is not None and status not in InvitationStatus.values:
            raise ValidationError({"status": [f"One of {', '.join(InvitationStatus.values)}."]})
        invitations = invitation_list(provider=caller_provider(request), status=status)
        return Response({"results": InvitationOutput(invitations, many=True).data})

    @extend_schema(
        operation_id="invitations_create",
        **jws_request(INVITE_PAYLOAD),
        responses={
            201: InvitationSentOutput,
            400: problem(
                SignedRequestMalformed,
                SignedRequestStale,
                SignedRequestMismatch,
                NumberMalformed,
                NumberInvalid,
                NumberNotMobile,
                ServiceUnknown,
            ),
            403: problem(
                SignedRequestSignatureInvalid,
                InviterNotHolder,
                CountryNotAllowed,
                NumberNotInvitable,
                note="The number is not invited when it opted out or holds a certificate: the "
                "same answer for both.",
            ),
            404: problem(CertificateNotFound, note="No certificate of the caller has the kid."),
            409: problem(SignedRequestReplayed),
            421: problem(
                NumberNotServed,
                note="Another resolution service serves the number: `served_by` names those known.",
            ),
            429: problem(
                InvitationRateLimited,
                note="A limit on invitations or SMS is reached: `scope` says which.",
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        invitation = invitation_send(provider=caller_provider(request), token=request.data)
        context = {"log": entry_appended(entry_id=invitation.log_entry_id)}
        return Response(
            InvitationSentOutput(invitation, context=context).data,
            status=201,
            headers={"Location": f"/v1/invitations/{invitation.id}"},
        )


class InvitationApi(APIView):
    """One of the caller's invitations: poll it for its acceptance."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="invitations_get",
        responses={200: InvitationOutput, 404: problem(InvitationNotFound)},
    )
    def get(self, request: Request, invitation_id: uuid.UUID) -> Response:
        invitation = invitation_get(provider=caller_provider(request), invitation_id=invitation_id)
        if invitation is None:
            raise InvitationNotFound("The calling provider has no invitation with this id.")
        return Response(InvitationOutput(invitation).data)


class InvitationKeysApi(APIView):
    """The keys that sign SPINvitations, as a JWK Set (RFC 7517 §5); public."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CaReadRateThrottle]

    @extend_schema(operation_id="invitations_keys", auth=[], responses={200: JwksOutput})
    def get(self, request: Request) -> Response:
        return Response(invitation_jwks(), headers={"Cache-Control": "public, max-age=3600"})


# Twilio takes an empty TwiML answer as "no reply".
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioInboundApi(APIView):
    """SMS sent to our Twilio number (its incoming-message webhook): a STOP reply puts its
    sender on the do-not-invite list. Accepted only with a valid X-Twilio-Signature."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        operation_id="twilio_inbound",
        request={
            "application/x-www-form-urlencoded": inline_serializer(
                "TwilioInboundForm",
                {
                    "From": serializers.CharField(),
                    "Body": serializers.CharField(allow_blank=True),
                    "OptOutType": serializers.CharField(required=False, allow_blank=True),
                },
            )
        },
        responses={
            (200, "text/xml"): OpenApiTypes.STR,
            403: problem(TwilioSignatureInvalid),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        params = request.data
        # Twilio signs the URL it was given, which is the one configured there.
        if not twilio_signature_valid(
            url=settings.TWILIO_INBOUND_URL,
            params=params,
            signature=request.headers.get("X-Twilio-Signature", ""),
        ):
            raise TwilioSignatureInvalid("The request is not signed by our Twilio account.")
        sms_reply_receive(
            sender=str(params.get("From", ""))[:32],
            body=str(params.get("Body", ""))[:160],
            opt_out_type=str(params.get("OptOutType", ""))[:16],
        )
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")
