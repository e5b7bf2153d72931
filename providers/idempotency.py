"""Safe retries of POSTs: the ``Idempotency-Key`` header (IETF httpapi,
draft-ietf-httpapi-idempotency-key-header).

A client that sends a POST with ``Idempotency-Key: "<key>"`` (a structured-field string; a bare
token is accepted too) and gets no answer (a timeout, a dropped connection) sends the same
request again with the same key:

- if the first one succeeded (2xx), the stored answer comes back, status, ``Location`` and body,
  with ``Idempotent-Replayed: true``, and nothing is done a second time (no second SMS, no second
  certificate);
- if the first one failed, nothing was changed (every error changes nothing), so the request
  simply runs again: only successes are kept;
- the same key with another request (method, path, media type or body) is ``422
  idempotency-key-reused``; the same key while the first request still runs is ``409
  idempotency-key-in-use`` with ``Retry-After``;
- a key is the provider's: another provider's key of the same value is another key. Answers are
  kept ``RS_IDEMPOTENCY_KEEP_HOURS`` (24) and sealed at rest, as they may carry a secret.

Every POST view method of the API that changes something is decorated with :func:`idempotent`
(a test walks the URLs to check it), which also tells the OpenAPI document (core.schema) to
declare the header and the two problems.

What remains: a process that dies after its change committed but before the answer was stored
(a few milliseconds) leaves the change without its answer; the retry then runs again and is
refused by the change's own checks (a spent challenge, a used ``jti``) where it has them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, TypeVar

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core import locks
from core.problems import Problem
from providers.authentication import caller_provider
from providers.models import IdempotentRequest, Provider

logger = structlog.get_logger(__name__)

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
MAX_KEY_LENGTH: Final = 255
# The answer's headers worth keeping: where the resource is, and how long to wait.
_KEPT_HEADERS: Final = ("Location", "Retry-After")
_NONCE_BYTES: Final = 12

View = TypeVar("View", bound=Callable[..., Response])


class IdempotencyKeyInvalid(Problem):
    slug = "idempotency-key-invalid"
    title = "The Idempotency-Key header is not a key"
    status_code = 400


class IdempotencyKeyInUse(Problem):
    slug = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still running"
    status_code = 409


class IdempotencyKeyReused(Problem):
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for another request"
    status_code = 422


def _key(request: Request) -> str | None:
    """The header's key: a structured-field string (``"…"``), or the same bare."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        if "\\" in value or '"' in value:
            raise IdempotencyKeyInvalid("Escapes are not allowed in the key.")
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(0x20 <= ord(c) < 0x7F for c in value):
        raise IdempotencyKeyInvalid(
            f"The key is 1 to {MAX_KEY_LENGTH} printable ASCII characters, "
            'e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324".'
        )
    return value


def _fingerprint(request: Request) -> bytes:
    """What makes two requests the same request: method, path with query, media type, body."""
    digest = hashlib.sha256()
    for part in (
        request.method or "",
        request.get_full_path(),
        request.content_type or "",
    ):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\n")
    # Read before the view parses it: DRF then parses the body it finds read.
    digest.update(request._request.body)
    return digest.digest()


def _cipher() -> AESGCM:
    return AESGCM(salted_hmac("rs.providers.idempotency", "v1", algorithm="sha256").digest())


def _associated(provider: Provider, key: str) -> bytes:
    return f"{provider.pk}\n{key}".encode()


def _seal(provider: Provider, key: str, answer: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    plain = json.dumps(answer, cls=JSONEncoder, separators=(",", ":")).encode()
    return nonce + _cipher().encrypt(nonce, plain, _associated(provider, key))


def _open(provider: Provider, key: str, sealed: bytes) -> dict[str, Any]:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    answer: dict[str, Any] = json.loads(
        _cipher().decrypt(nonce, ciphertext, _associated(provider, key))
    )
    return answer


def _stored(provider: Provider, key: str) -> IdempotentRequest | None:
    since = timezone.now() - timedelta(hours=settings.RS_IDEMPOTENCY_KEEP_HOURS)
    return IdempotentRequest.objects.filter(
        provider=provider, key=key, created_at__gte=since
    ).first()


def _replay(provider: Provider, key: str, stored: IdempotentRequest) -> Response:
    answer = _open(provider, key, bytes(stored.answer))
    headers = {**answer["headers"], REPLAYED_HEADER: "true"}
    return Response(answer["body"], status=stored.status, headers=headers)


def _store(provider: Provider, key: str, fingerprint: bytes, response: Response) -> None:
    answer = {
        "headers": {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)},
        "body": response.data,
    }
    # An expired answer of the same key is replaced: its 24 hours are over.
    IdempotentRequest.objects.filter(provider=provider, key=key).delete()
    try:
        IdempotentRequest.objects.create(
            provider=provider,
            key=key,
            fingerprint=fingerprint,
            status=response.status_code,
            answer=_seal(provider, key, answer),
            created_at=timezone.now(),  # the clock the 24 hours are read with
        )
    except IntegrityError:  # pragma: no cover - the session lock admits one request per key
        logger.warning("idempotent answer already stored", provider=provider.slug)


class _KeyLock:
    """The session lock on (provider, key), tried, never awaited."""

    def __init__(self, provider: Provider, key: str) -> None:
        self.name = f"{provider.pk}:{key}"

    def __enter__(self) -> _KeyLock:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [locks.IDEMPOTENCY, self.name]
            )
            if not cursor.fetchone()[0]:
                raise IdempotencyKeyInUse(
                    "The first request with this key has not finished; retry in a second.",
                    retry_after=1,
                )
        return self

    def __exit__(self, *_exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", [locks.IDEMPOTENCY, self.name]
            )


def idempotent(method: View) -> View:
    """Make a POST view method replay its success for a repeated ``Idempotency-Key``."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _key(request)
        if key is None:
            return method(view, request, *args, **kwargs)
        provider = caller_provider(request)
        fingerprint = _fingerprint(request)
        with _KeyLock(provider, key):
            stored = _stored(provider, key)
            if stored is not None:
                if bytes(stored.fingerprint) != fingerprint:
                    raise IdempotencyKeyReused(
                        "The key was used within the last "
                        f"{settings.RS_IDEMPOTENCY_KEEP_HOURS} hours for a request with another "
                        "method, path or body: use a new key for a new request."
                    )
                logger.info("idempotent request replayed", status=stored.status)
                return _replay(provider, key, stored)
            response = method(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                _store(provider, key, fingerprint, response)
            return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def idempotent_requests_prune() -> int:
    """Forget the answers older than ``RS_IDEMPOTENCY_KEEP_HOURS`` (beat); how many."""
    before = timezone.now() - timedelta(hours=settings.RS_IDEMPOTENCY_KEEP_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=before).delete()
    if deleted:
        logger.info("idempotent answers forgotten", count=deleted)
    return deleted
