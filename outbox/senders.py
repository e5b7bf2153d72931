"""Who sends each kind of message: each app registers its senders when it is ready.

A sender's ``send`` does the one thing that leaves the process (an HTTP call to the SMS
provider) and returns the provider's receipt; it raises to fail. Its other callables record the
outcome on the app's own rows, each inside the transaction in which the outbox records it, so
that the message's state and the app's view of it never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from outbox.models import Message


def _nothing(message: Message, text: str) -> None:
    """A sender with nothing to record."""


def error_described(error: Exception) -> str:
    """How an error is recorded unless the sender says otherwise: its type alone, since the
    text of an exception may quote personal data."""
    return type(error).__name__


@dataclass(frozen=True)
class Sender:
    """How messages of ``kind`` leave the process, and what happens when they cannot.

    Errors of a ``permanent`` type make the message dead at once; any other error (the
    ``temporary`` ones, a database error, a bug) is retried after ``backoff_seconds() · 2^n``
    (with jitter, at most ``outbox.services.MAX_BACKOFF_SECONDS``), or after
    ``retry_delay(n)`` when the sender has its own schedule, until ``max_attempts()`` or the
    message's deadline. ``temporary`` errors are expected and logged without a traceback.
    """

    kind: str
    send: Callable[[Message], str]
    # (message, receipt): the message was sent.
    sent: Callable[[Message, str], None]
    # (message, reason): the message is dead: never sent.
    failed: Callable[[Message, str], None]
    max_attempts: Callable[[], int]
    backoff_seconds: Callable[[], float]
    # (message, error described): an attempt failed and another will follow.
    retrying: Callable[[Message, str], None] = _nothing
    permanent: tuple[type[Exception], ...] = ()
    temporary: tuple[type[Exception], ...] = ()
    describe: Callable[[Exception], str] = field(default=error_described)
    # (failed attempt n, from 1) -> seconds until the next: replaces backoff_seconds' doubling
    # and its cap, for messages still worth sending days later (webhooks).
    retry_delay: Callable[[int], float] | None = None


_senders: dict[str, Sender] = {}


def sender_register(sender: Sender) -> None:
    """Make ``sender`` the one of its kind (from an app's ``ready``; registering again
    replaces it)."""
    _senders[sender.kind] = sender


def sender_for(kind: str) -> Sender:
    """The sender of ``kind``; ``KeyError`` if no app registered one."""
    return _senders[kind]


def kinds_registered() -> list[str]:
    """The kinds this process can send: a dispatcher claims only those."""
    return sorted(_senders)
