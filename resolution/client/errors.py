"""The SDK's errors: every call to the service fails with a ``ClientError``.

``ApiError``: the service refused (an RFC 9457 problem, or another 4xx/5xx answer);
``NetworkError``: it could not be reached, or did not answer in time; ``ResponseError``: it
answered 2xx with something the API does not document.

Public API: ``ClientError``, ``ApiError``, ``NetworkError``, ``ResponseError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ClientError(Exception):
    """A call to the service failed; the message is one line saying what and why."""


class ApiError(ClientError):
    """The service refused the request: an RFC 9457 problem, or another 4xx/5xx answer.

    ``type`` is the problem's type URI (``about:blank`` when the answer was no problem
    document), ``slug`` its last path segment (the stable code, e.g. ``challenge-code-wrong``),
    ``extensions`` the problem's other members (``attempts_left``, ``retry_after``, ``errors``).
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int,
        type: str,  # the RFC 9457 member's name
        title: str,
        detail: str,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.method, self.url, self.status = method, url, status
        self.type, self.title, self.detail = type, title, detail
        self.extensions = dict(extensions or {})
        message = f"{method} {url}: {status} {self.slug}: {detail or title}"
        # The members a person acts on (ca.problems, core.problems).
        if isinstance(self.extensions.get("attempts_left"), int):
            message += f" ({self.extensions['attempts_left']} attempts left)"
        if isinstance(self.extensions.get("retry_after"), int):
            message += f" (retry in {self.extensions['retry_after']} s)"
        if self.field_errors:
            message += ": " + "; ".join(self.field_errors)
        super().__init__(message)

    @property
    def field_errors(self) -> tuple[str, ...]:
        """The problem's ``errors`` members (a validation problem's), each as "<field>:
        <detail>": the field named by the JSON Pointer without its "#/" ("request" for the
        whole body); members not of that shape are skipped."""
        errors = self.extensions.get("errors")
        if not isinstance(errors, list):
            return ()
        shown = []
        for error in errors:
            if not isinstance(error, dict) or not isinstance(error.get("detail"), str):
                continue
            pointer = error.get("pointer")
            field = pointer.lstrip("#/") if isinstance(pointer, str) else ""
            shown.append(f"{field or 'request'}: {error['detail']}")
        return tuple(shown)

    @property
    def slug(self) -> str:
        """The last segment of ``type``: the problem's stable code."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class NetworkError(ClientError):
    """The service could not be reached, or did not answer in time.

    ``method`` and ``url`` name the request, ``cause`` is the failure httpx reported.
    """

    def __init__(self, method: str, url: str, cause: httpx.TransportError) -> None:
        self.method, self.url, self.cause = method, url, cause
        if isinstance(cause, httpx.TimeoutException):
            message = f"{method} {url}: no answer in time ({type(cause).__name__})"
        else:
            message = f"{method} {url}: {type(cause).__name__}: {cause or 'connection failed'}"
        super().__init__(message)


class ResponseError(ClientError):
    """The service answered 2xx with something the API does not document."""
