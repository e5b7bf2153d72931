"""OpenAPI (drf-spectacular): how our authentication and errors are documented.

Each view documents its own outcomes with ``extend_schema``. :class:`AutoSchema` adds the
errors that come from the machinery every view shares, so that no view has to repeat them and
none can forget them: 401 where an API key is required, 403 where its scope is checked (and
the operation's ``x-required-scope`` names the scope), 429 where a throttle applies, 400, 413
and 415 where a request body is parsed, 500, and 503 (the database down or too slow, with
``Retry-After``); and on a POST that takes an ``Idempotency-Key`` (providers.idempotency), the
header, 409 while a request with the key runs and 422 for a key used on another request.

Every problem is documented as ``application/problem+json`` (RFC 9457 §3), the content type it
is served with, and names the problem types it may carry (:func:`problem`): each slug linked to
its page in the description, and ``x-problem-types`` for programs. A status that a view and
the shared machinery both declare gets both lists.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated

from core.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from core.problems import Problem, ServiceUnavailable, problem_catalogue
from core.signed_requests import JoseParser, SignedRequestMalformed
from resolution.protocol.directory import Service
from resolution.protocol.numbers import E164

# A number as the API writes it, and as its inputs take it (resolution.protocol.numbers).
E164_PATTERN = f"^{E164.pattern}$"


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


class HealthCheckSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(["ok", "down"])
    embedded = serializers.BooleanField(
        required=False, help_text="Database: the embedded PostgreSQL of a development server"
    )
    error = serializers.CharField(required=False, help_text="When down: the kind of error")


class HealthSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        ["ok", "degraded"],
        help_text="`degraded`: the broker is down, or the log's sequencer is behind; the "
        "instance still serves",
    )
    database = HealthCheckSerializer()
    keys = HealthCheckSerializer(help_text="The log's and the issuing CA's private keys open")
    broker = HealthCheckSerializer(required=False, help_text="Only when tasks go through a broker")
    log = HealthCheckSerializer(
        required=False,
        help_text="Down (`SequencerBehind`) when a committed entry has waited for the "
        "sequencer past half RS_LOG_MERGE_DELAY_SECONDS; absent when the database is down",
    )


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details, as every error response carries them.

    Extension members (§3.2) appear only with the problems that name them.
    """

    type = serializers.URLField(
        help_text="Stable URI naming the kind of problem; it documents the problem"
    )
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(  # type: ignore[assignment]  # a field, not Serializer.errors
        many=True, required=False, help_text="Invalid fields (validation-error, 400)"
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="Seconds to wait, as Retry-After says (429)"
    )
    scope = serializers.CharField(
        required=False,
        help_text="The limit that was reached: number (for the calling provider), number_total "
        "(all providers), provider, client_ip or country "
        "(challenge-rate-limited, 429)",
    )
    required_scope = serializers.CharField(
        required=False,
        help_text="The scope an API key needs for the operation (scope-insufficient, 403)",
    )
    attempts_left = serializers.IntegerField(
        required=False, help_text="Codes the challenge still accepts (challenge-code-wrong, 400)"
    )
    served_by = serializers.ListField(
        child=serializers.URLField(),
        required=False,
        help_text="The base URLs of the resolution services known to serve the number, from "
        "their signed advertisements; empty when none is known; two or more in a conflict "
        "(number-not-served, 421)",
    )
    checks = serializers.DictField(
        child=HealthCheckSerializer(),
        required=False,
        help_text="Each dependency's state (service-unavailable, 503 from /healthz)",
    )


