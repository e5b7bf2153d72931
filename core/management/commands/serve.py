"""``manage.py serve``: migrate, bootstrap and run the service for development or evaluation.

On the embedded default (no ``DATABASE_URL``, no ``CELERY_BROKER_URL``) this is everything a
fresh machine needs; periodic tasks run in a thread of this process. Production runs gunicorn,
``celery worker`` and ``celery beat`` instead (docs/deployment.md).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.celery_app import app as celery_app
from core.health import keys_open
from core.scheduler import InProcessBeat


def _describe_database() -> str:
    db = settings.DATABASES["default"]
    if settings.RS_EMBEDDED_DATABASE:
        return f"embedded PostgreSQL (pgserver) in {settings.RS_DATA_DIR / 'pg'}"
    return f"PostgreSQL {db.get('NAME')} at {db.get('HOST') or 'local socket'}"


class Command(BaseCommand):
    help = "Migrate, bootstrap and serve the resolution service (development server)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        # SIGTERM should stop the embedded PostgreSQL cleanly too, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.stdout.write(f"Database: {_describe_database()}")
        call_command("migrate", interactive=False, verbosity=0)
        try:
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

        base = f"http://{addrport}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Home          {base}/   (log explorer: {base}/explorer/)",
                    f"  API docs      {base}/api/docs/   (ReDoc: {base}/api/redoc/)",
                    f"  OpenAPI       {base}/api/schema/",
                    f"  Admin         {base}/admin/   (create a login: "
                    ".venv/bin/python manage.py createsuperuser)",
                    f"  Dashboard     {base}/admin/dashboard/   (staff)",
                    f"  Health        {base}/healthz",
                    "  API key       .venv/bin/python manage.py provider_create SLUG --name NAME",
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
