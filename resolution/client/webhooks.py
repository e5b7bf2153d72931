"""Receiving the service's webhooks: check a delivery's Standard Webhooks signature and read
its event. No Django, no HTTP server: give it the body's exact bytes and the request's headers
from whatever framework receives them.

    from resolution.client.webhooks import webhook_verify, WebhookVerificationError

    try:
        event = webhook_verify(request_body, request_headers, "whsec_...")
    except WebhookVerificationError as error:
        return 400 if isinstance(error, WebhookMalformedError) else 401
    if already_seen(event.id):  # the same id on every retry of one event
        return 204
    handle(event.type, event.data)

A delivery verifies when one of the ``v1`` signatures its ``webhook-signature`` header lists is
the HMAC-SHA256, under the secret, of ``{webhook-id}.{webhook-timestamp}.{body}`` (compared in
constant time), and its timestamp is within :data:`TOLERANCE_SECONDS` of now (an old delivery
replayed is refused). The service retries a delivery until it is answered 2xx, so an event may
arrive more than once: deduplicate by ``event.id``.

Public API: ``TOLERANCE_SECONDS``, ``SignedDelivery``, ``WebhookEvent``,
``WebhookVerificationError``, ``WebhookMalformedError``, ``WebhookSignatureError``,
``webhook_signature_verify``, ``webhook_verify``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from resolution.protocol.webhooks import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SecretError,
    secret_parse,
    signature_matches,
)

TOLERANCE_SECONDS: Final = 300
# Longer than any Unix time in seconds for the next few thousand years.
_MAX_TIMESTAMP_DIGITS: Final = 12


class WebhookVerificationError(ValueError):
    """A delivery that must not be acted on."""


class WebhookMalformedError(WebhookVerificationError):
    """A header is missing or malformed, or the signed body is not an event: answer 400."""


class WebhookSignatureError(WebhookVerificationError):
    """No signature matches, or the timestamp is outside the tolerance: answer 401."""


@dataclass(frozen=True)
class SignedDelivery:
    """A delivery whose signature verified: its event's id and the attempt's Unix time."""

    id: str
    attempted_at: int


@dataclass(frozen=True)
class WebhookEvent:
    """An event the service sent: ``{"type", "timestamp", "data"}``, and its id."""

    id: str
    attempted_at: int
    type: str
    timestamp: str  # RFC 3339: when the event happened (the same on every retry)
    data: dict[str, Any]


def webhook_signature_verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> SignedDelivery:
    """Check a delivery's headers and signature, whatever its body says."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (
        lowered.get(name, "").strip() for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    )
    for name, value in (
        (HEADER_ID, msg_id),
        (HEADER_TIMESTAMP, stamp),
        (HEADER_SIGNATURE, signatures),
    ):
        if not value:
            raise WebhookMalformedError(f"the {name} header is missing")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
        raise WebhookMalformedError(f"the {HEADER_TIMESTAMP} header is not Unix seconds")
    try:
        key = secret_parse(secret)
    except SecretError as error:
        raise WebhookVerificationError(f"the secret given is not one: {error}") from None
    timestamp = int(stamp)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"the {HEADER_TIMESTAMP} is more than {tolerance} s from now: a replay, or a clock off"
        )
    if not signature_matches(key, msg_id=msg_id, timestamp=timestamp, body=body, header=signatures):
        raise WebhookSignatureError("no signature matches the secret")
    return SignedDelivery(id=msg_id, attempted_at=timestamp)


def webhook_verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> WebhookEvent:
    """Check a delivery (:func:`webhook_signature_verify`) and read its event."""
    signed = webhook_signature_verify(body, headers, secret, now=now, tolerance=tolerance)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookMalformedError("the body is not JSON") from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("type"), str)
        and isinstance(payload.get("timestamp"), str)
        and isinstance(payload.get("data"), dict)
    ):
        raise WebhookMalformedError("the body is not an event: {type, timestamp, data}")
    return WebhookEvent(
        id=signed.id,
        attempted_at=signed.attempted_at,
        type=payload["type"],
        timestamp=payload["timestamp"],
        data=payload["data"],
    )