# Each operation's tag (the task it serves, as the documentation groups them) and summary, by
# operation id: one table, so that the reference reads as one text; a test checks that every
# operation has its line (tests/core/test_schema.py). The tags are described, in the order the
# documentation shows them, in SPECTACULAR_SETTINGS["TAGS"].
OPERATIONS: dict[str, tuple[str, str]] = {
    "challenges_start": ("Register a number", "Send a code by SMS to a number"),
    "challenges_list": ("Register a number", "List your challenges"),
    "challenges_get": ("Register a number", "Get a challenge"),
    "challenges_cancel": ("Register a number", "Cancel a challenge"),
    "challenges_verify": ("Register a number", "Answer a challenge with its code"),
    "certificates_issue": ("Register a number", "Get a number certificate (or renew one)"),
    "certificates_list": ("Register a number", "List your certificates"),
    "certificates_get": ("Register a number", "Get a certificate"),
    "certificates_revoke": ("Register a number", "Revoke a certificate"),
    "handlers_put": ("Publish handlers", "Publish a handler"),
    "handlers_delete": ("Publish handlers", "Remove a handler"),
    "handlers_list": ("Publish handlers", "List your handlers of a number"),
    "numbers_lookup": ("Look up numbers", "Look up a number"),
    "numbers_history": ("Look up numbers", "Read a number's history"),
    "passports_verify": ("Look up numbers", "Verify a PASSporT"),
    "certificates_lock": ("Number lock", "Lock a number"),
    "certificates_unlock": ("Number lock", "Unlock a number"),
    "certificate_requests_list": ("Number lock", "List held certificate requests"),
    "certificate_requests_get": ("Number lock", "Get a certificate request"),
    "certificate_requests_approve": ("Number lock", "Approve a certificate request"),
    "certificate_requests_refuse": ("Number lock", "Refuse a certificate request"),
    "disputes_open": ("Number lock", "Dispute a certificate"),
    "disputes_get": ("Number lock", "Get a dispute"),
    "log_checkpoint": ("Read the log", "Get the latest checkpoint"),
    "log_entries": ("Read the log", "Read log entries"),
    "log_inclusion_proof": ("Read the log", "Get an inclusion proof"),
    "log_consistency_proof": ("Read the log", "Get a consistency proof"),
    "log_label": ("Read the log", "Get a number's label (VRF proof)"),
    "log_key": ("Read the log", "Get the log's public keys"),
    "log_static_checkpoint": ("Read the log", "Get the checkpoint (tlog-tiles)"),
    "log_tile": ("Read the log", "Get a tile (tlog-tiles)"),
    "log_witness_policy": ("Read the log", "Get the witness policy"),
    "ca_root": ("Certificate repository", "Get the root certificate"),
    "ca_certificate": ("Certificate repository", "Get a certificate chain"),
    "ca_crl": ("Certificate repository", "Get the CRL"),
    "webhooks_list": ("Webhooks", "List webhook endpoints"),
    "webhooks_create": ("Webhooks", "Add a webhook endpoint"),
    "webhooks_get": ("Webhooks", "Get a webhook endpoint"),
    "webhooks_delete": ("Webhooks", "Remove a webhook endpoint"),
    "webhooks_secret_rotate": ("Webhooks", "Rotate an endpoint's secret"),
    "webhooks_deliveries": ("Webhooks", "List an endpoint's deliveries"),
    "caller": ("API keys", "Who am I"),
    "api_keys_list": ("API keys", "List API keys"),
    "api_keys_create": ("API keys", "Create an API key"),
    "api_keys_revoke": ("API keys", "Revoke an API key"),
    "invitations_create": ("Invitations", "Invite a number"),
    "invitations_list": ("Invitations", "List your invitations"),
    "invitations_get": ("Invitations", "Get an invitation"),
    "invitations_keys": ("Invitations", "Get the invitation tokens' keys (JWKS)"),
    "federation_advertisement": ("Several services", "Get this service's range advertisement"),
    "federation_map": ("Several services", "Get the map of resolution services"),
    "health": ("Service", "Check health"),
    "twilio_status": ("Service", "Twilio delivery report (for Twilio)"),
    "twilio_inbound": ("Service", "Twilio inbound SMS (for Twilio)"),
}

# Methods whose operations take a request body (a DELETE here takes a signed one).
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


ProblemKind = type[Problem] | str


