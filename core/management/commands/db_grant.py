"""``manage.py db_grant --role ROLE``: give the service's database role what it needs, no more.

Run as the owner of the tables: through ``DATABASE_MIGRATE_URL`` when it is set, else as
``DATABASE_URL``'s role. ``manage.py migrate`` runs it for ``DATABASE_URL``'s role after every
migration when ``DATABASE_MIGRATE_URL`` is set (docs/deployment.md, "Database roles and keys").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.database_roles import owner_connection, service_role, service_role_grant


class Command(BaseCommand):
    help = (
        "Grant the service's PostgreSQL role SELECT and INSERT on the log's tables and normal "
        "DML elsewhere, as the tables' owner (DATABASE_MIGRATE_URL when set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--role", help="the service's role (default: the user of DATABASE_URL)", default=""
        )

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        role = role or service_role()
        try:
            with owner_connection():
                append_only = service_role_grant(role)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        log_tables = ", ".join(append_only) or "no append-only table"
        self.stdout.write(
            f"Granted {role}: SELECT, INSERT on {log_tables}; "
            "SELECT, INSERT, UPDATE, DELETE on the other tables; USAGE on sequences."
        )
