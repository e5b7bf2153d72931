"""RFC 9457 problem details: the one shape of every error the service returns.

Domain errors are :class:`Problem` subclasses carrying a stable ``slug`` (the last segment of
the ``type`` URI), a title and a status. :func:`problem_exception_handler` renders those and
every DRF and Django error as ``application/problem+json``; :func:`handler404` and friends do
the same for errors raised outside DRF views, so no HTML error page or stack trace leaks out.
A database that is down or does not answer in time is ``service-unavailable`` (503) with
``Retry-After``, wherever it fails (:func:`database_unavailable_response`; core.outages logs it
once per outage).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf

from core.outages import DATABASE_ERRORS, database_outage, retry_after

logger = structlog.get_logger(__name__)

CONTENT_TYPE = "application/problem+json"


class Problem(drf.APIException):
    """A domain error; subclasses set ``slug``, ``title`` and ``status_code``."""

    slug = "server-error"
    title = "Internal server error"
    status_code = 500

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.extensions = extensions


class ServiceUnavailable(Problem):
    slug = "service-unavailable"
    title = "Service unavailable"
    status_code = 503


class DependencyUnavailable(ServiceUnavailable):
    """The database or the cache is down: core.outages logs the outage once, so its answers
    are not logged one by one (Django logs every 5xx answer otherwise)."""


def database_unavailable(error: BaseException) -> DependencyUnavailable:
    """The problem a database outage answers, the failure counted in the outage."""
    database_outage.failed(error)
    seconds = retry_after()
    return DependencyUnavailable(
        f"The database is unavailable; retry in {seconds} s.", retry_after=seconds
    )


def _logged_as_outage(response: HttpResponse) -> HttpResponse:
    # Django's own flag (django.utils.log.log_response): the answer is not logged again.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# Stable slugs for DRF's own exceptions; the slug is part of our public API.
_DRF_SLUGS: dict[type[drf.APIException], tuple[str, str]] = {
    drf.ValidationError: ("validation-error", "Invalid request"),
    drf.ParseError: ("malformed-request", "Malformed request body"),
    drf.NotAuthenticated: ("unauthenticated", "Authentication required"),
    drf.AuthenticationFailed: ("invalid-credentials", "Invalid credentials"),
    drf.PermissionDenied: ("forbidden", "Forbidden"),
    drf.NotFound: ("not-found", "Not found"),
    drf.MethodNotAllowed: ("method-not-allowed", "Method not allowed"),
    drf.NotAcceptable: ("not-acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: ("unsupported-media-type", "Unsupported media type"),
    drf.Throttled: ("rate-limited", "Too many requests"),
}

# Problems raised outside any Problem class (middleware, Django's error handlers).
_OTHER_SLUGS: dict[str, tuple[int, str]] = {
    "request-too-large": (413, "Request body too large"),
    "length-required": (411, "Length required"),
    "bad-request": (400, "Bad request"),
}


def problem_catalogue() -> dict[str, tuple[int, str]]:
    """Every problem type the service can return, ``slug -> (status, title)``.

    Domain problems are found from the :class:`Problem` subclasses the apps define, so a new
    one is documented at /problems/<slug> as soon as it exists.
    """
    catalogue = {slug: (exc.status_code, title) for exc, (slug, title) in _DRF_SLUGS.items()}
    catalogue |= _OTHER_SLUGS
    pending: list[type[Problem]] = [Problem]
    while pending:
        kind = pending.pop()
        catalogue[kind.slug] = (kind.status_code, kind.title)
        pending.extend(kind.__subclasses__())
    return catalogue


def problem_type(slug: str) -> str:
    """The ``type`` URI for a slug: a page on this service that documents the problem."""
    return f"{settings.RS_PUBLIC_URL}/problems/{slug}"


def problem_response(
    *,
    slug: str,
    title: str,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JsonResponse:
    """Build a problem+json response (RFC 9457 §3)."""
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail}
    body.update(extensions)
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_errors(detail: Any, pointer: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error structure into ``[{pointer, detail, code}]`` (JSON Pointer)."""
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in _field_errors(
                value, pointer if key == "non_field_errors" else f"{pointer}/{key}"
            )
        ]
    if isinstance(detail, list):
        if all(isinstance(item, drf.ErrorDetail) for item in detail):
            return [
                {"pointer": f"#{pointer}", "detail": str(item), "code": item.code or "invalid"}
                for item in detail
            ]
        return [
            error
            for index, item in enumerate(detail)
            for error in _field_errors(item, f"{pointer}/{index}")
        ]
    code = getattr(detail, "code", None) or "invalid"
    return [{"pointer": f"#{pointer}", "detail": str(detail), "code": code}]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF ``EXCEPTION_HANDLER``: every exception raised in an API view becomes a problem."""
    # Not at the top: rest_framework.views imports the authentication, permission and throttle
    # classes of the settings while it loads, and those may raise problems defined with this
    # module.
    from rest_framework.views import set_rollback

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DATABASE_ERRORS):
        exc = database_unavailable(exc)
    if not isinstance(exc, drf.APIException):
        # A bug: log it with its traceback, tell the client nothing more. (A database that is
        # down is a 503 above, logged once per outage by core.outages.)
        logger.exception("unhandled error in API view", view=type(context.get("view")).__name__)
        set_rollback()
        return problem_response(
            slug="server-error",
            title="Internal server error",
            status=500,
            detail="The server could not complete the request. It has been logged.",
        )

    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if isinstance(exc, Problem):
        slug, title = exc.slug, exc.title
        extensions.update(exc.extensions)
        if "retry_after" in extensions:  # a domain rate limit (e.g. ca.limits)
            headers["Retry-After"] = str(extensions["retry_after"])
    else:
        slug, title = next(
            (value for kind, value in _DRF_SLUGS.items() if isinstance(exc, kind)),
            ("bad-request" if exc.status_code < 500 else "server-error", "Error"),
        )
    if isinstance(exc, drf.ValidationError):
        extensions["errors"] = _field_errors(exc.detail)
        detail = "The request has invalid fields; see errors."
    else:
        detail = str(exc.detail)
    if isinstance(exc, drf.Throttled):
        wait = math.ceil(getattr(exc, "wait", None) or 1)
        headers["Retry-After"] = str(wait)
        extensions["retry_after"] = wait
        detail = f"Rate limit exceeded; retry in {wait} s."
    if isinstance(exc, drf.MethodNotAllowed) and (view := context.get("view")):
        headers["Allow"] = ", ".join(view.allowed_methods)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    set_rollback()
    response = problem_response(
        slug=slug,
        title=title,
        status=exc.status_code,
        detail=detail,
        headers=headers,
        **extensions,
    )
    return _logged_as_outage(response) if isinstance(exc, DependencyUnavailable) else response


# --- Errors raised outside DRF views (URL resolution, middleware, plain Django views) -----------


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(
        slug="bad-request", title="Bad request", status=400, detail="The request was rejected."
    )


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(slug="forbidden", title="Forbidden", status=403, detail="Forbidden.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(
        slug="not-found", title="Not found", status=404, detail="No resource at this URL."
    )


def database_unavailable_response(error: BaseException) -> HttpResponse:
    """503 ``service-unavailable`` with ``Retry-After``, for a database error outside DRF."""
    problem = database_unavailable(error)
    response = problem_response(
        slug=problem.slug,
        title=problem.title,
        status=problem.status_code,
        detail=str(problem.detail),
        headers={"Retry-After": str(problem.extensions["retry_after"])},
        **problem.extensions,
    )
    return _logged_as_outage(response)


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this from inside its handler of the exception: a database outage that
    # reached it from a middleware is a 503 too.
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_ERRORS):
        return database_unavailable_response(error)
    return problem_response(
        slug="server-error",
        title="Internal server error",
        status=500,
        detail="The server could not complete the request. It has been logged.",
    )
