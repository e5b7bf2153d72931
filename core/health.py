"""Readiness checks for /healthz: the database, the keys and, when one is configured, the broker.

Each probe gives up after ``RS_HEALTH_PROBE_TIMEOUT_SECONDS`` (a database connection it must
open gets whole seconds, at least 2), so /healthz answers in bounded time however its
dependencies fail.
The database is healthy when it answers. In the same round trip the probe reads how long the
oldest committed entry has waited for the sequencer: past half the merge-delay bound
(``RS_LOG_MERGE_DELAY_SECONDS``) the integrator is not keeping up (it does not run, or fails),
the log's promises are at risk, and the answer is ``degraded`` (200: this instance serves
writes and reads as well as any other). The probe only reads.

The keys are opened once per process (their loaders cache them); a failure is remembered for
``KEYS_RECHECK_SECONDS`` so that a probe every second does not pay a key derivation each time.
:func:`keys_open` is also the startup check of ``manage.py serve`` and of ``config.wsgi``: a
service that cannot open its keys refuses to start rather than answer 500 to every request that
signs.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils.module_loading import import_string
from kombu import Connection

from core.database_timeouts import answers_bounded
from core.outages import broker_outage, database_outage

logger = structlog.get_logger(__name__)

# How long the oldest committed entry without an index has waited for the sequencer (NULL when
# none waits). Uncommitted entries are not visible to it: only what the sequencer could have
# taken. The partial index of unsequenced entries keeps it small.
SEQUENCING_QUERY = """
SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8
  FROM transparency_entry WHERE "index" IS NULL
"""
# The cached loaders of every private key a service process signs with, by dotted path: they
# belong to apps above core. The CA's root key is not among them: the service never opens it.
KEY_LOADERS = (
    "transparency.keys.log_keys",
    "ca.authority.ca_keys",
    # With RS_SERVED_RANGES: the range certificate, which must cover them.
    "federation.keys.advertisement_keys",
)
KEYS_RECHECK_SECONDS = 30.0

# (key folder, passphrase digest) -> (monotonic time, the failed check), for the last failure.
_keys_failed: dict[tuple[str, bytes], tuple[float, dict[str, Any]]] = {}


class SequencerBehind(Exception):  # noqa: N818  (its name is the check's public error)
    """A committed entry has waited for the sequencer past half the merge-delay bound."""


def database_health() -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One round trip to PostgreSQL, within the probe's timeout: the database's check (down
    when it does not answer) and the log's (None when the database did not answer; down when
    a committed entry has waited for the sequencer past half the merge-delay bound)."""
    bound = settings.RS_HEALTH_PROBE_TIMEOUT_SECONDS
    try:
        with answers_bounded(bound), connection.cursor() as cursor:
            cursor.execute(SEQUENCING_QUERY)
            (waited,) = cursor.fetchone()
    except Exception as error:  # any driver error means "down"; the detail is for operators
        database_outage.failed(error)
        return {"status": "down", "error": type(error).__name__}, None
    database_outage.answered()
    database = {"status": "ok", "embedded": settings.RS_EMBEDDED_DATABASE}
    if waited is not None and waited > settings.RS_LOG_MERGE_DELAY_SECONDS / 2:
        return database, {"status": "down", "error": SequencerBehind.__name__}
    return database, {"status": "ok"}


def broker_health() -> dict[str, Any] | None:
    """Open (and close) a connection to the Celery broker; None when tasks run in-process."""
    url = settings.CELERY_BROKER_URL
    if not url:
        return None
    seconds = settings.RS_HEALTH_PROBE_TIMEOUT_SECONDS
    # The broker's socket timeouts, no longer than the probe's.
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    for name in ("socket_timeout", "socket_connect_timeout"):
        options[name] = min(options.get(name) or seconds, seconds)
    try:
        with Connection(url, connect_timeout=seconds, transport_options=options) as broker:
            # One retry, at once: kombu's default waits 2 s before it, which a probe answering
            # for a broker that refuses connections has no reason to spend.
            broker.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=math.ceil(seconds)
            )
    except Exception as error:  # kombu raises transport-specific errors
        broker_outage.failed(error)
        return {"status": "down", "error": type(error).__name__}
    broker_outage.answered()
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
