"""The SDK's one HTTP transport: every request of the client, the auditor, the monitor and the
x5u fetch goes through ``Transport.request``, under one policy.

- Every request has a timeout: to connect, and for each wait for data (``DEFAULT_TIMEOUT``).
- Reads (GET and HEAD, the safe methods of RFC 9110 §9.2.1) are retried ``retries`` times
  after a network error, a 429 or a 502/503/504: the service may be passing through an
  overload.  The wait is ``BACKOFF`` seconds, doubled at each attempt, or the answer's
  ``Retry-After`` (RFC 9110 §10.2.3) when that is longer, never more than ``MAX_RETRY_AFTER``.
- Writes are retried the same way only when the caller says they are idempotent
  (``idempotent=True``): a POST that carries an ``Idempotency-Key`` (the service answers its
  repeat with the first answer, and ``409 idempotency-key-in-use`` while the first still runs,
  which is retried too), or a PUT or DELETE whose JWS body the service recognises when sent
  again; unless the server asks a write to wait longer than ``MAX_RETRY_AFTER`` (a limit that
  lasts): the error is then raised at once. Other writes are sent once: a POST that timed out
  may have done its work.
- A body is read up to a limit when the caller gives one, so that a hostile server cannot
  fill the memory; the body of a 4xx/5xx is read up to 64 KiB.
- A 4xx/5xx answer raises ``ApiError`` with its RFC 9457 members, a failed connection
  ``NetworkError``, a body over its limit ``ResponseError``.

Public API: ``Transport``, ``Answer``, ``retry_delay``, ``DEFAULT_TIMEOUT``, ``DEFAULT_RETRIES``,
``BACKOFF``, ``MAX_RETRY_AFTER``, ``RETRIED_STATUSES``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from resolution import __version__
from resolution.client.errors import ApiError, NetworkError, ResponseError

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a request may take to connect, or wait for data, before it fails."""

DEFAULT_RETRIES: Final = 2
"""Extra attempts of a read after a network error, a 429 or a 502/503/504."""

BACKOFF: Final = 0.25
"""Seconds before the first retry, doubled for each further one."""

MAX_RETRY_AFTER: Final = 10.0
"""Longest wait before a retry, whatever ``Retry-After`` asks for."""

RETRIED_STATUSES: Final = frozenset({429, 502, 503, 504})
"""Statuses that may pass: too many requests, and a gateway's overload or timeout."""

KEY_IN_USE: Final = "idempotency-key-in-use"
"""The problem of a POST whose Idempotency-Key is still in use by a first attempt: retried."""

_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
_MAX_PROBLEM_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """A 1xx-3xx answer, its body read whole."""

    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` if it is not."""
        return json.loads(self.content)


def retry_delay(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first): the backoff, or the
    server's ``Retry-After`` (delta-seconds or an HTTP date) when longer, capped."""
    backoff = BACKOFF * (1 << attempt)
    asked = _retry_after_seconds(retry_after) if retry_after is not None else None
    if asked is None:
        return backoff
    return min(max(backoff, asked), MAX_RETRY_AFTER)


def _worth_waiting(method: str, response: httpx.Response) -> bool:
    """Whether to try again: always for a read; for a write, unless the server asks for a
    longer wait than ``MAX_RETRY_AFTER`` (a limit on writes, such as SMS sent, that lasts
    minutes or hours: waiting the cap and asking again would only be refused again)."""
    if method in _SAFE_METHODS:
        return True
    header = response.headers.get("retry-after")
    asked = _retry_after_seconds(header) if header is not None else None
    return asked is None or asked <= MAX_RETRY_AFTER


def _retry_after_seconds(header: str) -> float | None:
    value = header.strip()
    if value.isdigit():  # RFC 9110 §10.2.3: delta-seconds
        return float(value)
    try:
        moment = parsedate_to_datetime(value)  # or an HTTP-date (RFC 9110 §5.6.7)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class Transport:
    """Sends requests over one keep-alive httpx client, with the module's retry policy.

    ``timeout`` bounds each request (connect, and each wait for data), ``retries`` is how many
    times a read is tried again.  Pass ``http`` to use an httpx client of your own (it is left
    open, its timeout and headers alone); otherwise one is made with at most ``connections``
    connections (httpx's default when ``None``).  Safe to use from several threads.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        http: httpx.Client | None = None,
        connections: int | None = None,
    ) -> None:
        self.retries = retries
        self._own_http = http is None
        if http is None:
            limits = (
                httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
                if connections is not None
                else httpx.Limits()
            )
            http = httpx.Client(
                timeout=httpx.Timeout(timeout),
                headers={"User-Agent": f"rs/{__version__} (python-httpx)"},
                follow_redirects=False,
                limits=limits,
            )
        self.http = http

    def close(self) -> None:
        """Close the httpx client, if it was made here."""
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        limit: int | None = None,
        idempotent: bool = False,
    ) -> Answer:
        """Send ``method url`` and return its answer, retried as the module says.

        ``name`` is how an ``ApiError`` or ``ResponseError`` names the request target (the URL
        by default; the SDK gives the API path); ``limit`` is the most bytes the body may have;
        ``idempotent`` says that a write may be sent again (the module's docstring).
        """
        shown = name or url
        retried = method in _SAFE_METHODS or idempotent
        attempts = 1 + (self.retries if retried else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self.http.stream(
                    method, url, headers=headers, params=params, content=content
                ) as response:
                    status = response.status_code
                    if status in RETRIED_STATUSES and not last and _worth_waiting(method, response):
                        delay = retry_delay(attempt, response.headers.get("retry-after"))
                    elif status >= 400:
                        error = _api_error(method, shown, response)
                        if not (idempotent and error.slug == KEY_IN_USE and not last):
                            raise error
                        # The first attempt, whose answer was lost, still runs: wait for it.
                        delay = retry_delay(attempt, response.headers.get("retry-after"))
                    else:
                        body = _read(response, limit, f"{method} {shown}")
                        return Answer(status, response.headers, body)
            except httpx.TransportError as exc:
                if last:
                    raise NetworkError(method, url, exc) from exc
                delay = retry_delay(attempt)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _read(response: httpx.Response, limit: int | None, what: str) -> bytes:
    """The body of ``response``; ``ResponseError`` as soon as it is over ``limit`` bytes."""
    length = response.headers.get("content-length", "")
    if limit is not None and length.isdigit() and int(length) > limit:
        raise ResponseError(f"{what}: the answer of {length} bytes is over the {limit}-byte limit")
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if limit is not None and total > limit:
            raise ResponseError(f"{what}: the answer is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _api_error(method: str, name: str, response: httpx.Response) -> ApiError:
    """The ``ApiError`` of a 4xx/5xx answer: its RFC 9457 members, or the HTTP status."""
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= _MAX_PROBLEM_BYTES:
            break  # enough to say what failed
    raw = bytes(data[:_MAX_PROBLEM_BYTES])
    body: Any = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    if isinstance(body, dict):
        members = {"type", "title", "status", "detail"}
        return ApiError(
            method=method,
            url=name,
            status=response.status_code,
            type=str(body.get("type") or "about:blank"),
            title=str(body.get("title") or response.reason_phrase),
            detail=str(body.get("detail") or ""),
            extensions={k: v for k, v in body.items() if k not in members},
        )
    text = raw.decode(response.encoding or "utf-8", "replace")
    shown = " ".join(text.split())[:200]
    return ApiError(
        method=method,
        url=name,
        status=response.status_code,
        type="about:blank",
        title=response.reason_phrase,
        detail=shown or response.reason_phrase,
    )
