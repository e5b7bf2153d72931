"""Readiness checks for /healthz: the database and, when one is configured, the broker."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from kombu import Connection

BROKER_TIMEOUT_SECONDS = 2


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
