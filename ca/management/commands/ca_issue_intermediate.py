"""``manage.py ca_issue_intermediate --offline-root DIR --key-dir OUT``: sign an issuing CA.

On the offline machine: a new issuing CA key, encrypted with the service's
``RS_KEY_PASSPHRASE``, its certificate signed by the root in DIR, and the root's certificate, all
written to OUT, to be copied into the service's ``RS_KEY_DIR``. ``--replace`` rotates: the
issuing CA already in OUT is kept beside as ``*.retired-<time>``. Needs no database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ca.authority import (
    ISSUING_CERTIFICATE_FILE,
    ISSUING_KEY_FILE,
    ROOT_CERTIFICATE_FILE,
    ca_issuing_create,
)
from ca.management.passphrases import root_passphrase


class Command(BaseCommand):
    help = "Create an issuing CA signed by the offline root, for the service's RS_KEY_DIR."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--offline-root", required=True, type=Path, help="the root's folder")
        parser.add_argument(
            "--key-dir", required=True, type=Path, help="where the issuing CA's files go"
        )
        parser.add_argument(
            "--replace", action="store_true", help="replace an issuing CA already there"
        )

    def handle(
        self, *args: Any, offline_root: Path, key_dir: Path, replace: bool, **options: Any
    ) -> None:
        # Not a development default: the service must open this key with its own passphrase.
        if not os.environ.get("RS_KEY_PASSPHRASE"):
            raise CommandError("set RS_KEY_PASSPHRASE to the service's passphrase")
        try:
            issuing = ca_issuing_create(
                root_directory=offline_root.resolve(),
                root_passphrase=root_passphrase(confirm=False),
                key_directory=key_dir.resolve(),
                replace=replace,
            )
        except (ImproperlyConfigured, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        files = ", ".join((ISSUING_KEY_FILE, ISSUING_CERTIFICATE_FILE, ROOT_CERTIFICATE_FILE))
        self.stdout.write(
            f"Issuing CA {issuing.fingerprint(hashes.SHA256()).hex()} written to "
            f"{key_dir.resolve()}: copy {files} into the service's RS_KEY_DIR and restart "
            "every process."
        )
