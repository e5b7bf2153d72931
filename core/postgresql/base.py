"""Django's PostgreSQL backend, whose connections wait for answers only so long.

``ENGINE = "core.postgresql"`` (set by config.settings.base for every process). Everything else
is Django's backend: the limits the server enforces (statement, lock, idle in transaction) and
libpq's (connect timeout, keepalives) are plain connection options; only the answer timeout,
which this process must enforce itself, needs the connection class of
:class:`core.database_timeouts.BoundedConnection`.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.backends.postgresql import base as postgresql

from core.database_timeouts import ANSWER_TIMEOUT_OPTION, BoundedConnection, answer_bound

# libpq counts a connect timeout in whole seconds, and psycopg takes less than 2 as 2.
MIN_CONNECT_TIMEOUT = 2


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params.pop(ANSWER_TIMEOUT_OPTION, None)
        bound = answer_bound()
        if bound is not None:
            # A probe bounded as a whole (answers_bounded) does not wait longer to connect.
            configured = int(params.get("connect_timeout") or 0) or math.inf
            params["connect_timeout"] = max(MIN_CONNECT_TIMEOUT, min(configured, math.ceil(bound)))
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        # Django calls psycopg.connect() itself, which makes a plain Connection: give it the
        # subclass's wait (same fields, one method more).
        connection.__class__ = BoundedConnection
        connection.answer_timeout = self.settings_dict["OPTIONS"].get(ANSWER_TIMEOUT_OPTION)
        return connection
