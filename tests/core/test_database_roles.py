"""Least privilege in PostgreSQL: the service's role owns nothing and cannot rewrite the log.

A real login role is created on the test server, given what ``manage.py db_grant`` grants, and
connected as. It can append to the log and publish a handler, as the service does; it cannot
change, erase or truncate a log row, nor disable, drop or replace the append-only triggers, nor
reach the test suite's TRUNCATE allowance by setting ``rs.allow_test_truncate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from psycopg import sql

from directory.selectors import number_lookup
from tests.api_client import committed
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import handler_published
from tests.factories import ProviderFactory
from tests.transparency.logdata import indices
from transparency.models import Checkpoint, Entry, Tile
from transparency.services import log_append

# transaction=True: the role's own connection must see the role, its grants and the rows.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
LOG_TABLES = ("transparency_entry", "transparency_tile", "transparency_checkpoint")


@pytest.fixture
def app_role() -> Iterator[str]:
    """A login role that owns nothing, with the grants of ``manage.py db_grant``."""
    role = f"rs_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)).as_string())
    try:
        call_command("db_grant", "--role", role, verbosity=0)
        yield role
    finally:
        with connection.cursor() as cursor:
            # Its grants and default privileges in this database, then the role itself.
            cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)).as_string())
            cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)).as_string())


def _connect(role: str) -> psycopg.Connection[Any]:
    """A connection of our own to the test database as ``role``, as a production process has."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or db["OPTIONS"].get("host"),
        port=db["PORT"] or None,
        dbname=db["NAME"],
        user=role,
        autocommit=True,
    )


@contextmanager
def _service_connected_as(role: str) -> Iterator[None]:
    """Django's connection, as ``role``, for the duration of the block."""
    settings_dict = connection.settings_dict
    saved = settings_dict["USER"], settings_dict["PASSWORD"]
    connection.close()
    settings_dict["USER"], settings_dict["PASSWORD"] = role, ""
    try:
        yield
    finally:
        connection.close()
        settings_dict["USER"], settings_dict["PASSWORD"] = saved


@pytest.fixture
def log_rows() -> int:
    """A log with entries, tiles and checkpoints (300 entries fill a level-0 tile)."""
    with committed(), transaction.atomic():
        for n in range(300):
            log_append(kind="test", payload={"n": n})
    assert Tile.objects.exists() and Checkpoint.objects.get().size == 300
    return Entry.objects.count()


ATTACKS = [
    "UPDATE transparency_entry SET kind = 'forged'",
    "UPDATE transparency_tile SET data = data",
    "UPDATE transparency_checkpoint SET note = 'forged'",
    "DELETE FROM transparency_entry",
    "DELETE FROM transparency_tile",
    "DELETE FROM transparency_checkpoint",
    "TRUNCATE transparency_entry CASCADE",
    "TRUNCATE transparency_tile",
    "TRUNCATE transparency_checkpoint",
    # The test suite's allowance, which any session could once set for itself.
    "SET rs.allow_test_truncate = 'on'; TRUNCATE transparency_checkpoint",
    "ALTER TABLE transparency_entry DISABLE TRIGGER transparency_entry_append_only",
    "ALTER TABLE transparency_entry DISABLE TRIGGER ALL",
    "DROP TRIGGER transparency_entry_append_only ON transparency_entry",
    "DROP TRIGGER transparency_checkpoint_no_truncate ON transparency_checkpoint",
    "DROP FUNCTION transparency_refuse_change() CASCADE",
    "CREATE OR REPLACE FUNCTION transparency_refuse_change() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "ALTER TABLE transparency_entry OWNER TO CURRENT_USER",
    "DROP TABLE transparency_checkpoint",
    # Triggers do not fire in replica mode; only a superuser may enter it.
    "SET session_replication_role = replica",
    "CREATE TRIGGER forged AFTER INSERT ON transparency_entry"
    " FOR EACH ROW EXECUTE FUNCTION transparency_refuse_change()",
]


@pytest.mark.parametrize("statement", ATTACKS)
def test_the_service_role_cannot_rewrite_the_log(app_role, log_rows, statement):
    with _connect(app_role) as attacker, pytest.raises(psycopg.errors.InsufficientPrivilege):
        attacker.execute(statement)
    assert Entry.objects.count() == log_rows
    assert Checkpoint.objects.get().size == log_rows
    triggers = {
        name
        for (name,) in connection.cursor()
        .execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O'"
            " AND tgrelid::regclass::text = ANY(%s)",
            [list(LOG_TABLES)],
        )
        .fetchall()
    }
    # Each table refuses updates (the entries all but the sequencer's), deletes and truncates.
    assert len(triggers) == 2 * len(LOG_TABLES) + 1


