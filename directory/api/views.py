"""Directory API views: parse, call one selector or service, serialise."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.numbers import NumberInvalid, NumberMalformed, number_parse
from core.pagination import CursorInvalid, PageQuery, keyset_page, page_of, page_response
from core.read_replica import served_from_replica
from core.schema import E164_SCHEMA, SERVICE_SCHEMA, jws_payload, jws_request, problem
from core.signed_requests import (
    JoseParser,
    SignedRequestMalformed,
    SignedRequestMismatch,
    SignedRequestSignatureInvalid,
    SignedRequestStale,
)
from core.throttling import LookupRateThrottle, LookupThrottles
from directory.api.serializers import (
    HandlerOutput,
    HandlerRemovedOutput,
    HistoryOutput,
    LookupOutput,
    LookupQuery,
    OwnHandlerOutput,
)
from directory.metrics import lookup_counted
from directory.problems import (
    HandlerInvalid,
    HandlerNotFound,
    RequestReplayed,
    ServiceUnknown,
    SigningCertificateNotValid,
    SigningCertificateNumberMismatch,
    SigningCertificateOfAnotherProvider,
    SigningCertificateUnknown,
    UriInvalid,
)
from directory.selectors import handlers_of, number_lookup
from directory.services import (
    DELETE_FIELDS,
    HISTORY_FIELDS,
    MAX_VISIBLE_TO,
    PUT_FIELDS,
    HandlerChange,
    handler_delete,
    handler_put,
    number_history,
)
from providers.authentication import caller_provider
from providers.idempotency import REPLAYED_HEADER, idempotent
from providers.permissions import DirectoryScope, LookupScope
from resolution.protocol.directory import MAX_PRIORITY, MAX_URI_LENGTH, ServiceError, service_parse
from resolution.protocol.tiles import TileError

# The payloads of the signed requests, over the field sets their services check.
HANDLER_PUT_PAYLOAD = jws_payload(
    "HandlerPutPayload",
    PUT_FIELDS,
    optional=frozenset({"priority", "visibility"}),
    number={**E164_SCHEMA, "description": "The number of the URL"},
    service={**SERVICE_SCHEMA, "description": "The service of the URL"},
    uri={"type": "string", "maxLength": MAX_URI_LENGTH, "description": "Where to reach it"},
    priority={"type": "integer", "minimum": 0, "maximum": MAX_PRIORITY, "default": 0},
    visibility={
        "oneOf": [
            {"type": "string", "enum": ["all"]},
            {
                "type": "array",
                "items": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
                "minItems": 1,
                "maxItems": MAX_VISIBLE_TO,
            },
        ],
        "default": "all",
        "description": '"all", or the slugs of the providers that may see it',
    },
)
HANDLER_DELETE_PAYLOAD = jws_payload(
    "HandlerDeletePayload", DELETE_FIELDS, number=E164_SCHEMA, service=SERVICE_SCHEMA
)
HISTORY_PAYLOAD = jws_payload("HistoryPayload", HISTORY_FIELDS, number=E164_SCHEMA)

# What a request signed with a number certificate's key may get (directory.services.
# _signed_change and _jti_spend); its 413 and 415 are the shared machinery's.
NUMBER_PROBLEMS = problem(NumberMalformed, NumberInvalid)
SIGNED_PROBLEMS = {
    400: NUMBER_PROBLEMS
    | problem(SignedRequestMalformed, SignedRequestStale, SignedRequestMismatch),
    403: problem(
        SignedRequestSignatureInvalid,
        SigningCertificateUnknown,
        SigningCertificateOfAnotherProvider,
        SigningCertificateNotValid,
        SigningCertificateNumberMismatch,
        note="The certificate is unknown to the caller (another provider's of this CA "
        "included), the signature is not by its key, or it is revoked, expired, under a root "
        "that does not speak for the caller, or does not cover the number.",
    ),
    409: problem(RequestReplayed),
}
# A handler's change: a service as well as a number.
SIGNED_CHANGE_PROBLEMS = {**SIGNED_PROBLEMS, 400: SIGNED_PROBLEMS[400] | problem(ServiceUnknown)}


def _repeated(change: HandlerChange) -> dict[str, str]:
    """The same JWS sent again gets its first answer, marked as Idempotency-Key replays are."""
    return {REPLAYED_HEADER: "true"} if change.repeated else {}


class HandlerApi(APIView):
    """Publish or remove the caller's handler of a service for a number.

    The body is a compact JWS (ES256, ``application/jose``) made with the key of a number
    certificate that covers the number and was issued to the caller; its header names the
    certificate by serial (``kid``) or carries it (``x5c``). PUT payload:
    ``{"number", "service", "uri", "priority"?, "visibility"?, "iat", "jti"}``; DELETE payload:
    ``{"number", "service", "iat", "jti"}``.
    """

    permission_classes = [DirectoryScope]
    parser_classes = [JoseParser]

    @extend_schema(
        operation_id="handlers_put",
        **jws_request(HANDLER_PUT_PAYLOAD),
        responses={
            200: HandlerOutput,
            201: HandlerOutput,
            **SIGNED_CHANGE_PROBLEMS,
            400: SIGNED_CHANGE_PROBLEMS[400] | problem(HandlerInvalid, UriInvalid),
        },
    )
    def put(self, request: Request, number: str, service: str) -> Response:
        provider = caller_provider(request)
        change = handler_put(provider=provider, number=number, service=service, token=request.data)
        output = {"handler": change.handler, "provider": provider.slug, "log": change.log}
        return Response(
            HandlerOutput(output).data,
            status=201 if change.created else 200,
            headers=_repeated(change),
        )

    @extend_schema(
        operation_id="handlers_delete",
        **jws_request(HANDLER_DELETE_PAYLOAD),
        responses={
            200: HandlerRemovedOutput,
            404: problem(HandlerNotFound),
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
            "log": change.log,
        }
        return Response(HandlerRemovedOutput(output).data, headers=_repeated(change))


class HandlersApi(APIView):
    """The caller's own handlers of a number, by service."""

    permission_classes = [DirectoryScope]

    @extend_schema(
        operation_id="handlers_list",
        parameters=[PageQuery],
        responses={
            200: page_of("HandlerPage", OwnHandlerOutput(many=True)),
            400: NUMBER_PROBLEMS | problem("validation-error", CursorInvalid),
        },
    )
    def get(self, request: Request, number: str) -> Response:
        handlers = handlers_of(provider=caller_provider(request), number=number_parse(number).e164)
        page = keyset_page(handlers, request, keys=("service",), descending=False)
        return page_response([OwnHandlerOutput(row).data for row in page.rows], page)


