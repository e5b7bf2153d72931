"""The root CA key's passphrase for the offline commands: ``RS_ROOT_KEY_PASSPHRASE``, else asked."""

from __future__ import annotations

import getpass
import sys

from django.conf import settings
from django.core.management.base import CommandError

MIN_LENGTH = 16


def root_passphrase(*, confirm: bool) -> str:
    """The root key's passphrase: 16+ characters and not the service's ``RS_KEY_PASSPHRASE``."""
    passphrase = str(settings.RS_ROOT_KEY_PASSPHRASE)
    if not passphrase:
        if not sys.stdin.isatty():
            raise CommandError("set RS_ROOT_KEY_PASSPHRASE, or run this in a terminal")
        passphrase = getpass.getpass("Root CA key passphrase: ")
        if confirm and getpass.getpass("Again: ") != passphrase:
            raise CommandError("the two passphrases differ")
    if len(passphrase) < MIN_LENGTH:
        raise CommandError(f"the root key's passphrase must have {MIN_LENGTH}+ characters")
    if passphrase == settings.RS_KEY_PASSPHRASE:
        raise CommandError("the root key's passphrase must not be the service's RS_KEY_PASSPHRASE")
    return passphrase
