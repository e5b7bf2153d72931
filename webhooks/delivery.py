"""Sending a webhook: the outbox's ``webhook`` sender, which the app registers.

Each attempt signs the event's body anew (Standard Webhooks: ``webhook-timestamp`` is the
attempt's time; ``webhook-id`` is the event's, the same on every attempt) and POSTs it through
``core.fetch.url_post``: resolved once, no address that is not public unless the operator
permits it, no redirect, no proxy, at most ``RS_WEBHOOK_TIMEOUT_SECONDS`` in all. A 2xx answer
delivers it; any other answer, a timeout or a failed connection is retried on
``RS_WEBHOOK_RETRY_SCHEDULE`` (Standard Webhooks' schedule, over more than a day); an endpoint
deleted or deactivated meanwhile fails it at once. An endpoint that answers ``410 Gone`` asks
for nothing more: it is deactivated, and the delivery fails at once. The outbox records each
outcome on the delivery (:func:`_delivered`, :func:`_retrying`, :func:`_failed`) in the
transaction in which it records the message's.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.fetch import FetchError, operator_options, url_post
from outbox.models import Message
from outbox.senders import Sender
from outbox.services import delay_scheduled
from resolution.protocol.webhooks import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    secret_parse,
    signature,
)
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Endpoint
from webhooks.seals import SecretUnreadableError, secret_open
from webhooks.services import WEBHOOK, endpoint_activate

# Of the endpoint's answer, read this much at most (its status is what counts).
ANSWER_BYTES = 4096
_ANSWERED = re.compile(r"HTTP (\d{3})")


class EndpointGoneError(Exception):
    """The delivery has nowhere to go: its endpoint (or its provider) was deleted or
    deactivated after the event, the endpoint answered 410 Gone, or the delivery was
    forgotten."""


class EndpointRefusedError(Exception):
    """The endpoint answered, but not 2xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _secrets_signing(endpoint: Endpoint, now: datetime) -> list[str]:
    """The sealed secrets each delivery is signed with: the current one, and the previous one
    while the overlap after a rotation lasts."""
    overlap = timedelta(seconds=settings.RS_WEBHOOK_SECRET_OVERLAP_SECONDS)
    sealed = [endpoint.secret_sealed]
    rotated = endpoint.secret_rotated_at
    if endpoint.previous_secret_sealed and rotated is not None and now - rotated < overlap:
        sealed.append(endpoint.previous_secret_sealed)
    return sealed


def webhook_deliver(message: Message) -> str:
    """POST the message's delivery once; its answer's status (the outbox's receipt). Raises
    :class:`EndpointGoneError` (it fails for good), :class:`EndpointRefusedError`,
    ``FetchError`` or ``SecretUnreadableError`` (it is retried)."""
    delivery = (
        Delivery.objects.select_related("event", "endpoint__provider")
        .filter(pk=message.payload.get("delivery"))
        .first()
    )
    if delivery is None:
        raise EndpointGoneError("the delivery was forgotten")
    endpoint = delivery.endpoint
    if endpoint.deleted_at is not None:
        raise EndpointGoneError("the endpoint was deleted")
    if not endpoint.is_active:
        raise EndpointGoneError("the endpoint was deactivated")
    if not endpoint.provider.is_active:
        raise EndpointGoneError("the provider is inactive")
    now = timezone.now()
    timestamp = int(now.timestamp())
    body = delivery.event.body.encode()
    signatures = " ".join(
        signature(
            secret_parse(secret_open(endpoint.pk, sealed)),
            msg_id=delivery.event_id,
            timestamp=timestamp,
            body=body,
        )
        for sealed in _secrets_signing(endpoint, now)
    )
    answer = url_post(
        endpoint.url,
        content=body,
        content_type="application/json",
        headers=[
            (HEADER_ID, delivery.event_id),
            (HEADER_TIMESTAMP, str(timestamp)),
            (HEADER_SIGNATURE, signatures),
        ],
        max_bytes=ANSWER_BYTES,
        timeout=settings.RS_WEBHOOK_TIMEOUT_SECONDS,
        **operator_options(),
    )
    if answer.status == 410:
        endpoint_activate(endpoint=endpoint, is_active=False, actor="its own answer, 410 Gone")
        raise EndpointGoneError("HTTP 410 Gone: the endpoint is deactivated")
    if not 200 <= answer.status < 300:
        raise EndpointRefusedError(answer.status)
    return str(answer.status)


def _described(error: Exception) -> str:
    """What the delivery's history and the logs say of a failed attempt: the status, or the
    kind of failure; never a secret, never the body."""
    if isinstance(error, EndpointRefusedError | EndpointGoneError):
        return str(error)
    if isinstance(error, FetchError):
        return f"{error.reason}: {error.detail}" if error.detail else error.reason
    if isinstance(error, SecretUnreadableError):
        return "the secret does not open (SECRET_KEY changed?): rotate it"
    return type(error).__name__


def _status_of(text: str) -> int | None:
    answered = _ANSWERED.match(text)
    return int(answered.group(1)) if answered else None


def _record(message: Message, **fields: object) -> None:
    Delivery.objects.filter(pk=message.payload.get("delivery")).update(
        attempts=message.attempts, updated_at=timezone.now(), **fields
    )


def _delivered(message: Message, receipt: str) -> None:
    now = timezone.now()
    _record(
        message,
        state=DeliveryState.DELIVERED,
        last_status=int(receipt),
        last_error="",
        last_attempt_at=now,
        next_attempt_at=None,
        delivered_at=now,
    )


def _retrying(message: Message, text: str) -> None:
    due = Message.objects.filter(pk=message.pk).values_list("next_attempt_at", flat=True).get()
    _record(
        message,
        last_status=_status_of(text),
        last_error=text,
        last_attempt_at=timezone.now(),
        next_attempt_at=due,
    )


def _failed(message: Message, reason: str) -> None:
    status = _status_of(reason)  # an answer that ends it (410), not a failure before sending
    answered = {} if status is None else {"last_status": status, "last_attempt_at": timezone.now()}
    _record(
        message, state=DeliveryState.FAILED, last_error=reason, next_attempt_at=None, **answered
    )


def _retry_delay(attempt: int) -> float:
    return delay_scheduled(settings.RS_WEBHOOK_RETRY_SCHEDULE, attempt=attempt)


def webhook_sender() -> Sender:
    """The outbox's sender of webhook deliveries."""
    return Sender(
        kind=WEBHOOK,
        send=webhook_deliver,
        sent=_delivered,
        failed=_failed,
        retrying=_retrying,
        # The first attempt, then one after each delay of the schedule.
        max_attempts=lambda: len(settings.RS_WEBHOOK_RETRY_SCHEDULE) + 1,
        backoff_seconds=lambda: float(settings.RS_WEBHOOK_RETRY_SCHEDULE[0]),
        retry_delay=_retry_delay,
        permanent=(EndpointGoneError,),
        temporary=(EndpointRefusedError, FetchError, SecretUnreadableError),
        describe=_described,
    )
