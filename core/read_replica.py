"""Reads from a streaming replica (``DATABASE_REPLICA_URL``), where they cannot be wrong.

The ``replica`` alias is a PostgreSQL hot standby of the primary (``DATABASE_URL``): the same
rows, some time later. Nothing goes there by model: :class:`ReadReplicaRouter` sends a read to
the replica only inside a read path that opted in with :func:`reads_from_replica` (the views
decorated with :func:`served_from_replica`: the public lookup and the log's reads), and only
while all of this holds; otherwise it reads the primary, as without a replica:

- **No transaction.** Writes always go to the primary, and so does every read inside a
  transaction of the service's own (a read there may depend on the transaction's writes, or
  lock rows); the test runner's wrapping transaction does not count, as for Django's
  ``durable`` check.
- **The replica is up and close behind.** Each process looks at the replica at most every
  ``RS_DB_REPLICA_CHECK_SECONDS`` (:class:`ReplicaHealth`): the primary's WAL position, then
  the position the replica has replayed. ``now() - pg_last_xact_replay_timestamp()`` is no
  measure of lag: it is NULL on a primary and grows on a replica of an idle primary that has
  every row. So each process keeps the primary's positions of the last seconds, with the time
  it read each, and the replica is as fresh as the latest of those it has replayed: its lag is
  the time since then, overstated by at most the time between two looks, never understated.
  Past ``DATABASE_REPLICA_MAX_LAG``, or when a look fails (connection refused, timeout, a
  "replica" that is not in recovery and is not the primary itself), reads go to the primary;
  a failed replica is left alone for ``RS_OUTAGE_RETRY_AFTER_SECONDS``.
- **The caller did not just write.** After an unsafe request by a provider (any POST, PUT,
  PATCH or DELETE it authenticated), its reads stay on the primary for the longest a replica
  may be behind and still be used (``DATABASE_REPLICA_MAX_LAG`` plus one check's age, plus a
  second): :func:`principal_wrote` notes it in the cache (Redis in production, shared by every
  process), keyed by provider. A cookie would not do: API clients keep none. While the cache
  is down, who wrote is unknown, and every read goes to the primary.

**The log never answers from the past.** A replica is a consistent but older copy of the
log. A checkpoint read from it may be smaller than one the client has already seen from the
primary (or from another process), and the SDK takes a smaller tree for a split view
(``resolution.client.trees``). So the log's head -- the served checkpoint, its cosignatures,
the tree size every proof and tile is answered for -- is always read from the primary (a
row or two, kept 0.25 s by each process: ``transparency.selectors``), and only the content
comes from the replica: entries, tiles, leaf hashes, kept labels, the lookup's rows. The log's
content never changes once written, so what the replica returns is what the primary would;
what it does not have yet (a tile of the primary's newest tree, an entry just integrated)
shows as missing, and the selectors raise for it rather than answer short. The decorator then
runs the whole read again on the primary: a read path that can miss names what a miss raises
(``served_from_replica(TileError, ...)``). A replica's failure mid-read (it went down, or
cancelled the query in a conflict with recovery) is retried on the primary likewise. Reads
never write (docs/architecture.md), so running one twice is safe. What a lookup's rows show
(handlers, revocations) may be up to ``DATABASE_REPLICA_MAX_LAG`` old for other callers,
never for the provider that changed them.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from core.database_timeouts import answers_bounded
from core.outages import CACHE_ERRORS, DATABASE_ERRORS, Outage, cache_outage, retry_after

logger = structlog.get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"

# Whether this context's reads may go to the replica (set by reads_from_replica).
_replica_chosen: ContextVar[bool] = ContextVar("replica_chosen", default=False)

replica_outage = Outage("database replica")

_PRIMARY_POSITION = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
    "pg_postmaster_start_time(), current_database()"
)
_REPLICA_POSITION = (
    "SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint, "
    "pg_postmaster_start_time(), current_database()"
)


def replica_configured() -> bool:
    """Whether a replica is configured (``DATABASE_REPLICA_URL``)."""
    return bool(settings.DATABASE_REPLICA_URL) and REPLICA in settings.DATABASES


def _in_transaction() -> bool:
    """Whether the primary's connection is inside a transaction the service opened."""
    blocks = connections[PRIMARY].atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def read_alias() -> str:
    """The alias this context's reads go to now: the replica inside an opted-in read path
    that chose it, outside any transaction; else the primary."""
    if _replica_chosen.get() and not _in_transaction():
        return REPLICA
    return PRIMARY


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a raw read of content (``read_alias``)."""
    return connections[read_alias()]


class ReadReplicaRouter:
    """Django's router: reads where :func:`read_alias` says, writes and migrations on the
    primary. The replica holds the primary's rows, so relations between them are allowed."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


