"""Lookups per provider and hour, counted without slowing the lookup (the operator dashboard).

A lookup adds one to a counter in this process's memory (``lookup_counted``: a lock and a
dict update, about a microsecond). At most every ``FLUSH_SECONDS`` the request that finds the
counts due writes them all with one upsert into ``LookupCount``, adding to what other processes
wrote; what is left is written when the process exits. Counts of a process that is killed
(SIGKILL, out of memory) before it flushes are lost: at most ``FLUSH_SECONDS`` of its lookups.
A flush that fails (database unavailable) keeps its counts for the next one.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from core.outages import DATABASE_ERRORS, database_outage
from directory.models import LookupCount
from providers.models import Provider

logger = structlog.get_logger(__name__)

FLUSH_SECONDS = 5.0

_lock = threading.Lock()
_counts: Counter[tuple[int, datetime]] = Counter()  # (provider id, hour) -> lookups
_next_flush = time.monotonic() + FLUSH_SECONDS


def _hour(now: float) -> datetime:
    return datetime.fromtimestamp(now - now % 3600, UTC)


def lookup_counted(*, provider: Provider) -> None:
    """Count one lookup by ``provider``; write the counts out when they are due."""
    global _next_flush
    now = time.time()
    with _lock:
        _counts[(provider.pk, _hour(now))] += 1
        due = time.monotonic() >= _next_flush
        if due:
            _next_flush = time.monotonic() + FLUSH_SECONDS
    if due:
        lookup_counts_flush()


def lookup_counts_flush() -> int:
    """Add this process's counts to ``LookupCount`` with one statement; how many rows it wrote."""
    with _lock:
        taken = dict(_counts)
        _counts.clear()
    if not taken:
        return 0
    rows = [(provider, hour, count) for (provider, hour), count in taken.items()]
    table = LookupCount._meta.db_table
    try:
        # A savepoint when a caller's transaction is open: a failure here must not abort it.
        with transaction.atomic(), connection.cursor() as cursor:
            # Joined with the providers: the counts of one deleted meanwhile are dropped, not
            # retried for ever.
            cursor.execute(
                f"INSERT INTO {table} (provider_id, hour, count) "  # noqa: S608 (our tables)
                "SELECT v.provider_id, v.hour, v.count FROM (VALUES "
                + ", ".join(["(%s::bigint, %s::timestamptz, %s::bigint)"] * len(rows))
                + f") AS v (provider_id, hour, count) JOIN {Provider._meta.db_table} AS p "
                "ON p.id = v.provider_id "
                "ON CONFLICT (provider_id, hour) "
                f"DO UPDATE SET count = {table}.count + EXCLUDED.count",
                [value for row in rows for value in row],
            )
            written = int(cursor.rowcount)
    except DatabaseError as error:
        # Kept for the next flush; a lookup never fails because its count could not be written.
        with _lock:
            _counts.update(taken)
        if isinstance(error, DATABASE_ERRORS):  # an outage: core.outages logs it once
            database_outage.failed(error)
        else:
            logger.warning("lookup counts not written", rows=len(rows), exc_info=True)
        return 0
    return written


def _flush_at_exit() -> None:
    try:
        lookup_counts_flush()
    except Exception:  # the process is ending: nothing more can be done about it
        logger.warning("lookup counts lost at exit", exc_info=True)


atexit.register(_flush_at_exit)


def lookup_counts_forget() -> None:
    """Drop the counts not yet written (for tests, whose databases come and go)."""
    global _next_flush
    with _lock:
        _counts.clear()
        _next_flush = time.monotonic() + FLUSH_SECONDS


@dataclass(frozen=True)
class ProviderHour:
    """Lookups one provider made in one hour."""

    hour: datetime
    provider: str
    lookups: int


def lookups_by_provider_hour(*, since: datetime) -> list[ProviderHour]:
    """Lookups per hour and provider from ``since`` (written counts only): one grouped query."""
    rows = (
        LookupCount.objects.filter(hour__gte=since)
        .values("hour", "provider__slug")
        .annotate(lookups=Sum("count"))
        .order_by("hour", "provider__slug")
    )
    return [ProviderHour(row["hour"], row["provider__slug"], row["lookups"]) for row in rows]
