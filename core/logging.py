"""Structured logging: JSON lines in production, readable lines in development.

Every record, ours or a library's, passes through :func:`redact` before it is written, so a
secret or a phone number that reaches a log call by accident is masked rather than stored.
Processes whose log lines do not go through structlog (gunicorn's own loggers) attach
:class:`RedactingFilter` to their handlers instead; see docs/deployment.md.

What counts as a number (:func:`mask_text`), whatever the text around it:

- a ``+`` or its URL-encoded form ``%2B`` followed by 6 to 15 digits, which may be grouped by
  spaces, ``%20``, dashes, dots, parentheses or ``+`` (a space in a query string):
  ``+33612345678``, ``%2B33612345678``, ``+33 6 12 34 56 78``, ``+1 (555) 123-4567``;
- any run of 8 to 15 digits standing alone (no letter, digit or ``_`` on either side, no ``.``
  before it): ``33612345678``, ``/v1/numbers/33612345678``, ``?n=33612345678``.

The second rule is deliberately broad: it also masks Unix times (10 digits), and counts or
byte sizes of 10,000,000 and more. Our own lines carry ISO 8601 times, and log indices, tree
sizes and durations stay readable below that; decimals (``0.012345678``) and the groups of a
UUID are left alone. A national number written in spaced groups without a country code
(``06 12 34 56 78``) is not recognised: the service only takes E.164 numbers.
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Keys whose values are never written, whatever they hold.
SECRET_KEYS = frozenset(
    {"authorization", "code", "password", "secret", "token", "api_key", "key", "private_key", "csr"}
)
# What a masked number becomes: no digit of it is kept.
NUMBER_TOKEN = "[number]"  # noqa: S105 — a placeholder, not a secret
# The WSGI environ key where core.middleware leaves the route of a request, for the access
# log of the server in front (config.gunicorn), which only sees the raw path otherwise.
ROUTE_ENVIRON_KEY = "rs.route"

_INTERNATIONAL = r"(?:\+|%2[Bb])\(?\d(?:(?:[ \t\-.()+]|%20){0,2}\d){5,14}(?!\d)"
# Not inside a word, a decimal or a UUID (8-4-4-4-12 hexadecimal groups).
_BARE = r"(?<![\w.])(?<![0-9a-fA-F]{4}-)\d{8,15}(?!\w|-[0-9a-fA-F]{4}-)"
_NUMBER = re.compile(f"{_INTERNATIONAL}|{_BARE}")
# Bearer tokens and our API key format, wherever they appear in text.
_BEARER = re.compile(r"(?i)(bearer\s+)\S+|\brs_[A-Za-z0-9_-]{20,}")


def mask_text(text: str) -> str:
    """Mask phone numbers and API keys inside free text."""
    text = _BEARER.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
    return _NUMBER.sub(NUMBER_TOKEN, text)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop secret fields and mask numbers and keys in every value."""
    for name, value in list(event.items()):
        if name.lower() in SECRET_KEYS:
            event[name] = "[redacted]"
        elif isinstance(value, str):
            event[name] = mask_text(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            # The same rule as in text: 33612345678 is a number however it was passed.
            masked = mask_text(str(value))
            event[name] = value if masked == str(value) else masked
        elif not isinstance(value, float | bool | None):
            # Objects (a request, an exception, Celery's task data) are rendered by repr,
            # which may quote a path or a task's arguments.
            event[name] = mask_text(str(value))
    return event


class RedactingFilter(logging.Filter):
    """A stdlib logging filter applying :func:`mask_text` to a record's message and traceback.

    For handlers whose records skip the structlog formatter (gunicorn's error and access logs).
    It rewrites the record in place, so attach it to the handler that writes it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def configure_logging(*, fmt: str, level: str | int, stream: TextIO | None = None) -> None:
    """Route stdlib and structlog records through one formatter (``fmt`` "json" or "console"),
    to ``stream`` (stderr when None, as it is when the handler is made)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": shared,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        redact,
                        renderer,
                    ],
                }
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "structured",
                    **({"stream": stream} if stream is not None else {}),
                },
            },
            "root": {"handlers": ["stderr"], "level": level},
            "loggers": {
                # Request lines are written by core.middleware with the route, not the raw path.
                "django.server": {"level": "ERROR"},
                "django.request": {"level": "ERROR"},
                "pgserver": {"level": "WARNING"},
                # One line per task run, with its arguments: beat integrates the log every
                # second. Tasks log what they did themselves; failures still come through.
                "celery.app.trace": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
