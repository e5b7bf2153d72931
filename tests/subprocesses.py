"""What a child process (Celery worker, parallel writer) needs to join the test session."""

from __future__ import annotations

import os

from django.db import connections


def database_url() -> str:
    """A DATABASE_URL that reaches this session's test database."""
    db = connections["default"].settings_dict
    # The embedded server's URL names its socket folder as a query parameter: OPTIONS["host"].
    host = db["HOST"] or db["OPTIONS"].get("host", "")
    name, user = db["NAME"], db["USER"]
    if host.startswith("/"):  # the embedded server listens on a Unix socket
        return f"postgresql://{user}@/{name}?host={host}"
    return f"postgresql://{user}:{db['PASSWORD']}@{host}:{db['PORT']}/{name}"


def child_env() -> dict[str, str]:
    """This environment, on the test settings and the test database."""
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
    }
