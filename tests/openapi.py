"""Every response a test gets from the service is checked against the OpenAPI schema.

The schema is the contract app developers build on (``/api/schema/``): drf-spectacular builds it
once per test session, and openapi-core checks each response the tests' client
(``tests.api_client.ApiClient``) returns, with :func:`response_checked`: its status is one the
operation documents, its content type one documented for that status, and its body matches
that schema. Problem responses (``application/problem+json``) are checked like any other, and
their slug (the last segment of ``type``) must be one of those the operation declares for the
status (``x-problem-types``, core.schema.problem). Every time is held to the API's one format
(RFC 3339 in UTC with ``Z``, to the second).

Objects are held to their documented fields here (``additionalProperties: false`` on each
object schema), so a field the service adds without documenting it fails a test; the published
schema stays open, as clients should ignore fields they do not know.

A path the schema does not describe is skipped only if it is one of :data:`UNDOCUMENTED`
(pages for people, not the API). Elsewhere, a path or a method the schema does not document
may only be refused with the 404 or 405 problem.

Its :func:`pytest_terminal_summary`, imported into ``tests/conftest.py``, says at the end of a
run how many responses were checked.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import re
import threading
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_schema_validator import OAS30Validator, OAS31Validator

# Not the API: web pages, the admin, the API's own documentation, problem type pages, and
# views that tests mount under /test/ to provoke errors.
UNDOCUMENTED = re.compile(
    r"/$|/explorer/|/docs/|/admin/|/api/(schema|docs|redoc)/|/static/|/problems/|/test/"
)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# A Django route's parameters: <converter:name> and, in re_path routes, (?P<name>regex).
_ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


class SchemaMismatchError(AssertionError):
    """A response the schema does not allow."""


class _Request(DjangoOpenAPIRequest):
    """A request as openapi-core sees it, named by the path the schema gives its route."""

    @property
    def path_pattern(self) -> str | None:
        # drf-spectacular names re_path routes as it does path() ones; openapi-core cannot.
        match = _route(self.request)
        if match is None:
            return None
        route = _ROUTE_PARAMETER.sub(lambda m: "{%s}" % (m[1] or m[2]), match.route)
        return "/" + route.replace("^", "").replace("$", "")

    @property
    def body(self) -> bytes:
        # Only the response is checked; the view has read the request's stream already.
        return b""


def _text(body: bytes, **parameters: str) -> str:
    return body.decode("ascii")


def _octets(body: bytes, **parameters: str) -> str:
    return body.decode("latin-1")


def _route(request: HttpRequest) -> ResolverMatch | None:
    """The route of ``request``, also when a middleware answered before URL resolution."""
    if request.resolver_match is not None:
        return request.resolver_match
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None


# One time format in every answer: RFC 3339, UTC, to the second, with Z (core.dates).
RFC3339_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def _closed(schema: Any) -> Any:
    """``schema`` with each object schema allowing only the properties it documents, and each
    time written in the one format the API uses."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    if closed.get("format") == "date-time":
        closed["pattern"] = RFC3339_UTC
    return closed


def _reasons(error: BaseException) -> str:
    """An openapi-core error and its causes, down to each schema error."""
    lines = []
    cause: BaseException | None = error
    while cause is not None:
        lines.append(f"{type(cause).__name__}: {cause}")
        if isinstance(cause, InvalidSchemaValue):
            lines.extend(f"  {getattr(error, 'message', error)}" for error in cause.schema_errors)
        cause = cause.__cause__
    return "\n".join(lines)


