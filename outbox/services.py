"""Writing messages to the outbox, and dispatching them.

:func:`message_enqueue` writes a message in the caller's transaction and, once it commits, asks
a worker for a dispatch at once (:func:`outbox_kick`); beat dispatches every
``RS_OUTBOX_DISPATCH_SECONDS`` as well, so a kick that cannot reach the broker only delays the
message. :func:`outbox_dispatch` claims one due message at a time, in a short transaction, with
``SELECT … FOR UPDATE SKIP LOCKED`` and a lease of ``RS_OUTBOX_LEASE_SECONDS``: any number of
dispatchers run at once without taking the same message, and the message of one that dies
falls due again when its lease ends.

What can still send a message twice: the provider accepts it, and the dispatcher dies (or loses
the database) before the one small transaction that marks it sent commits; the lease then ends
and another dispatcher sends it again. The window is the provider's reply on its way back plus
that commit. A send must also end within the lease, or a second dispatcher may claim the message
while the first is still waiting: ``RS_OUTBOX_LEASE_SECONDS`` exceeds the senders' own timeouts
(``TWILIO_TIMEOUT_SECONDS``, ``RS_WEBHOOK_TIMEOUT_SECONDS``). A message marked sent is never
claimed again.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from outbox.choices import MessageState
from outbox.models import Message
from outbox.senders import Sender, kinds_registered, sender_for

logger = structlog.get_logger(__name__)

# The task that runs outbox_dispatch (outbox.tasks), queued by name: services import no tasks.
DISPATCH_TASK = "outbox.tasks.outbox_dispatch"
# Longest wait between two attempts of a sender's doubling backoff (a sender with a
# ``retry_delay`` of its own sets its waits itself).
MAX_BACKOFF_SECONDS = 300
# A dispatch stops claiming after this long, so that no run holds a worker (or outlives the
# broker's visibility timeout); beat's next run takes over.
RUN_SECONDS = 20.0
ERROR_LENGTH = 200
# After a kick found the broker down, the seconds this process leaves it alone (beat's dispatch
# sends the messages meanwhile, once the broker is back).
KICK_PAUSE_SECONDS = 10.0


@dataclass
class _Pause:
    """Until when (``time.monotonic()``) this process asks the broker for no dispatch."""

    until: float = 0.0


_kicks_paused = _Pause()

SENT, RETRYING, DEAD = "sent", "retrying", "dead"


def message_enqueue(
    *,
    kind: str,
    reference: str,
    payload: Mapping[str, Any],
    deadline: datetime | None = None,
) -> Message:
    """Write a message of ``kind`` in the caller's transaction: it is sent once that commits,
    and never if it rolls back. ``payload`` is stored as it is: seal secrets first."""
    if not connection.in_atomic_block:
        raise RuntimeError("message_enqueue must run inside the transaction of its change")
    now = timezone.now()
    message = Message.objects.create(
        kind=kind,
        reference=reference,
        payload=dict(payload),
        deadline=deadline,
        next_attempt_at=now,
        updated_at=now,
    )
    _kick_on_commit()
    return message


def outbox_kick() -> None:
    """Ask a worker to dispatch now (without a broker: dispatch in this process, now).

    Harmless when it fails: the messages stay due, and beat's next dispatch sends them. So it
    is not retried; and once the broker could not be reached, this process stops asking for
    KICK_PAUSE_SECONDS, so that during a broker outage a commit waits for the broker's connect
    timeout once, not every time, and the outage is logged once, not on every request.
    """
    if time.monotonic() < _kicks_paused.until:
        return
    try:
        current_app.tasks[DISPATCH_TASK].apply_async(retry=False)
    except Exception as error:  # the broker is down; or, without one, the dispatch failed
        if isinstance(error, BrokerError):
            _kicks_paused.until = time.monotonic() + KICK_PAUSE_SECONDS
        logger.warning(
            "outbox dispatch not started now; the next one sends what is due",
            error=f"{type(error).__name__}: {error}"[:ERROR_LENGTH],
        )


def _kick_on_commit() -> None:
    # One kick per transaction, however many messages it writes.
    if not any(hook[1] is outbox_kick for hook in connection.run_on_commit):
        transaction.on_commit(outbox_kick)


def backoff_seconds(*, base: float, attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (from 1): exponential with jitter,
    between half and all of ``base · 2^(attempt-1)`` seconds, at most MAX_BACKOFF_SECONDS."""
    ceiling = min(base * 2 ** min(max(attempt - 1, 0), 20), MAX_BACKOFF_SECONDS)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 — spreading retries, not secrets