class ProblemResponse(OpenApiResponse):
    """A problem+json response that names each problem type (slug) it may carry.

    Made with :func:`problem`. Its description lists the slugs, each linked to its page
    (``/problems/<slug>``) with its title, and the response gets ``x-problem-types``, the
    sorted slugs, for programs (:meth:`AutoSchema._get_response_for_code`). Two responses for
    one status join with ``|``: the view's and the shared machinery's.
    """

    def __init__(self, kinds: tuple[ProblemKind, ...], note: str = "") -> None:
        if not kinds:
            raise ValueError("a problem response names the problem types it may carry")
        super().__init__(response=ProblemSerializer, description=note)
        self.kinds = kinds
        self.note = note

    def __or__(self, other: ProblemResponse) -> ProblemResponse:
        notes = [note for note in dict.fromkeys((self.note, other.note)) if note]
        return ProblemResponse((*self.kinds, *other.kinds), " ".join(notes))

    def titles(self) -> dict[str, str]:
        """``slug -> title`` of each problem type, sorted by slug. A slug given as text is
        looked up in the catalogue, which is whole once the URLconf has loaded every view."""
        catalogue = problem_catalogue()
        titles = {}
        for kind in self.kinds:
            if isinstance(kind, str):
                if kind not in catalogue:
                    raise ValueError(f"{kind!r} is no slug of core.problems.problem_catalogue()")
                titles[kind] = catalogue[kind][1]
            else:
                titles[kind.slug] = kind.title
        return dict(sorted(titles.items()))

    def described(self) -> OpenApiResponse:
        """The response as drf-spectacular renders it: the note, then the linked slugs."""
        lines = [
            f"- [`{slug}`](/problems/{slug}): {title}" for slug, title in self.titles().items()
        ]
        description = "\n".join(lines) if not self.note else f"{self.note}\n\n" + "\n".join(lines)
        return OpenApiResponse(response=ProblemSerializer, description=description)


def problem(*kinds: ProblemKind, note: str = "") -> ProblemResponse:
    """An OpenAPI response entry for a problem+json error of the given problem types.

    Name each type by its :class:`~core.problems.Problem` subclass, so that its slug and title
    come from where it is raised; by its slug (text) only where there is no class to import:
    DRF's and the middleware's problems (``core.problems._DRF_SLUGS``, ``_OTHER_SLUGS``), or an
    app's that ``core`` may not import. ``note`` says what the titles do not (an extension
    member to read, a header). tests/core/test_schema.py checks each slug against
    ``problem_catalogue()`` and its status.
    """
    return ProblemResponse(kinds, note)


def _is_problem(response: Any) -> bool:
    if isinstance(response, OpenApiResponse):
        response = response.response
    return response is ProblemSerializer or isinstance(response, ProblemSerializer)


