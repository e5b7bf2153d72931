"""``manage.py keys_reencrypt``: rewrite key files in the current format (scrypt), or under a new
passphrase.

Files written before scrypt (PKCS #8 with PBKDF2, 2,048 iterations) or with a lower cost than
``RS_KEY_SCRYPT_LOG2N`` are rewritten; the keys themselves do not change. With
``--new-passphrase-env NAME`` every file is rewritten under the passphrase in that variable:
set ``RS_KEY_PASSPHRASE`` to it for every process afterwards. Every file is opened before any is
rewritten, so a wrong passphrase changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.keyfiles import key_file_is_current, key_file_load, key_file_reencrypt, key_files


class Command(BaseCommand):
    help = "Re-encrypt the private key files (scrypt), optionally under a new passphrase."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", type=Path, default=None, help="folder of key files (default: RS_KEY_DIR)"
        )
        parser.add_argument(
            "--passphrase-env",
            default="",
            help="variable holding the files' passphrase (default: RS_KEY_PASSPHRASE)",
        )
        parser.add_argument(
            "--new-passphrase-env", default="", help="variable holding a new passphrase"
        )

    def handle(
        self,
        *args: Any,
        dir: Path | None,
        passphrase_env: str,
        new_passphrase_env: str,
        **options: Any,
    ) -> None:
        directory = (dir or Path(settings.RS_KEY_DIR)).resolve()
        passphrase = self._variable(passphrase_env) if passphrase_env else None
        new_passphrase = self._variable(new_passphrase_env) if new_passphrase_env else None
        if new_passphrase is not None and len(new_passphrase) < 16:
            raise CommandError("the new passphrase must have 16+ characters")
        paths = key_files(directory)
        try:
            for path in paths:  # all open, or nothing is rewritten
                key_file_load(path, passphrase=passphrase)
            stale = [
                path
                for path in paths
                if new_passphrase is not None or not key_file_is_current(path)
            ]
            for path in stale:
                key_file_reencrypt(path, passphrase=passphrase, new_passphrase=new_passphrase)
                self.stdout.write(f"re-encrypted {path.name}")
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{len(stale)} of {len(paths)} key files in {directory} rewritten; "
            "the others are current."
        )

    @staticmethod
    def _variable(name: str) -> str:
        value = os.environ.get(name, "")
        if not value:
            raise CommandError(f"{name} is not set")
        return value