def delay_scheduled(schedule: Sequence[float], *, attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (from 1) by ``schedule``, the delays
    after the first, second, ... failure (its last for any later one), each spread by a tenth
    either way."""
    delay = schedule[min(max(attempt, 1), len(schedule)) - 1]
    return random.uniform(delay * 0.9, delay * 1.1)  # noqa: S311 — spreading retries, not secrets


def outbox_dispatch(*, run_seconds: float = RUN_SECONDS) -> Counter[str]:
    """Send the messages that are due, one claim at a time, until none is or ``run_seconds``
    have passed; how many were sent, are retrying and are dead. Safe in several processes at
    once (see the module's docstring)."""
    outcomes: Counter[str] = Counter()
    kinds = kinds_registered()
    started = time.monotonic()
    while kinds and time.monotonic() - started < run_seconds:
        message = _message_claim(kinds=kinds, now=timezone.now())
        if message is None:
            break
        outcomes[_message_dispatch(message)] += 1
    if outcomes:
        logger.info("outbox dispatched", **outcomes)
    return outcomes


def _message_claim(*, kinds: list[str], now: datetime) -> Message | None:
    """The next due message, leased to this dispatcher; None when nothing is due.

    The lease is the new ``next_attempt_at``: a message being sent is not due, and falls due
    again by itself if its dispatcher dies.
    """
    lease_end = now + timedelta(seconds=settings.RS_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(state=MessageState.PENDING, kind__in=kinds, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        message.locked_until = message.next_attempt_at = lease_end
        message.updated_at = now
        message.save(update_fields=["attempts", "locked_until", "next_attempt_at", "updated_at"])
    return message


def _message_dispatch(message: Message) -> str:
    """Send a claimed message, or give it up; the outcome."""
    sender = sender_for(message.kind)
    if message.deadline is not None and timezone.now() >= message.deadline:
        return _message_dead(
            message, sender, reason=_last("expired before it could be sent", message)
        )
    if message.attempts > sender.max_attempts():  # earlier attempts died with their dispatcher
        return _message_dead(
            message, sender, reason=_last(f"gave up after {message.attempts - 1} attempts", message)
        )
    try:
        receipt = sender.send(message)
    except sender.permanent as error:
        return _message_dead(message, sender, reason=sender.describe(error))
    except Exception as error:  # temporary: a provider outage, a database error, or a bug
        return _message_failed_for_now(message, sender, error)
    return _message_sent(message, sender, receipt)


def _last(reason: str, message: Message) -> str:
    return f"{reason} (last error: {message.last_error})" if message.last_error else reason


def _still_claimed(message: Message) -> QuerySet[Message]:
    """The message, if no other dispatcher took it over since this one's claim."""
    return Message.objects.filter(
        pk=message.pk, state=MessageState.PENDING, locked_until=message.locked_until
    )


def _message_sent(message: Message, sender: Sender, receipt: str) -> str:
    now = timezone.now()
    with transaction.atomic():
        # Marked sent even if it had been given up meanwhile (its lease had run out): it left.
        first = (
            Message.objects.filter(pk=message.pk)
            .exclude(state=MessageState.SENT)
            .update(
                state=MessageState.SENT,
                sent_at=now,
                receipt=receipt[:64],
                locked_until=None,
                last_error="",
                updated_at=now,
            )
        )
        if first:
            sender.sent(message, receipt)
    if not first:
        logger.warning(
            "outbox message sent twice: its lease ran out during the send",
            kind=message.kind,
            message=message.pk,
            reference=message.reference,
        )
    return SENT


def _message_failed_for_now(message: Message, sender: Sender, error: Exception) -> str:
    text = sender.describe(error)[:ERROR_LENGTH]
    if isinstance(error, DatabaseError) and not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()  # the next query reconnects if it must
    expected = isinstance(error, (*sender.temporary, DatabaseError))
    logger.warning(
        "outbox message not sent",
        kind=message.kind,
        message=message.pk,
        reference=message.reference,
        attempt=message.attempts,
        error=text,
        exc_info=not expected,
    )
    if message.attempts >= sender.max_attempts():
        return _message_dead(
            message, sender, reason=f"gave up after {message.attempts} attempts: {text}"
        )
    now = timezone.now()
    if sender.retry_delay is not None:
        wait = sender.retry_delay(message.attempts)
    else:
        wait = backoff_seconds(base=sender.backoff_seconds(), attempt=message.attempts)
    due = now + timedelta(seconds=wait)
    if message.deadline is not None and due >= message.deadline:
        return _message_dead(message, sender, reason=f"no time left to retry: {text}")
    with transaction.atomic():
        ours = _still_claimed(message).update(
            next_attempt_at=due, locked_until=None, last_error=text, updated_at=now
        )
        if ours:
            sender.retrying(message, text)
    return RETRYING


def _message_dead(message: Message, sender: Sender, *, reason: str) -> str:
    reason = reason[:ERROR_LENGTH]
    with transaction.atomic():
        ours = _still_claimed(message).update(
            state=MessageState.DEAD, locked_until=None, last_error=reason, updated_at=timezone.now()
        )
        if ours:
            sender.failed(message, reason)
    if ours:
        logger.warning(
            "outbox message dead",
            kind=message.kind,
            message=message.pk,
            reference=message.reference,
            reason=reason,
        )
    return DEAD


def messages_retry(*, message_ids: Iterable[int]) -> int:
    """Make these dead or waiting messages due now, their attempts counted afresh (the admin's
    "retry now"); how many. A sent message is never sent again, and one being sent is left to
    its dispatcher. A message past its deadline is given up again at its next claim."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        waiting = Q(state=MessageState.PENDING) & (
            Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        )
        count = (
            Message.objects.filter(pk__in=list(message_ids))
            .filter(Q(state=MessageState.DEAD) | waiting)
            .update(
                state=MessageState.PENDING,
                attempts=0,
                next_attempt_at=now,
                locked_until=None,
                updated_at=now,
            )
        )
        if count:
            _kick_on_commit()
    logger.info("outbox messages retried", count=count)
    return count


def messages_prune() -> int:
    """Forget sent and dead messages last changed more than ``RS_OUTBOX_KEEP_DAYS`` ago (beat);
    how many. A pending message is never forgotten, however old."""
    before = timezone.now() - timedelta(days=settings.RS_OUTBOX_KEEP_DAYS)
    deleted, _ = (
        Message.objects.filter(state__in=[MessageState.SENT, MessageState.DEAD])
        .filter(updated_at__lt=before)
        .delete()
    )
    if deleted:
        logger.info("outbox messages forgotten", count=deleted)
    return deleted