def _status_key(code: Any) -> str:
    """The status of an ``extend_schema`` responses key: ``404``, ``"404"`` or ``(404, media)``."""
    return str(code[0] if isinstance(code, tuple) else code)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with the errors every view shares, as problem+json."""

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        # Not get_response_serializers: extend_schema overrides that in a subclass.
        responses = super()._get_response_bodies(direction)
        own_responses: Any = self.get_response_serializers()
        declared = (
            {_status_key(code): value for code, value in own_responses.items()}
            if isinstance(own_responses, dict)
            else {}
        )
        for status, response in self._shared_problems().items():
            own = declared.get(str(status))
            if isinstance(own, ProblemResponse):
                # The shared problems and the view's, under one status.
                response = response | own
            elif str(status) in responses:
                continue
            responses[str(status)] = self._get_response_for_code(
                response, str(status), direction=direction
            )
        return responses

    def _shared_problems(self) -> dict[int, ProblemResponse]:
        """The errors that come from authentication, throttles, parsers and the server (and
        its database: an outage is 503 on every operation, core.outages).

        The slugs of ``providers`` (scopes, Idempotency-Key) are named as text: ``core`` does
        not import the apps above it.
        """
        shared: dict[int, ProblemResponse] = {}
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            parsers = self.view.get_parsers()
            # Content-Length that is not a number: core.middleware.RequestSizeLimitMiddleware.
            body: list[ProblemKind] = ["bad-request"]
            if any(isinstance(parser, JSONParser) for parser in parsers):
                body += ["malformed-request", "validation-error"]
            if any(isinstance(parser, JoseParser) for parser in parsers):
                body.append(SignedRequestMalformed)
            shared[400] = problem(*body)
            shared[411] = problem("length-required", note="A body sent without Content-Length.")
            shared[413] = problem("request-too-large")
            shared[415] = problem("unsupported-media-type")
        if "{" in self.path:
            # A path parameter its route does not accept (core.converters) never reaches a view.
            shared[404] = problem("not-found")
        if any(isinstance(p, IsAuthenticated) for p in self.view.get_permissions()):
            shared[401] = problem(
                "unauthenticated",
                "invalid-credentials",
                note="Missing, unknown or revoked API key.",
            )
        if self._required_scope() is not None:
            shared[403] = problem(
                "scope-insufficient",
                note="`scope-insufficient`: the API key's scope does not include the "
                "operation's `x-required-scope`.",
            )
        if self.view.get_throttles():
            shared[429] = problem("rate-limited", note="See Retry-After.")
        if self._idempotent():
            idempotency_key = problem("idempotency-key-invalid")
            shared[400] = shared[400] | idempotency_key if 400 in shared else idempotency_key
            shared[409] = problem(
                "idempotency-key-in-use", note="`idempotency-key-in-use` carries Retry-After."
            )
            shared[422] = problem("idempotency-key-reused")
        shared[500] = problem("server-error", note="It has been logged.")
        shared[503] = problem(
            ServiceUnavailable, note="The database is down or too slow; see Retry-After."
        )
        return shared

    def get_tags(self) -> list[str]:
        return [OPERATIONS[self.get_operation_id()][0]]

    def get_summary(self) -> str | None:
        return OPERATIONS[self.get_operation_id()][1]

    def _get_request_body(self, direction: Any = "request") -> Any:
        # drf-spectacular gives a body to POST, PUT and PATCH only; a DELETE here may take a
        # signed one (a handler's removal), which its view declares.
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)  # type: ignore[no-untyped-call]
        self.method = "POST"
        try:
            return super()._get_request_body(direction)  # type: ignore[no-untyped-call]
        finally:
            self.method = "DELETE"

    def _idempotent(self) -> bool:
        """Whether the operation's method replays a repeated Idempotency-Key
        (``providers.idempotency.idempotent``)."""
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "idempotent", False))

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._idempotent():
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    # Printable ASCII, quotes and backslashes aside (a structured-field string's
                    # quotes may surround it).
                    pattern=IDEMPOTENCY_KEY_PATTERN,
                    description=(
                        "Any new value (a UUID) per request: sent again with the same request "
                        "within 24 hours, it gets the first success's answer (with "
                        "Idempotent-Replayed: true) and nothing is done twice."
                    ),
                )
            )
        return parameters

    def _required_scope(self) -> str | None:
        """The API-key scope the view's permissions require (providers.permissions), if any."""
        for permission in self.view.get_permissions():
            scope = getattr(permission, "required_scope", None)
            if scope is not None:
                return str(scope)
        return None

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        # Each operation that takes an API key says which scope (x-required-scope), so that
        # clients, and a test that walks the schema, can see it.
        operation = super().get_operation(*args, **kwargs)
        scope = self._required_scope()
        if operation is not None and scope is not None:
            operation["x-required-scope"] = scope
        return operation

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: Any = "response",
    ) -> Any:
        problem_types = None
        if isinstance(serializer, ProblemResponse):
            problem_types = list(serializer.titles())
            serializer = serializer.described()
        if media_types is None and _is_problem(serializer):
            media_types = [PROBLEM_CONTENT_TYPE]
        response = super()._get_response_for_code(  # type: ignore[no-untyped-call]
            serializer, status_code, media_types, direction
        )
        if problem_types is not None:
            # For programs: the `type` slugs a client may get with this status (the test
            # client checks every problem a test gets against it, tests/openapi.py).
            response["x-problem-types"] = problem_types
        return response


# What providers.idempotency takes as a key, trailing spaces aside: a structured-field string
# ("…", no quote or backslash inside), or the same bare (any printable ASCII, not starting with
# a space; one that starts and ends with a quote is read as quoted), of 1 to 255 characters.
IDEMPOTENCY_KEY_PATTERN = r'^(?:"[ !#-\[\]-~]{1,255}"|"|"[ -~]{0,253}[!#-~]|[!#-~][ -~]{0,254}) *$'

# --- Signed requests: a compact JWS (RFC 7515 §7.1) over a payload each operation defines ------

JWS_MEDIA_TYPE = "application/jose"
JWS_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
# An obviously fake JWS of the right shape ({"alg":"ES256","kid":"…"}.{…}.signature).
JWS_EXAMPLE = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjAxMjM0NTY3ODlhYmNkZWYifQ"
    ".eyJleGFtcGxlIjp0cnVlfQ"
    ".ZmFrZS1zaWduYXR1cmUtZm9yLXRoZS1kb2N1bWVudGF0aW9uLW9ubHk"
)
# What every payload carries (core.signed_requests).
JWS_COMMON: dict[str, dict[str, Any]] = {
    "iat": {
        "type": "integer",
        "description": "Seconds since the epoch, within 5 minutes of the server's clock",
    },
    "jti": {
        "type": "string",
        "pattern": r"^[\x21-\x7e]{8,128}$",
        "description": "A new value per request (8 to 128 printable ASCII characters)",
    },
}
E164_SCHEMA: dict[str, Any] = {"type": "string", "pattern": E164_PATTERN}
SERVICE_SCHEMA: dict[str, Any] = {"type": "string", "enum": [str(name) for name in Service]}


