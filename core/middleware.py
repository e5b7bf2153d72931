"""Request middleware: one structured log line per request, a cap on request body size, a
database outage answered as a 503 problem on every view, a provider's reads kept on the primary
after its writes, and the Content-Security-Policy of HTML pages."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from core.logging import ROUTE_ENVIRON_KEY
from core.outages import DATABASE_ERRORS, database_outage
from core.problems import database_unavailable_response, handler404, problem_response
from core.read_replica import principal_wrote, replica_configured, request_principal

logger = structlog.get_logger("rs.request")

_REQUEST_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _request_id(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is short and plain, else a new one."""
    given = request.headers.get("X-Request-ID", "")
    if 0 < len(given) <= 64 and set(given) <= _REQUEST_ID_CHARS:
        return given
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Log method, route (never the raw path: it may hold a phone number), status and time.

    The route is also left in the WSGI environ (``core.logging.ROUTE_ENVIRON_KEY``) for the
    access log of gunicorn (config.gunicorn), which would otherwise print the raw path.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        match = request.resolver_match
        route = match.route if match else "<unresolved>"
        if match:
            request.META[ROUTE_ENVIRON_KEY] = route  # the WSGI environ itself under gunicorn
        logger.info(
            "request",
            request_id=request_id,
            method=request.method,
            route=route,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            provider=getattr(getattr(request, "rs_provider", None), "slug", None),
        )
        response["X-Request-ID"] = request_id
        return response


class RequestSizeLimitMiddleware:
    """Refuse request bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before anything reads them.

    Django enforces that limit only when ``request.body`` is read; DRF's parsers read the stream
    directly, so the cap is applied here from Content-Length (and to chunked bodies, which we do
    not accept at all: every client we serve sends a length).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            return problem_response(
                slug="length-required",
                title="Length required",
                status=411,
                detail="Send the request body with a Content-Length.",
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(
                slug="bad-request",
                title="Bad request",
                status=400,
                detail="Content-Length is not a number.",
            )
        if limit is not None and length > limit:
            return problem_response(
                slug="request-too-large",
                title="Request body too large",
                status=413,
                detail=f"Request bodies are limited to {limit} bytes.",
            )
        return self.get_response(request)


# Paths whose every answer is JSON, a problem included, even from an unknown URL.
API_PATH_PREFIXES = ("/v1/", "/log/", "/ca/")


class ApiNotFoundMiddleware:
    """With ``DEBUG``, Django answers an unknown URL with its HTML page, not ``handler404``:
    API paths keep their problem+json 404 (RFC 9457), as in production. Pages keep Django's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and request.path.startswith(API_PATH_PREFIXES)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return handler404(request)
        return response


def _query_answered(execute: Callable[..., Any], *args: Any) -> Any:
    """An ``execute_wrapper``: a query that got an answer tells core.outages so."""
    result = execute(*args)
    database_outage.answered()
    return result


class DatabaseOutageMiddleware:
    """A database that is down or too slow is a 503 problem with Retry-After for every view.

    The API's views get it from their exception handler (core.problems); this does the same for
    the others (pages, the problem pages, the admin), and Django's handler500 for a middleware
    (core.problems.handler500), so no outage is ever Django's 500 with a traceback per request.
    While this process counts an outage, each query is watched, so that the first to be
    answered after a quiet spell ends it (core.outages); otherwise queries are left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not database_outage.failures:
            return self.get_response(request)
        with connection.execute_wrapper(_query_answered):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable_response(exception)
        return None


class ReadYourWritesMiddleware:
    """After an unsafe request (POST, PUT, PATCH, DELETE) by a provider, that provider's reads
    stay on the primary for a while (core.read_replica): it sees its own writes, whatever a
    replica has replayed. Marked when the response leaves, after the write committed, so
    before the provider can read again; whatever the status (a failed write may have written).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in _SAFE_METHODS and replica_configured():
            principal = request_principal(request)
            if principal is not None:
                principal_wrote(principal)
        return response


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# Pages load only what this service serves: no inline script, no other origin (docs/explorer.md).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The API documentation (Swagger UI, ReDoc, from drf-spectacular-sidecar) styles itself with
# inline styles, and ReDoc runs its search in a worker made from a blob: still no inline script
# and no other origin.
API_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def content_security_policy(policy: str) -> Callable[[Callable[..., HttpResponse]], Any]:
    """A view decorator giving its HTML responses ``policy`` instead of the default one."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.headers["Content-Security-Policy"] = policy
            return response

        return wrapped

    return decorate


class ContentSecurityPolicyMiddleware:
    """Give every HTML response the strict policy, unless its view set one of its own.

    Django 5.2 has no CSP support of its own (``django.middleware.csp`` arrives in 6.0). Only
    HTML needs it: JSON, tiles and files are not rendered as documents.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response.headers and response.headers.get(
            "Content-Type", ""
        ).startswith("text/html"):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
