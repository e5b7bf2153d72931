"""``manage.py ca_init --offline-root DIR``: create the root CA on an offline machine.

The root's key is written to DIR, encrypted with its own passphrase (``RS_ROOT_KEY_PASSPHRASE``
or asked for), beside its certificate; it never goes to the service. Then
``manage.py ca_issue_intermediate`` signs the issuing CA the service uses. Needs no database:
run it with any ``DATABASE_URL`` (docs/deployment.md, "Database roles and keys").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ca.authority import ROOT_KEY_FILE, ca_root_create
from ca.management.passphrases import root_passphrase


class Command(BaseCommand):
    help = "Create the root CA (key and certificate) in a folder of an offline machine."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--offline-root", required=True, type=Path, help="where the root's files go"
        )

    def handle(self, *args: Any, offline_root: Path, **options: Any) -> None:
        directory = offline_root.resolve()
        if directory == Path(settings.RS_KEY_DIR).resolve():
            raise CommandError("the root's key must not go to RS_KEY_DIR, which the service reads")
        if (directory / ROOT_KEY_FILE).exists():
            raise CommandError(f"a root key is already in {directory}")
        try:
            root = ca_root_create(directory, passphrase=root_passphrase(confirm=True))
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Root CA created in {directory}; SHA-256 fingerprint: "
            f"{root.fingerprint(hashes.SHA256()).hex()}. Keep the folder and its passphrase "
            "offline; next: manage.py ca_issue_intermediate."
        )