def jws_payload(
    name: str,
    fields: frozenset[str],
    *,
    optional: frozenset[str] = frozenset(),
    **properties: dict[str, Any],
) -> dict[str, Any]:
    """The JSON Schema of a signed request's payload ``name``, over exactly ``fields`` (the set
    its service checks the payload against), ``iat`` and ``jti`` included when it has them."""
    properties = {**{k: v for k, v in JWS_COMMON.items() if k in fields}, **properties}
    if set(properties) != set(fields):
        raise ValueError(f"{name}: the properties {sorted(properties)} are not {sorted(fields)}")
    return {
        "title": name,
        "type": "object",
        "properties": {field: properties[field] for field in sorted(fields)},
        "required": sorted(fields - optional),
        "additionalProperties": False,
    }


def jws_request(payload: dict[str, Any], *, field: str | None = None) -> dict[str, Any]:
    """``extend_schema`` arguments for an operation whose body is a compact JWS over ``payload``
    (:func:`jws_payload`): the ``application/jose`` body, and ``x-jws-payload`` pointing to
    the payload's schema among the components (:func:`schema_postprocess` puts it there).
    With ``field``, the JWS is that field of a JSON body instead, and only the extension is
    given."""
    if field is not None:
        return {"extensions": {"x-jws-payload": {**payload, "x-jws-field": field}}}
    return {
        "request": {JWS_MEDIA_TYPE: OpenApiTypes.STR},
        "extensions": {"x-jws-payload": payload},
    }


def _jws_documented(result: dict[str, Any], operation: dict[str, Any]) -> None:
    """An operation's ``x-jws-payload`` as a component, its body's schema saying what it is."""
    payload = operation.get("x-jws-payload")
    if not isinstance(payload, dict) or "title" not in payload:
        return
    payload = dict(payload)
    field = payload.pop("x-jws-field", None)
    name = payload["title"]
    result.setdefault("components", {}).setdefault("schemas", {})[name] = payload
    reference = f"#/components/schemas/{name}"
    operation["x-jws-payload"] = {"$ref": reference}
    body = operation.get("requestBody", {})
    media = body.get("content", {}).get(JWS_MEDIA_TYPE)
    if media is not None:
        body["required"] = True
        media["schema"] = {
            "type": "string",
            "pattern": JWS_PATTERN,
            "description": f"A compact JWS (RFC 7515 §7.1, ES256) whose payload is a {name}",
        }
        media.setdefault("example", JWS_EXAMPLE)
    where = "The body" if field is None else f"The `{field}` field"
    note = f"{where} is a compact JWS whose payload is a [{name}]({reference})."
    operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()


# The lists' query parameters (core.pagination, ca.api.serializers) that, sent empty, are read
# as not sent: ``?cursor=`` is the first page.
EMPTY_AS_ABSENT = frozenset({"cursor", "limit", "number"})


def schema_postprocess(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Protocol facts the serializers and converters cannot tell drf-spectacular: a ``number``
    (parameter or field) is E.164, a ``service`` one of the services (resolution.protocol); and
    each signed request's payload schema (:func:`jws_request`); and this instance
    (``RS_PUBLIC_URL``) as the server clients call."""
    result["servers"] = [{"url": settings.RS_PUBLIC_URL, "description": "This instance"}]
    services = SERVICE_SCHEMA["enum"]
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter["name"] == "number" and schema.get("type") == "string":
                    schema["pattern"] = E164_PATTERN
                    parameter.setdefault("example", "+33612345678")
                if parameter["name"] in EMPTY_AS_ABSENT and parameter["in"] == "query":
                    # DRF reads an optional query field given empty as not given.
                    parameter["allowEmptyValue"] = True
                if parameter["name"] == "service" and schema.get("type") == "string":
                    schema.pop("pattern", None)
                    schema["enum"] = services
            if isinstance(operation, dict):
                _jws_documented(result, operation)
    for component in result.get("components", {}).get("schemas", {}).values():
        for name, field in component.get("properties", {}).items():
            if name == "number" and field.get("type") == "string":
                field["pattern"] = E164_PATTERN
    return result
