"""Structured logging: JSON lines in production, readable lines in development.

Every record, ours or a library's, passes through :func:`redact` before it is written, so a
secret or a phone number that reaches a log call by accident is masked rather than stored.
"""

from __future__ import annotations

import logging.config
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are never written, whatever they hold.
SECRET_KEYS = frozenset(
    {"authorization", "code", "password", "secret", "token", "api_key", "key", "private_key", "csr"}
)
# An E.164 number or a long run of digits that could be one; the last two digits stay visible
# so that an operator can still tell two numbers apart in one incident.
_NUMBER = re.compile(r"(?<![\w.])(\+|%2B)?\d{6,15}(?!\w)")
# Bearer tokens and our API key format, wherever they appear in text.
_BEARER = re.compile(r"(?i)(bearer\s+)\S+|\brs_[A-Za-z0-9_-]{20,}")


def mask_text(text: str) -> str:
    """Mask phone numbers and API keys inside free text."""
    text = _BEARER.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
    return _NUMBER.sub(lambda m: "[number …" + m.group(0)[-2:] + "]", text)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop secret fields and mask numbers and keys in every string."""
    for name, value in list(event.items()):
        if name.lower() in SECRET_KEYS:
            event[name] = "[redacted]"
        elif isinstance(value, str):
            event[name] = mask_text(value)
        elif not isinstance(value, int | float | bool | None):
            # Objects (a request, an exception) are rendered by repr, which may quote a path.
            event[name] = mask_text(str(value))
    return event


def configure_logging(*, fmt: str, level: str) -> None:
    """Route stdlib and structlog records through one formatter (``fmt`` "json" or "console")."""
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
                "stderr": {"class": "logging.StreamHandler", "formatter": "structured"},
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
