"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is configured.

The ``pgserver`` package ships real PostgreSQL binaries in a wheel. We keep its data folder under
``RS_DATA_DIR`` so that a second start reuses the same database, and let ``pgserver`` stop the
server when the last process using it exits. It listens on a Unix socket only, never on TCP.

This module is imported from settings, before Django is set up: it must not import Django.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DATABASE_NAME = "rs"


def _forget_dead_processes(pgdata: Path) -> None:
    """Drop the PIDs of exited processes from pgserver's list of handle holders.

    pgserver stops the server when the last process on that list exits; a process that was
    killed (SIGKILL, OOM) never removes itself and would keep the server running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server under ``data_dir`` and return a URL for our database."""
    from pgserver.postgres_server import get_server  # here: production never loads it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    if pgdata.exists():
        _forget_dead_processes(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            logger.info("created database %s in the embedded server", DATABASE_NAME)
    url: str = server.get_uri(DATABASE_NAME)
    return url