# --- The replica's health and lag ------------------------------------------------------------


class ReplicaHealth:
    """What this process knows of the replica: usable or not, and since when.

    :meth:`usable` looks again when its last look is older than ``RS_DB_REPLICA_CHECK_SECONDS``
    (``retry_after()`` after a failure); one thread looks while the others keep the last
    answer. Positions are kept as ``(monotonic time, primary's WAL position)``.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usable = False
        self._next_look = -math.inf
        self._positions: deque[tuple[float, int]] = deque()
        self.lag: float | None = None  # seconds at the last look; None: unknown
        self._state: str | None = None  # "usable", "lagging" or "not a replica"

    def usable(self) -> bool:
        if self.clock() < self._next_look or not self._lock.acquire(blocking=False):
            return self._usable
        try:
            usable = self._look()
            self._usable = usable
            if self._next_look < self.clock():  # a failure sets a later one itself
                self._next_look = self.clock() + settings.RS_DB_REPLICA_CHECK_SECONDS
        finally:
            self._lock.release()
        return usable

    def failed(self, error: BaseException) -> None:
        """The replica failed a read or a look: the primary serves for ``retry_after()``."""
        replica_outage.failed(error)
        self._usable = False
        self._next_look = self.clock() + retry_after()
        # Dropped, so that the next look opens a connection of its own.
        connections[REPLICA].close()

    def forget(self) -> None:
        """Look again at the next read, knowing nothing (tests; a changed configuration)."""
        with self._lock:
            self._usable = False
            self._next_look = -math.inf
            self._positions.clear()
            self.lag = None
            self._state = None
        replica_outage.forget()

    def _look(self) -> bool:
        began = self.clock()
        try:
            with (
                answers_bounded(settings.RS_HEALTH_PROBE_TIMEOUT_SECONDS),
                connections[PRIMARY].cursor() as cursor,
            ):
                cursor.execute(_PRIMARY_POSITION)
                primary = cursor.fetchone()
        except DATABASE_ERRORS:
            # The primary's own trouble: the read will meet it there, as without a replica.
            return False
        try:
            with (
                answers_bounded(settings.RS_HEALTH_PROBE_TIMEOUT_SECONDS),
                connections[REPLICA].cursor() as cursor,
            ):
                cursor.execute(_REPLICA_POSITION)
                replica = cursor.fetchone()
        except DATABASE_ERRORS as error:
            self.failed(error)
            return False
        replica_outage.answered()
        assert primary is not None and replica is not None
        position, primary_started, primary_database = primary
        in_recovery, replayed, started, database = replica
        if not in_recovery:
            # The primary itself (both URLs name one server, or the replica was promoted and
            # DATABASE_URL follows it) has every row; any other server has its own history.
            same = (started, database) == (primary_started, primary_database)
            self.lag = 0.0 if same else None
            self._state_now("usable" if same else "not a replica")
            return same
        self._positions.append((began, position))
        self.lag = self._lag_at(began, replayed)
        lagging = self.lag is None or self.lag > settings.DATABASE_REPLICA_MAX_LAG
        self._state_now("lagging" if lagging else "usable")
        return not lagging

    def _state_now(self, state: str) -> None:
        """Log a change of state, once."""
        if state == self._state:
            return
        lag = None if self.lag is None else round(self.lag, 3)
        if state == "lagging":
            logger.warning("database replica lagging: reads on the primary", lag=lag)
        elif state == "not a replica":
            logger.warning("database replica not in recovery: reads on the primary")
        elif self._state is not None:
            logger.info("database replica used again", lag=lag)
        self._state = state

    def _lag_at(self, now: float, replayed: int) -> float | None:
        """Seconds since the latest kept primary position the replica has replayed (None: it
        has replayed none of them); forgets positions too old to matter."""
        keep = settings.DATABASE_REPLICA_MAX_LAG + 2 * settings.RS_DB_REPLICA_CHECK_SECONDS
        while len(self._positions) > 1 and self._positions[1][0] < now - keep:
            self._positions.popleft()
        fresh = [at for at, position in self._positions if position <= replayed]
        return now - max(fresh) if fresh else None


replica_health = ReplicaHealth()


# --- Read-your-writes ------------------------------------------------------------------------


def _wrote_key(principal: str) -> str:
    return f"rs:replica:wrote:{principal}"


def primary_window() -> int:
    """Seconds a writer's reads stay on the primary: the most the replica may be behind its
    write when used (the lag bound, plus the age of the look that allowed it), and a second."""
    return math.ceil(settings.DATABASE_REPLICA_MAX_LAG + settings.RS_DB_REPLICA_CHECK_SECONDS) + 1


def principal_wrote(principal: str) -> None:
    """Note that ``principal`` (a provider, ``"provider:<id>"``) just wrote: its reads stay
    on the primary for :func:`primary_window` seconds. Nothing without a replica."""
    if not replica_configured():
        return
    try:
        cache.set(_wrote_key(principal), 1, primary_window())
    except CACHE_ERRORS as error:
        cache_outage.failed(error)
    else:
        cache_outage.answered()


def principal_wrote_recently(principal: str) -> bool:
    """Whether ``principal`` wrote within its window; True when the cache cannot say."""
    if cache_outage.recent:
        return True
    try:
        found = cache.get(_wrote_key(principal))
    except CACHE_ERRORS as error:
        cache_outage.failed(error)
        return True
    cache_outage.answered()
    return found is not None


def request_principal(request: Any) -> str | None:
    """The provider a request authenticated as (``providers.authentication`` notes it on the
    request), as the key of its writes; None for anonymous requests."""
    provider = getattr(request, "rs_provider", None)
    return None if provider is None else f"provider:{provider.pk}"


# --- Opting in ---------------------------------------------------------------------------------


@contextmanager
def reads_from_replica(*, principal: str | None = None) -> Iterator[bool]:
    """Inside the block, reads outside transactions go to the replica when it is usable and
    ``principal`` (the caller, if known) has not just written; yields whether they do."""
    chosen = (
        replica_configured()
        and not _in_transaction()
        and not (principal is not None and principal_wrote_recently(principal))
        and replica_health.usable()
    )
    token = _replica_chosen.set(chosen)
    try:
        yield chosen
    finally:
        _replica_chosen.reset(token)


def served_from_replica(*misses: type[BaseException]) -> Callable[[F], F]:
    """Decorate a view's handler (``get(self, request, ...)``): it reads from the replica as
    :func:`reads_from_replica` allows, for the request's provider. If it raises one of
    ``misses`` (what the replica not having a row yet raises) or the replica fails, it runs
    again on the primary, whose answer stands."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def wrapper(view: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            with reads_from_replica(principal=request_principal(request)) as chosen:
                if not chosen:
                    return handler(view, request, *args, **kwargs)
                replica = connections[REPLICA]
                try:
                    return handler(view, request, *args, **kwargs)
                except DATABASE_ERRORS as error:
                    if not replica.errors_occurred:
                        raise  # the primary's: a second run would meet it again
                    replica_health.failed(error)
                except misses:
                    pass
            return handler(view, request, *args, **kwargs)

        return cast(F, wrapper)

    return decorate