def test_the_service_role_gives_an_index_once_and_changes_nothing_else(app_role, log_rows):
    """The sequencer runs as the service's role: it may set an entry's index, once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM transparency_entry")
        (last,) = cursor.fetchone()
    with _connect(app_role) as service:
        service.execute(
            "INSERT INTO transparency_entry (kind, data, leaf_hash) "
            "VALUES ('test', '{}', sha256('\\x007b7d'::bytea))"
        )
        service.execute(
            'UPDATE transparency_entry SET "index" = %s WHERE id > %s', [log_rows, last]
        )
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            service.execute(
                'UPDATE transparency_entry SET "index" = %s WHERE "index" = 0',
                [log_rows + 1],
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            service.execute('UPDATE transparency_entry SET data = data WHERE "index" IS NULL')
    assert indices(Entry.objects.values_list("index", flat=True)) == list(range(log_rows + 1))


def test_the_test_allowance_is_not_reached_by_setting_it(app_role, log_rows):
    """Even granted TRUNCATE by mistake, a role that does not own the table cannot use the
    test suite's allowance: the trigger refuses, whatever the session set."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("GRANT TRUNCATE ON transparency_checkpoint TO {}")
            .format(sql.Identifier(app_role))
            .as_string()
        )
    with _connect(app_role) as attacker:
        attacker.execute("SET rs.allow_test_truncate = 'on'")
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            attacker.execute("TRUNCATE transparency_checkpoint")
    assert Checkpoint.objects.get().size == log_rows


def test_the_service_role_owns_nothing_and_can_read_and_append(app_role, log_rows):
    with _connect(app_role) as service:
        owned = service.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole"
        ).fetchone()
        assert owned == (0,)
        privileges = service.execute(
            "SELECT has_table_privilege('transparency_entry', 'SELECT'),"
            " has_table_privilege('transparency_entry', 'INSERT'),"
            " has_table_privilege('transparency_entry', 'UPDATE'),"
            " has_table_privilege('transparency_entry', 'DELETE'),"
            " has_table_privilege('transparency_entry', 'TRUNCATE'),"
            " has_table_privilege('directory_handler', 'UPDATE'),"
            " has_table_privilege('directory_handler', 'DELETE'),"
            " has_column_privilege('transparency_entry', 'index', 'UPDATE'),"
            " has_column_privilege('transparency_entry', 'kind', 'UPDATE')"
        ).fetchone()
        assert privileges == (True, True, False, False, False, True, True, True, False)


def test_service_operations_work_as_the_service_role(app_role, log_rows):
    provider = ProviderFactory()
    with _service_connected_as(app_role):
        with committed(), transaction.atomic():
            log_append(kind="test", payload={"n": "as the service"})
        holder = certificate_issued(provider)  # a challenge, its code, a certificate
        handler_published(provider, holder, uri="sip:alice@chat.example")
        answer = number_lookup(caller=provider, number=NUMBER, service=None)
        assert connection.cursor().execute("SELECT current_user").fetchone() == (app_role,)
    # Everything appended as the service's role was integrated, as that role, into a checkpoint.
    assert Checkpoint.objects.order_by("-size").values_list("size", flat=True)[0] == (
        Entry.objects.count()
    )
    assert [handler.uri for handler in answer.handlers] == ["sip:alice@chat.example"]


def _url(user: str, name: str) -> str:
    """A DATABASE_URL for ``user`` on the test server's database ``name``."""
    db = connection.settings_dict
    host = db["HOST"] or db["OPTIONS"].get("host", "")
    if host.startswith("/"):  # the embedded server's Unix socket
        return f"postgresql://{user}@/{name}?host={host}"
    return f"postgresql://{user}@{host}:{db['PORT']}/{name}"


@pytest.mark.process
def test_migrate_runs_as_the_owner_and_grants_the_service_role():
    suffix = uuid.uuid4().hex[:12]
    owner, service, name = f"rs_owner_{suffix}", f"rs_app_{suffix}", f"test_rs_roles_{suffix}"
    admin = connection.settings_dict
    superuser = psycopg.connect(
        host=admin["HOST"] or admin["OPTIONS"].get("host"),
        port=admin["PORT"] or None,
        dbname=admin["NAME"],
        user=admin["USER"],
        autocommit=True,
    )
    for role in (owner, service):
        superuser.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    superuser.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
    )
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env=os.environ
            | {
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "DATABASE_URL": _url(service, name),
                "DATABASE_MIGRATE_URL": _url(owner, name),
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert f"Granted {service}: SELECT, INSERT on transparency_checkpoint" in result.stdout
        with psycopg.connect(_url(service, name), autocommit=True) as as_service:
            owned = as_service.execute(
                "SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole"
            ).fetchone()
            assert owned == (0,)
            assert as_service.execute(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'transparency_entry'"
            ).fetchone() == (owner,)
            as_service.execute("SELECT count(*) FROM transparency_entry")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_service.execute("ALTER TABLE transparency_entry DISABLE TRIGGER ALL")
    finally:
        superuser.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        for role in (service, owner):
            superuser.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        superuser.close()