class NumberApi(APIView):
    """Look a number up: the handlers the caller may see, each provable against the log.

    Check the answer offline with ``resolution.verify_lookup(answer, note_key, vrf_key)``.
    A handler hidden from the caller is left out exactly as if it did not exist.
    """

    permission_classes = [LookupScope]
    # The API's throttles and the lookup's, on one cache read.
    throttle_classes = [LookupThrottles]

    @extend_schema(
        operation_id="numbers_lookup",
        parameters=[LookupQuery],
        responses={
            200: LookupOutput,
            400: NUMBER_PROBLEMS | problem(ServiceUnknown),
        },
    )
    # From the replica when it can (core.read_replica): a proof's tile it lacks yet is a miss.
    @served_from_replica(TileError)
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
        return Response(LookupOutput(answer).data)


class NumberHistoryApi(APIView):
    """The holder's history of a number: every log entry under its label, with the openings.

    Version-2 entries show only the number's label and a commitment; this answers, to the
    holder of a certificate for the number, the content each committed to and its opening, so
    that it can check every entry about its number (``rs monitor``). The body is a compact
    JWS (ES256, ``application/jose``) over ``{"number", "iat", "jti"}``, made with the key of
    a number certificate that covers the number, was issued to the caller and is valid now;
    its header names the certificate by serial (``kid``) or carries it (``x5c``). Each jti is
    accepted once.
    """

    permission_classes = [LookupScope]
    parser_classes = [JoseParser]
    throttle_classes = [*APIView.throttle_classes, LookupRateThrottle]

    @extend_schema(
        operation_id="numbers_history",
        **jws_request(HISTORY_PAYLOAD),
        responses={
            200: HistoryOutput,
            **SIGNED_PROBLEMS,
        },
    )
    @idempotent
    def post(self, request: Request, number: str) -> Response:
        provider = caller_provider(request)
        history = number_history(provider=provider, number=number, token=request.data)
        return Response(HistoryOutput(history).data)
