"""Sending SMS through a pluggable backend, on the model of Django's mail backends.

``settings.SMS_BACKEND`` names the backend: ``"console"`` (prints messages, codes included:
development only), ``"locmem"`` (an in-memory outbox for tests), ``"twilio"`` (the real thing)
or the dotted path of any :class:`SmsBackend` subclass. :func:`sms_backend` builds it.

A backend either returns the provider's message id or raises an :class:`SmsError` saying
whether a later retry could succeed (:class:`SmsTemporaryError`) or not
(:class:`SmsPermanentError`). A message body holds a one-time code, so it is never logged,
never put in an exception and never shown by ``repr``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

BACKEND_ALIASES = {
    "console": "ca.sms.console.ConsoleBackend",
    "locmem": "ca.sms.locmem.LocmemBackend",
    "twilio": "ca.sms.twilio.TwilioBackend",
}
# Digits left visible so that an operator can still tell two numbers apart in one incident
# (the same rule as core.logging).
VISIBLE_DIGITS = 2


def number_masked(number: str) -> str:
    """``number`` with all but its last two digits hidden: ``+447700900123`` → ``+**********23``."""
    split = max(len(number) - VISIBLE_DIGITS, 0)
    return "".join("*" if char.isdigit() else char for char in number[:split]) + number[split:]


@dataclass(frozen=True, repr=False)
class SmsMessage:
    """One text to send: ``to`` in E.164 (``+447700900123``), ``reference`` our challenge id."""

    to: str
    body: str
    reference: str

    def __repr__(self) -> str:
        # The body holds a one-time code and the number is personal data: neither is shown.
        return f"SmsMessage(to={number_masked(self.to)!r}, reference={self.reference!r})"


class SmsError(Exception):
    """The message was not sent.

    ``code`` is the provider's error code, or a short word such as ``"timeout"``; the message
    is safe to log: it never holds the body.
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or f"SMS not sent ({code})")
        self.code = code


class SmsTemporaryError(SmsError):
    """Worth retrying later: a timeout, a connection error, or the provider busy or failing."""


class SmsPermanentError(SmsError):
    """Retrying cannot help: the provider refused this message (invalid or unsubscribed number,
    destination region not enabled, ...)."""


class SmsBackend(abc.ABC):
    """Sends one message at a time; see the module docstring for the error contract."""

    @abc.abstractmethod
    def send(self, message: SmsMessage) -> str:
        """Send ``message``; return the provider's message id ("" if it gives none).

        Raise :class:`SmsTemporaryError` or :class:`SmsPermanentError` when it was not sent.
        """


def sms_backend() -> SmsBackend:
    """A new instance of the backend ``settings.SMS_BACKEND`` names (read at each call)."""
    name = settings.SMS_BACKEND
    path = BACKEND_ALIASES.get(name, name)
    if "." not in path:
        raise ImproperlyConfigured(
            f"SMS_BACKEND={name!r}: use one of {', '.join(BACKEND_ALIASES)} or a dotted path."
        )
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"SMS_BACKEND={name!r} cannot be imported: {error}") from error
    if not (isinstance(backend_class, type) and issubclass(backend_class, SmsBackend)):
        raise ImproperlyConfigured(f"SMS_BACKEND={name!r} is not an SmsBackend subclass.")
    return backend_class()
