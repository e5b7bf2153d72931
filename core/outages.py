"""Outages of the database, the cache and the broker, as each process sees them: logged once each.

A dependency that is down fails every request that needs it, hundreds a second; a traceback per
request buries the one line an operator needs. So each process logs an outage's first failure
(a warning naming the error's class, never its text, which may quote a statement), only counts
the failures that follow, and logs once more when the dependency answers again, with the count.
An outage ends when the dependency answers after ``RS_OUTAGE_RETRY_AFTER_SECONDS`` without a
failure: one query that gets through between two lock timeouts does not end it.

Clients are told to come back after the same number of seconds: the database's outages are the
``service-unavailable`` problem with ``Retry-After`` (core.problems, core.middleware); the
cache's are met by the throttles (core.throttling), which count in this process instead, or
refuse, as docs/security.md says for each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import redis
import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError

logger = structlog.get_logger(__name__)

T = TypeVar("T")

# What a database that cannot be reached, or cannot serve in time, raises: a refused or broken
# connection, a statement or lock timeout (psycopg's QueryCanceled and LockNotAvailable are
# OperationalErrors, and Django wraps them as its own). Bad input raises DataError or
# IntegrityError, never these.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# What the cache (Django's Redis backend) raises when Redis refuses, drops or stalls a connection.
CACHE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, ConnectionError, TimeoutError)


def retry_after() -> int:
    """Seconds a client is asked to wait before it retries, in whole seconds (RFC 9110 §10.2.3)."""
    return max(1, int(settings.RS_OUTAGE_RETRY_AFTER_SECONDS))


def _error_class(error: BaseException) -> str:
    """The error's class; for Django's wrapper of a driver's error, the driver's
    (``QueryCanceled``, ``LockNotAvailable``: more telling than ``OperationalError``)."""
    if isinstance(error, DatabaseError) and error.__cause__ is not None:
        error = error.__cause__
    return type(error).__name__


class Outage:
    """One dependency's outage in this process: its failures so far, and when they happened.

    Safe to share between threads. :meth:`failed` and :meth:`answered` are called on every use
    of the dependency, so the usual case, no outage, takes no lock.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self._down_event = f"{dependency} unavailable"
        self._up_event = f"{dependency} available again"
        self.failures = 0
        self.began = 0.0
        self.last_failure = 0.0
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        """Count a failure; the first of an outage is logged."""
        now = self.clock()
        with self._lock:
            self.failures += 1
            self.last_failure = now
            if self.failures > 1:
                return
            self.began = now
        logger.warning(self._down_event, error=_error_class(error))

    def answered(self) -> None:
        """The dependency answered: the end of the outage, if it has been quiet long enough."""
        if not self.failures:
            return
        now = self.clock()
        with self._lock:
            if not self.failures or now - self.last_failure < retry_after():
                return
            failures, lasted = self.failures, now - self.began
            self.failures = 0
        logger.info(self._up_event, failures=failures, seconds=round(lasted, 1))

    @property
    def recent(self) -> bool:
        """Whether it failed less than ``retry_after()`` seconds ago (callers may then skip it)."""
        return bool(self.failures) and self.clock() - self.last_failure < retry_after()

    def forget(self) -> None:
        """Start again with no outage (tests)."""
        with self._lock:
            self.failures = 0


database_outage = Outage("database")
cache_outage = Outage("cache")
broker_outage = Outage("broker")


def cached(key: str, compute: Callable[[], T], *, timeout: int) -> T:
    """The value the cache keeps under ``key``, else ``compute()``, kept for ``timeout`` seconds.

    For what the cache only makes cheaper: while the cache is down the value is computed every
    time (and the cache left alone for ``RS_OUTAGE_RETRY_AFTER_SECONDS`` after each failure).
    """
    if not cache_outage.recent:
        try:
            value: T | None = cache.get(key)
        except CACHE_ERRORS as error:
            cache_outage.failed(error)
        else:
            cache_outage.answered()
            if value is not None:
                return value
            value = compute()
            try:
                cache.set(key, value, timeout)
            except CACHE_ERRORS as error:
                cache_outage.failed(error)
            return value
    return compute()
