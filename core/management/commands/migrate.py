"""``manage.py migrate``, as the owner of the tables when ``DATABASE_MIGRATE_URL`` is set.

The service's own role (``DATABASE_URL``) owns nothing, so that it cannot disable the log's
append-only triggers; the owner creates and alters the tables, then grants the service's role
what it needs (``manage.py db_grant``). Without ``DATABASE_MIGRATE_URL`` this is Django's
``migrate`` as the service's role.

Either way it runs under the maintenance timeouts (core.database_timeouts): rewriting a large
table may take longer than the service's statement timeout allows a request.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

from core.database_roles import migrate_url_configured, owner_connection, service_role
from core.database_timeouts import maintenance_timeouts


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        with maintenance_timeouts(options["database"]):
            if not migrate_url_configured() or options["database"] != DEFAULT_DB_ALIAS:
                super().handle(*args, **options)
                return
            role = service_role()
            with owner_connection():
                super().handle(*args, **options)
        call_command("db_grant", role=role, verbosity=options["verbosity"])
