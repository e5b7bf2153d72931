"""Bounded waits toward PostgreSQL: every connection, statement, lock and answer has a limit.

Without them one stalled connection can stop the service: a session that holds row locks (a
certificate's, a handler's) or an open transaction and then stops talking keeps them until TCP
gives up, about two hours later; every writer of those rows queues behind it, and the log's
sequencer cannot pass its transaction. Each limit covers a different way of waiting:

- ``connect_timeout`` (libpq): opening a connection to a server that does not answer;
- TCP keepalives, on both ends: a peer that vanished (a partition, a dead host) is noticed
  after ``idle + interval * count`` seconds of silence instead of hours;
- ``statement_timeout`` and ``lock_timeout`` (server side): a statement, or its wait for a
  lock, is cancelled with
  an error the caller sees, a ``psycopg.OperationalError`` that core.outages answers as 503;
- ``idle_in_transaction_session_timeout`` (server side): a session that went quiet inside a
  transaction is ended, which releases its locks;
- the answer timeout (this process): the server enforces the three above only while it runs
  and hears us. A query that never reached it, or a server that no longer answers (a stalled
  network path, a stopped host) leaves the client waiting forever on a socket whose kernel
  still acknowledges keepalives. :class:`BoundedConnection` waits for any answer at most this
  long, then drops the connection and raises ``psycopg.OperationalError``.

:func:`connection_timeouts` turns the ``RS_DB_…`` settings into connection options (read in
config.settings.base); ``core.postgresql``, the database backend, applies the answer timeout.
Long maintenance work (migrations, loading a benchmark's directory) runs inside
:func:`maintenance_timeouts`, whose statements are not cut at the web's limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg.abc import PQGen
from psycopg.errors import _WaitTimeout

RV = TypeVar("RV")

# Our own key in a database's OPTIONS: the answer timeout, in seconds (None: none). The backend
# (core.postgresql) takes it out before the rest reaches libpq, which would refuse it.
ANSWER_TIMEOUT_OPTION = "answer_timeout"

_bound = threading.local()


def session_options(**seconds: float) -> str:
    """libpq's ``options``: ``-c name=milliseconds`` for each server setting given in seconds
    (0 turns the limit off)."""
    return " ".join(f"-c {name}={round(value * 1000)}" for name, value in seconds.items())


def options_joined(*options: str) -> str:
    """Several libpq ``options`` strings as one; a setting given twice takes the later value."""
    return " ".join(option for option in options if option)


def connection_timeouts(
    *,
    connect: int,
    keepalives_idle: int,
    keepalives_interval: int,
    keepalives_count: int,
    statement: float,
    lock: float,
    idle_in_transaction: float,
    answer: float,
) -> dict[str, Any]:
    """The OPTIONS of a Django database that bound every wait as the module docstring says;
    ``options`` is libpq's, to be joined with any other (:func:`options_joined`)."""
    keepalives = {
        "tcp_keepalives_idle": keepalives_idle,
        "tcp_keepalives_interval": keepalives_interval,
        "tcp_keepalives_count": keepalives_count,
    }
    server_keepalives = " ".join(f"-c {name}={value}" for name, value in keepalives.items())
    return {
        "connect_timeout": connect,
        "keepalives": 1,
        "keepalives_idle": keepalives_idle,
        "keepalives_interval": keepalives_interval,
        "keepalives_count": keepalives_count,
        # The server's side of the same keepalives: it too notices a client that vanished.
        "options": options_joined(
            session_options(
                statement_timeout=statement,
                lock_timeout=lock,
                idle_in_transaction_session_timeout=idle_in_transaction,
            ),
            server_keepalives,
        ),
        ANSWER_TIMEOUT_OPTION: answer or None,
    }


def answer_bound() -> float | None:
    """Seconds left before the deadline :func:`answers_bounded` set for this thread, if any."""
    deadline: float | None = getattr(_bound, "deadline", None)
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.001)


@contextmanager
def answers_bounded(seconds: float) -> Iterator[None]:
    """Inside the block, this thread's waits on the database all end within ``seconds`` from
    its start, and a connection opened there gets about as long (libpq counts whole seconds,
    at least 2): a probe that must answer in time (/healthz) whatever connection it finds."""
    previous: float | None = getattr(_bound, "deadline", None)
    deadline = time.monotonic() + seconds
    _bound.deadline = deadline if previous is None else min(previous, deadline)
    try:
        yield
    finally:
        _bound.deadline = previous


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that waits for an answer at most ``answer_timeout`` seconds (and at
    most the thread's :func:`answers_bounded`), then drops the connection.

    Every exchange with the server (statements, COPY, commit, rollback, Django's health check)
    goes through :meth:`wait`: one place bounds them all.
    """

    answer_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        limits = [t for t in (timeout, self.answer_timeout, answer_bound()) if t]
        limit = min(limits) if limits else None
        try:
            return super().wait(gen, interval, limit)
        except _WaitTimeout as error:
            # A query may be half sent or half answered: nothing more can be read from this
            # connection in order. Django sees it closed and opens another.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"PostgreSQL did not answer within {limit:.1f} s; the connection was dropped"
            ) from error


@contextmanager
def maintenance_timeouts(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Connections opened inside the block (the current one is closed first) run long work: a
    statement may take ``RS_DB_MAINTENANCE_STATEMENT_TIMEOUT_SECONDS`` (0: any time), a
    transaction may pause between statements, and no answer timeout applies; the connect
    timeout, keepalives and ``lock_timeout`` stay, so that a migration waiting for a table's
    lock gives up rather than queue every request behind it.

    For ``manage.py migrate`` and the benchmarks' loaders; the web's and the workers'
    connections keep their limits.
    """
    connection = connections[using]
    saved = connection.settings_dict["OPTIONS"]
    maintenance = dict(saved)
    maintenance["options"] = options_joined(
        saved.get("options", ""),
        session_options(
            statement_timeout=settings.RS_DB_MAINTENANCE_STATEMENT_TIMEOUT_SECONDS,
            idle_in_transaction_session_timeout=0,
        ),
    )
    maintenance[ANSWER_TIMEOUT_OPTION] = None
    connection.close()
    connection.settings_dict["OPTIONS"] = maintenance
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = saved
