"""Every wait toward PostgreSQL is bounded: the settings reach each connection, the server
enforces its limits (the append lock's wait included), this process drops a connection that
does not answer, and maintenance work runs without the web's statement timeout."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.db.backends.signals import connection_created

from core import locks
from core.database_timeouts import (
    answers_bounded,
    connection_timeouts,
    maintenance_timeouts,
    options_joined,
)
from core.postgresql.base import DatabaseWrapper
from tests.core.test_production_settings import PRODUCTION_ENV, _manage

PRINT_SETTINGS = (
    "from django.conf import settings as s; import json; print(json.dumps({"
    "'database': s.DATABASES['default'], 'cache': s.CACHES['default'],"
    "'broker': s.CELERY_BROKER_TRANSPORT_OPTIONS,"
    "'broker_connect': s.CELERY_BROKER_CONNECTION_TIMEOUT}, default=str))"
)


def _settings_of(env: dict[str, str]) -> dict[str, Any]:
    """The database, cache and broker settings production computes from ``env``."""
    result = _manage("shell", "-c", PRINT_SETTINGS, env=PRODUCTION_ENV | env)
    assert result.returncode == 0, result.stderr
    # The last line: the shell first says what it imported.
    settings: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return settings


# --- Settings -----------------------------------------------------------------------------------


@pytest.mark.process
def test_production_defaults_bound_every_wait():
    found = _settings_of({})
    database = found["database"]
    assert database["ENGINE"] == "core.postgresql"
    options = database["OPTIONS"]
    assert options["connect_timeout"] == 5
    assert (options["keepalives"], options["keepalives_idle"]) == (1, 15)
    assert (options["keepalives_interval"], options["keepalives_count"]) == (5, 3)
    assert options["answer_timeout"] == 20.0
    for setting in (
        "statement_timeout=15000",
        "lock_timeout=5000",
        "idle_in_transaction_session_timeout=30000",
        "tcp_keepalives_idle=15",
    ):
        assert f"-c {setting}" in options["options"]
    assert found["cache"]["OPTIONS"] == {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
    assert found["broker"]["socket_connect_timeout"] == 2.0
    assert found["broker"]["socket_timeout"] == 5.0
    assert found["broker_connect"] == 2.0


@pytest.mark.process
def test_timeouts_are_read_from_the_environment_and_the_urls_own_win():
    found = _settings_of(
        {
            "RS_DB_CONNECT_TIMEOUT_SECONDS": "3",
            "RS_DB_STATEMENT_TIMEOUT_SECONDS": "2.5",
            "RS_DB_LOCK_TIMEOUT_SECONDS": "0.75",
            "RS_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": "0",
            "RS_DB_ANSWER_TIMEOUT_SECONDS": "0",
            "RS_DB_KEEPALIVES_IDLE_SECONDS": "7",
            # An operator's own statement timeout for this role, in the URL, comes last.
            "DATABASE_URL": "postgres://rs@db.example.net:5432/rs?options=-c%20statement_timeout%3D100",
            "CACHE_URL": "rediscache://redis.example.net:6379/1?socket_timeout=9",
            "RS_CACHE_CONNECT_TIMEOUT_SECONDS": "0.5",
            "RS_BROKER_SOCKET_TIMEOUT_SECONDS": "8",
        }
    )
    options = found["database"]["OPTIONS"]
    assert options["connect_timeout"] == 3
    assert options["keepalives_idle"] == 7
    assert options["answer_timeout"] is None  # 0: wait forever
    words = options["options"].split()
    assert "statement_timeout=2500" in words
    assert "lock_timeout=750" in words
    assert "idle_in_transaction_session_timeout=0" in words
    assert words[-1] == "statement_timeout=100"  # PostgreSQL applies -c options in order
    assert found["cache"]["OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 9}
    assert found["broker"]["socket_timeout"] == 8.0


def test_connection_options_are_milliseconds_for_the_server_and_seconds_for_libpq():
    options = connection_timeouts(
        connect=4,
        keepalives_idle=10,
        keepalives_interval=2,
        keepalives_count=4,
        statement=1.5,
        lock=0.25,
        idle_in_transaction=60,
        answer=3,
    )
    assert options["connect_timeout"] == 4
    assert options["answer_timeout"] == 3
    assert options["options"].startswith(
        "-c statement_timeout=1500 -c lock_timeout=250 -c idle_in_transaction_session_timeout=60000"
    )
    assert options_joined("-c a=1", "", "-c b=2") == "-c a=1 -c b=2"


# --- What a connection of the service gets ------------------------------------------------------


@pytest.mark.django_db
def test_the_services_connections_run_with_the_timeouts():
    with connection.cursor() as cursor:
        shown = {}
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    assert shown == {
        "statement_timeout": "15s",
        "lock_timeout": "5s",
        "idle_in_transaction_session_timeout": "30s",
    }
    assert connection.connection.answer_timeout == 20.0


@pytest.fixture
def separate() -> Iterator[Any]:
    """``separate(**options)``: a connection of its own to the test database (the test's own is
    inside its transaction), with these OPTIONS changed; closed after the test."""
    opened: list[DatabaseWrapper] = []

    def make(**options: Any) -> DatabaseWrapper:
        settings_dict = copy.deepcopy(connection.settings_dict)
        settings_dict["OPTIONS"].update(options)
        wrapper = DatabaseWrapper(settings_dict, alias=f"separate-{len(opened)}")
        opened.append(wrapper)
        return wrapper

    yield make
    for wrapper in opened:
        wrapper.close()


@pytest.mark.django_db
def test_an_unanswered_statement_drops_the_connection_at_the_answer_timeout(separate):
    other = separate(answer_timeout=0.5)
    started = time.monotonic()
    with (
        pytest.raises(OperationalError, match=r"did not answer within 0\.5 s"),
        other.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(5)")  # the server would answer only after 5 s
    assert time.monotonic() - started < 2
    assert other.connection.closed
    other.close()
    with other.cursor() as cursor:  # the next use opens a new connection
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_answers_bounded_limits_a_thread_below_the_configured_answer_timeout(separate):
    other = separate()  # 20 s configured
    started = time.monotonic()
    with (
        answers_bounded(0.3),
        pytest.raises(OperationalError, match=r"within 0\.3 s"),
        other.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 2


@pytest.mark.django_db
def test_a_statement_waits_for_a_lock_at_most_the_lock_timeout(separate):
    holder = psycopg.connect(**connection.get_connection_params())
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.CRL_NUMBER])  # held: no commit
        writer = separate(options="-c lock_timeout=300")
        started = time.monotonic()
        with (
            pytest.raises(OperationalError, match="lock timeout"),
            writer.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [locks.CRL_NUMBER])
        assert time.monotonic() - started < 2
        assert isinstance(writer.connection, psycopg.Connection)  # kept: the server answered
    finally:
        holder.close()


@pytest.mark.django_db
def test_a_statement_runs_at_most_the_statement_timeout(separate):
    other = separate(options="-c statement_timeout=200")
    with pytest.raises(OperationalError, match="statement timeout"), other.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(3)")


# --- Maintenance --------------------------------------------------------------------------------


def _shown_on_connect(statements: list[str]) -> Any:
    """A connection_created receiver noting the statement timeout of each new connection."""

    def note(sender: Any, connection: Any, **_: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            statements.append(cursor.fetchone()[0])

    return note


@pytest.mark.django_db(transaction=True)
def test_maintenance_connections_have_no_statement_or_answer_timeout():
    seen: list[str] = []
    receiver = _shown_on_connect(seen)
    connection_created.connect(receiver)
    try:
        with maintenance_timeouts():
            with connection.cursor() as cursor:
                cursor.execute("SHOW idle_in_transaction_session_timeout")
                assert cursor.fetchone()[0] == "0"
            assert connection.connection.answer_timeout is None
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        call_command("migrate", verbosity=0)  # nothing to apply, but it connects anew
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection_created.disconnect(receiver)
    # Inside the block, after it (the service's), in migrate, and after migrate.
    assert seen == ["0", "15s", "0", "15s"]
    assert connections[DEFAULT_DB_ALIAS].connection.answer_timeout == 20.0
