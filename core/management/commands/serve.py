"""``manage.py serve``: migrate, bootstrap and run the service for development or evaluation.

On the embedded default (no ``DATABASE_URL``, no ``CELERY_BROKER_URL``) this is everything a
fresh machine needs; periodic tasks run in a thread of this process. Production runs gunicorn,
``celery worker`` and ``celery beat`` instead (docs/deployment.md).

``serve ADDR:PORT`` makes ``http://ADDR:PORT`` the public URL when ``RS_PUBLIC_URL`` is unset, and
refuses to start when that URL would rename an existing log, or when the port is taken.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands.runserver import naiveip_re
from django.utils.module_loading import import_string

from config.celery_app import app as celery_app
from config.settings.base import public_url_defaults
from core.health import keys_open
from core.scheduler import InProcessBeat


def _describe_database() -> str:
    db = settings.DATABASES["default"]
    if settings.RS_EMBEDDED_DATABASE:
        return f"embedded PostgreSQL (pgserver) in {settings.RS_DATA_DIR / 'pg'}"
    return f"PostgreSQL {db.get('NAME')} at {db.get('HOST') or 'local socket'}"


# The log's name as its first checkpoint signed it (a dotted path: core sits below the log).
LOG_ORIGIN_READER = "transparency.selectors.log_origin"

# Addresses that listen everywhere: the URL the service gives of itself names this machine.
_EVERYWHERE = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 (read, not bound)


def _address_parse(addrport: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``[IPV6]:PORT`` or ``PORT`` (on 127.0.0.1), as runserver reads them."""
    match = re.match(naiveip_re, addrport)
    if match is None:
        raise CommandError(
            f"{addrport!r} is not a port or ADDR:PORT, e.g. manage.py serve 127.0.0.1:8001"
        )
    addr = (match["addr"] or "127.0.0.1").strip("[]")
    return addr, int(match["port"])


def _host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


def _local_url(addr: str, port: int) -> str:
    return f"http://{_host(_EVERYWHERE.get(addr, addr))}:{port}"


def _public_url_derive(addr: str, port: int) -> None:
    """Make ``http://ADDR:PORT`` the public URL, and the defaults that follow it (the log's
    origin, the SMS's WebOTP host…), when ``RS_PUBLIC_URL`` is not set."""
    if os.environ.get("RS_PUBLIC_URL"):
        return
    host = _EVERYWHERE.get(addr, addr)
    url = _local_url(addr, port)
    settings.RS_PUBLIC_URL = url
    for name, value in public_url_defaults(url).items():
        if not os.environ.get(name):
            setattr(settings, name, value)
    if not os.environ.get("DJANGO_ALLOWED_HOSTS") and host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]


def _port_check(addr: str, port: int) -> None:
    """Fail now, with the way out, rather than after migrating and bootstrapping."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As runserver's server does: a port left in TIME_WAIT by the last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((addr, port))
        except OSError as error:
            why = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error})"
            raise CommandError(
                f"{_host(addr)}:{port} {why}. Choose another port, e.g. "
                f"manage.py serve {_host(addr)}:{port + 1}"
            ) from error


def _log_origin_check() -> None:
    """The log keeps the name its first checkpoint gave it: clients pin its key by that name,
    and a checkpoint under another name would fail every verification."""
    origin = import_string(LOG_ORIGIN_READER)()
    if origin is None or origin == settings.RS_LOG_ORIGIN:
        return
    where = origin.removesuffix("/log")
    raise ImproperlyConfigured(
        f"this log is named {origin!r} by its first checkpoint, but RS_PUBLIC_URL "
        f"{settings.RS_PUBLIC_URL} would name it {settings.RS_LOG_ORIGIN!r}. Serve it where it "
        f"was (manage.py serve {where}), or keep its name while serving elsewhere "
        f"(RS_LOG_ORIGIN={origin}), or start a new log in another RS_DATA_DIR."
    )


class Command(BaseCommand):
    help = "Migrate, bootstrap and serve the resolution service (development server)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            default="127.0.0.1:8000",
            help="ADDR:PORT or PORT to listen on; also the public URL when RS_PUBLIC_URL is unset",
        )

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        # SIGTERM should stop the embedded PostgreSQL cleanly too, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        addr, port = _address_parse(addrport)
        _public_url_derive(addr, port)
        _port_check(addr, port)
        self.stdout.write(f"Database: {_describe_database()}")
        call_command("migrate", interactive=False, verbosity=0)
        try:
            _log_origin_check()
            call_command("bootstrap", verbosity=options["verbosity"])
            keys_open()
        except ImproperlyConfigured as error:
            # A clear line and a non-zero exit, not a server answering 500 to whatever signs.
            raise CommandError(f"The service cannot start: {error}") from error

        beat = None
        if settings.CELERY_BROKER_URL:
            self.stdout.write(f"Tasks: Celery broker {settings.CELERY_BROKER_URL.split('@')[-1]}")
        else:
            self.stdout.write("Tasks: in this process, after commit (no CELERY_BROKER_URL)")
            beat = InProcessBeat(celery_app)
            beat.start()

        base = _local_url(addr, port)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Home          {base}/   (log explorer: {base}/explorer/)",
                    f"  Guides        {base}/docs/",
                    f"  API docs      {base}/api/docs/   (ReDoc: {base}/api/redoc/)",
                    f"  OpenAPI       {base}/api/schema/",
                    f"  Admin         {base}/admin/   (create a login: "
                    ".venv/bin/python manage.py createsuperuser)",
                    f"  Dashboard     {base}/admin/dashboard/   (staff)",
                    f"  Health        {base}/healthz",
                    "  API key       .venv/bin/python manage.py provider_create SLUG --name NAME"
                    "   (or the admin: a provider → Issue an API key)",
                    f"  Try it        curl -H 'Authorization: Bearer <key>' {base}/v1/me",
                    "",
                ]
            )
        )
        try:
            # Static files are WhiteNoise's (WHITENOISE_USE_FINDERS), as behind gunicorn: it
            # serves only the files it found. runserver's own handler (staticfiles) answers
            # /static/%2e%2e/… with a 500, letting SuspiciousFileOperation through.
            call_command(
                "runserver",
                addrport,
                use_reloader=False,
                use_threading=True,
                use_static_handler=False,
            )
        finally:
            if beat:
                beat.stop()
