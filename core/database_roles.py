"""Two PostgreSQL roles: the owner, which migrates, and the service's role, which owns nothing.

A role that owns the log's tables can disable or drop their append-only triggers and rewrite
history. In production the service therefore connects (``DATABASE_URL``) as a role that owns
nothing; migrations run as the owner (``DATABASE_MIGRATE_URL``: ``manage.py migrate`` and
``manage.py serve`` switch to it), and :func:`service_role_grant` gives the service's role what
it needs and no more: SELECT and INSERT on the append-only tables (and UPDATE of the one column
the log's sequencer fills in once, which the table's trigger holds to that), SELECT, INSERT,
UPDATE and DELETE on the others, USAGE on sequences. Without ``DATABASE_MIGRATE_URL`` (the embedded
development server, the tests) one role does everything, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import environ
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql

# The append-only tables are those whose triggers call this function (transparency 0002): the
# database says which they are, so a new append-only table needs no change here.
APPEND_ONLY_FUNCTION = "transparency_refuse_change"
# What the service's role may do; TRUNCATE, REFERENCES and TRIGGER are never granted.
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
# The columns of append-only tables set once after the insert, by the sequencer
# (transparency 0007): their trigger refuses any other change.
SET_ONCE_COLUMNS = {"transparency_entry": ("index",)}
_CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def migrate_url_configured() -> bool:
    return bool(settings.DATABASE_MIGRATE_URL)


def service_role() -> str:
    """The role the service connects as (``DATABASE_URL``'s user)."""
    return str(connections[DEFAULT_DB_ALIAS].settings_dict["USER"])


@contextmanager
def owner_connection() -> Iterator[None]:
    """Django's default connection as the owner (``DATABASE_MIGRATE_URL``) inside the block;
    unchanged when it is not set."""
    if not migrate_url_configured():
        yield
        return
    owner = environ.Env.db_url_config(settings.DATABASE_MIGRATE_URL)
    connection = connections[DEFAULT_DB_ALIAS]
    current = connection.settings_dict
    if owner["ENGINE"] != "django.db.backends.postgresql" or owner["NAME"] != current["NAME"]:
        raise ImproperlyConfigured(
            "DATABASE_MIGRATE_URL must point to the same PostgreSQL database as DATABASE_URL"
        )
    saved = {key: current.get(key) for key in _CONNECTION_KEYS}
    saved_options = dict(current.get("OPTIONS", {}))
    connection.close()
    current.update({key: owner.get(key, "") for key in _CONNECTION_KEYS})
    current["OPTIONS"] = saved_options | owner.get("OPTIONS", {})
    try:
        yield
    finally:
        connection.close()
        current.update(saved)
        current["OPTIONS"] = saved_options


def service_role_grant(role: str) -> list[str]:
    """Grant ``role`` what the service needs on every table of the current schema, as the
    connection's role (the owner); the names of the append-only tables it may only append to.

    Idempotent: run it after every migration, which is what ``manage.py migrate`` does when
    ``DATABASE_MIGRATE_URL`` is set. Default privileges let tables the owner creates later be
    used before it runs again; a new append-only table is then guarded by its triggers until
    it does.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    target = sql.Identifier(role)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolname = current_user, "
            "       EXISTS (SELECT 1 FROM pg_class WHERE relowner = pg_roles.oid), "
            "       current_database(), current_schema() "
            "FROM pg_roles WHERE rolname = %s",
            [role],
        )
        found = cursor.fetchone()
        if found is None:
            raise ImproperlyConfigured(f"no PostgreSQL role {role!r}: create it first")
        privileged, owns, database, schema = found
        if privileged or owns:
            raise ImproperlyConfigured(
                f"the role {role!r} is a superuser, the owner, or owns tables: the service's "
                "role must own nothing (it could disable the log's triggers)"
            )
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE p.proname = %s AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY c.relname",
            [APPEND_ONLY_FUNCTION],
        )
        append_only = [name for (name,) in cursor.fetchall()]
        in_schema = sql.Identifier(schema)
        statements = [
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), target),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(in_schema, target),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(in_schema, target),
            sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                sql.SQL(TABLE_PRIVILEGES), in_schema, target
            ),
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                in_schema, target
            ),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT {} ON TABLES TO {}").format(
                in_schema, sql.SQL(TABLE_PRIVILEGES), target
            ),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}"
            ).format(in_schema, target),
        ]
        for table in append_only:
            statements += [
                sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), target),
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(APPEND_ONLY_PRIVILEGES), sql.Identifier(table), target
                ),
            ]
            if columns := SET_ONCE_COLUMNS.get(table):
                statements.append(
                    sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        sql.Identifier(table),
                        target,
                    )
                )
        for statement in statements:
            cursor.execute(statement.as_string())
    return append_only