class SchemaCheck:
    """Checks responses against an OpenAPI document; counts those it checked."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        closed = _closed(copy.deepcopy(document))
        # The schema names RS_PUBLIC_URL as its server; the tests' requests go to testserver.
        closed["servers"] = [{"url": "/"}]
        # problem+json is JSON (RFC 9457 §3) and PEM is text (RFC 7468), which openapi-core
        # does not know; a binary body ({type: string, format: binary}) is a string of octets.
        config = Config(
            extra_media_type_deserializers={
                PROBLEM_CONTENT_TYPE: json.loads,
                "application/pem-certificate-chain": _text,
                "application/pkix-crl": _octets,
                "application/octet-stream": _octets,
                "text/xml": _text,  # TwiML, to Twilio
                "application/jose": _text,  # a compact JWS (RFC 7515 §9.2.1)
            }
        )
        self.openapi = OpenAPI.from_dict(closed, config=config)
        validator = OAS31Validator if document["openapi"].startswith("3.1") else OAS30Validator
        self.problem = validator(
            {"$ref": "#/components/schemas/Problem", "components": closed["components"]},
            format_checker=validator.FORMAT_CHECKER,
        )
        self.checked = 0
        self.skipped = 0
        self._lock = threading.Lock()

    def check(self, response: HttpResponse) -> None:
        """Raise :class:`SchemaMismatchError` unless the schema allows ``response``."""
        request: HttpRequest = response.wsgi_request  # type: ignore[attr-defined]
        if UNDOCUMENTED.match(request.path):
            with self._lock:
                self.skipped += 1
            return
        where = f"{request.method} {request.path} -> {response.status_code}"
        if _route(request) is None:  # no route: openapi-core would guess one
            self._refused(response, where, status=404, what="path")
        else:
            self._validated(request, response, where)
        with self._lock:
            self.checked += 1

    def _validated(self, request: HttpRequest, response: HttpResponse, where: str) -> None:
        openapi_request = _Request(request)
        if response.get("Content-Encoding") == "gzip":  # the schema describes what it encodes
            decoded = HttpResponse(
                gzip.decompress(response.content),
                status=response.status_code,
                content_type=response["Content-Type"],
            )
            decoded.wsgi_request = request  # type: ignore[attr-defined]
            response = decoded
        try:
            self.openapi.validate_response(openapi_request, DjangoOpenAPIResponse(response))
        except PathNotFound:
            self._refused(response, where, status=404, what="path")
            return
        except OperationNotFound:
            self._refused(response, where, status=405, what="method on this path")
            return
        except Exception as error:  # each of openapi-core's validation errors
            raise SchemaMismatchError(
                f"{where} ({response.get('Content-Type')}) breaks the schema:\n"
                f"{_reasons(error)}\nbody: {response.content[:2000]!r}"
            ) from None
        if response.get("Content-Type") == PROBLEM_CONTENT_TYPE:
            self._problem_declared(openapi_request.path_pattern, request, response, where)

    def _problem_declared(
        self, path: str | None, request: HttpRequest, response: HttpResponse, where: str
    ) -> None:
        """A problem's slug is one its operation declares for its status (``x-problem-types``,
        core.schema.problem), so that a client knows every ``type`` it may get."""
        operation = self.document["paths"][path][str(request.method).lower()]
        declared = operation["responses"][str(response.status_code)].get("x-problem-types", [])
        slug = str(json.loads(response.content)["type"]).rsplit("/", 1)[-1]
        if slug not in declared:
            raise SchemaMismatchError(
                f"{where}: operation {operation.get('operationId')} does not declare the "
                f"problem type {slug!r} for {response.status_code} (its x-problem-types: "
                f"{declared}); name it in the view's extend_schema responses "
                f"({response.status_code}: core.schema.problem(...)), or in "
                "core.schema.AutoSchema._shared_problems if the machinery every view shares "
                "raises it"
            )

    def _refused(self, response: HttpResponse, where: str, *, status: int, what: str) -> None:
        """What the schema does not document may only be refused, with a problem."""
        if response.status_code != status:
            raise SchemaMismatchError(
                f"{where}: the schema documents no such {what}; document it, or add the path "
                "to tests.openapi.UNDOCUMENTED if it is not part of the API"
            )
        if response.get("Content-Type") != PROBLEM_CONTENT_TYPE:
            raise SchemaMismatchError(f"{where}: not {PROBLEM_CONTENT_TYPE}")
        errors = [error.message for error in self.problem.iter_errors(json.loads(response.content))]
        if errors:
            raise SchemaMismatchError(f"{where}: not a problem: {'; '.join(errors)}")


@functools.cache
def schema_check() -> SchemaCheck:
    """The session's checker, for the schema ``/api/schema/`` serves."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaCheck(SchemaGenerator().get_schema(request=None, public=True))


def response_checked(response: Any) -> Any:
    """``response``, once the schema allows it (:class:`SchemaMismatchError` if not)."""
    schema_check().check(response)
    return response


# Counts reported by xdist's worker processes, summed in the controller that prints them.
_workers_counts = [0, 0]


def _counts() -> tuple[int, int]:
    checked, skipped = _workers_counts
    if schema_check.cache_info().currsize:
        check = schema_check()
        checked, skipped = checked + check.checked, skipped + check.skipped
    return checked, skipped


def pytest_sessionfinish(session: Any) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its controller prints the sum
        workeroutput["openapi"] = _counts()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    checked, skipped = getattr(node, "workeroutput", {}).get("openapi", (0, 0))
    _workers_counts[0] += checked
    _workers_counts[1] += skipped


def pytest_terminal_summary(terminalreporter: Any) -> None:
    checked, skipped = _counts()
    if checked or skipped:
        terminalreporter.write_line(
            f"OpenAPI: {checked} responses matched the schema "
            f"({skipped} for pages that are not the API were not checked)"
        )
