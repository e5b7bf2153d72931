"""Readiness checks for /healthz: the database, the keys and, when one is configured, the broker.

The keys are opened once per process (their loaders cache them); a failure is remembered for
``KEYS_RECHECK_SECONDS`` so that a probe every second does not pay a key derivation each time.
:func:`keys_open` is also the startup check of ``manage.py serve`` and of ``config.wsgi``: a
service that cannot open its keys refuses to start rather than answer 500 to every request that
signs.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils.module_loading import import_string
from kombu import Connection

logger = structlog.get_logger(__name__)

BROKER_TIMEOUT_SECONDS = 2
# The cached loaders of every private key a service process signs with, by dotted path: they
# belong to apps above core. The CA's root key is not among them: the service never opens it.
KEY_LOADERS = ("transparency.keys.log_keys", "ca.authority.ca_keys")
KEYS_RECHECK_SECONDS = 30.0

# (key folder, passphrase digest) -> (monotonic time, the failed check), for the last failure.
_keys_failed: dict[tuple[str, bytes], tuple[float, dict[str, Any]]] = {}


def database_health() -> dict[str, Any]:
    """One round trip to PostgreSQL."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "down"; the detail is for operators
        return {"status": "down", "error": type(error).__name__}
    return {"status": "ok", "embedded": settings.RS_EMBEDDED_DATABASE}


def broker_health() -> dict[str, Any] | None:
    """Open (and close) a connection to the Celery broker; None when tasks run in-process."""
    url = settings.CELERY_BROKER_URL
    if not url:
        return None
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as error:  # kombu raises transport-specific errors
        return {"status": "down", "error": type(error).__name__}
    return {"status": "ok"}


def keys_open() -> None:
    """Open every key this process signs with, or raise ImproperlyConfigured saying which and
    why (missing file, wrong ``RS_KEY_PASSPHRASE``); cheap once they are open."""
    for path in KEY_LOADERS:
        import_string(path)()


def keys_health() -> dict[str, Any]:
    """Whether the keys open with this process's settings: the error kind only, never a path."""
    # Keyed by the settings the keys are opened with, so that a changed passphrase is tried anew.
    setting = (
        str(settings.RS_KEY_DIR),
        hashlib.sha256(str(settings.RS_KEY_PASSPHRASE).encode()).digest(),
    )
    failed = _keys_failed.get(setting)
    if failed is not None and time.monotonic() - failed[0] < KEYS_RECHECK_SECONDS:
        return failed[1]
    try:
        keys_open()
    except ImproperlyConfigured as error:
        logger.error("keys_unavailable", error=str(error))
        check = {"status": "down", "error": type(error).__name__}
        _keys_failed.clear()
        _keys_failed[setting] = (time.monotonic(), check)
        return check
    _keys_failed.pop(setting, None)
    return {"status": "ok"}
