"""Directory API views: parse, call one selector or service, serialise."""

from __future__ import annotations

import binascii
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.dates import rfc3339
from core.numbers import number_parse
from core.schema import COMMON_PROBLEMS, problem
from core.signed_requests import JoseParser
from core.throttling import LookupRateThrottle
from directory.api.serializers import HandlerOutput, HandlerRemovedOutput, LookupOutput, LookupQuery
from directory.metrics import lookup_counted
from directory.problems import ServiceUnknown
from directory.selectors import number_lookup
from directory.services import handler_delete, handler_put
from providers.authentication import caller_provider
from resolution.protocol.directory import ServiceError, service_parse
from transparency.services import AppendedEntry


def _position(log: AppendedEntry) -> dict[str, Any]:
    return {"index": log.index, "leaf_hash": _b64(log.leaf_hash)}


def _b64(data: bytes) -> str:
    # binascii directly: a lookup encodes some seventy hashes and blobs.
    return binascii.b2a_base64(data, newline=False).decode()


SIGNED_CHANGE_PROBLEMS = {
    400: problem(
        "Malformed number, JWS or payload; unknown service; invalid URI, priority or visibility; "
        "stale iat"
    ),
    403: problem(
        "The signature is not by the certificate's key, or the certificate is unknown, of "
        "another provider, revoked, expired, or does not cover the number"
    ),
    409: problem("The jti was already used"),
    413: problem("The body is too large"),
    415: problem("The body is not application/jose"),
    **COMMON_PROBLEMS,
}


class HandlerApi(APIView):
    """Publish or remove the caller's handler of a service for a number.

    The body is a compact JWS (ES256, ``application/jose``) made with the key of a number
    certificate that covers the number and was issued to the caller; its header names the
    certificate by serial (``kid``) or carries it (``x5c``). PUT payload:
    ``{"number", "service", "uri", "priority"?, "visibility"?, "iat", "jti"}``; DELETE payload:
    ``{"number", "service", "iat", "jti"}``.
    """

    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="handlers_put",
        request={"application/jose": OpenApiTypes.STR},
        responses={200: HandlerOutput, 201: HandlerOutput, **SIGNED_CHANGE_PROBLEMS},
    )
    def put(self, request: Request, number: str, service: str) -> Response:
        provider = caller_provider(request)
        change = handler_put(provider=provider, number=number, service=service, token=request.data)
        handler = change.handler
        assert handler is not None
        output = {
            "number": handler.number,
            "provider": provider.slug,
            "service": handler.service,
            "uri": handler.uri,
            "priority": handler.priority,
            "visibility": handler.visible_to or "all",
            "expires_at": rfc3339(handler.expires_at),
            "certificate": handler.certificate_serial,
            "log": _position(change.log),
        }
        return Response(output, status=201 if change.created else 200)

    @extend_schema(
        operation_id="handlers_delete",
        request={"application/jose": OpenApiTypes.STR},
        responses={
            200: HandlerRemovedOutput,
            404: problem("No handler of the caller for this number and service"),
            **SIGNED_CHANGE_PROBLEMS,
        },
    )
    def delete(self, request: Request, number: str, service: str) -> Response:
        provider = caller_provider(request)
        change = handler_delete(
            provider=provider, number=number, service=service, token=request.data
        )
        output = {
            "number": number_parse(number).e164,
            "provider": provider.slug,
            "service": service,
            "log": _position(change.log),
        }
        return Response(output)


class NumberApi(APIView):
    """Look a number up: the handlers the caller may see, each provable against the log.

    Check the answer offline with ``resolution.verify_lookup(answer, note_key, vrf_key)``.
    A handler hidden from the caller is left out exactly as if it did not exist.
    """

    throttle_classes = [*APIView.throttle_classes, LookupRateThrottle]

    @extend_schema(
        operation_id="numbers_lookup",
        parameters=[LookupQuery],
        responses={
            200: LookupOutput,
            400: problem("Malformed or invalid number, or unknown service"),
            **COMMON_PROBLEMS,
        },
    )
    def get(self, request: Request, number: str) -> Response:
        # One optional parameter, read directly: a serializer would cost every lookup more.
        service = request.query_params.get("service")
        if service is not None:
            try:
                service = service_parse(service).value
            except ServiceError as error:
                raise ServiceUnknown(str(error)) from None
        caller = caller_provider(request)
        answer = number_lookup(caller=caller, number=number_parse(number).e164, service=service)
        lookup_counted(provider=caller)
        output = {
            "number": answer.number,
            "label": answer.label.label.hex(),
            "vrf_proof": _b64(answer.label.proof),
            "checkpoint": answer.checkpoint,
            "handlers": [
                {
                    "provider": found.provider,
                    "service": found.service,
                    "uri": found.uri,
                    "priority": found.priority,
                    "expires_at": rfc3339(found.expires_at),
                    "certificate": found.certificate,
                    "log": {
                        "index": found.log_index,
                        "entry": _b64(found.entry),
                        "opening": _b64(found.opening),
                        "inclusion_proof": (
                            None
                            if found.inclusion_proof is None
                            else [_b64(node) for node in found.inclusion_proof]
                        ),
                        "pending": found.inclusion_proof is None,
                    },
                }
                for found in answer.handlers
            ],
        }
        return Response(output)
