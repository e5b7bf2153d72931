"""``manage.py ca_issue_range --offline-root DIR --key-dir OUT --ranges BLOCK,…``: sign a range
certificate.

On the offline machine: a new advertisement key (P-256), encrypted with the service's
``RS_KEY_PASSPHRASE``, and its range certificate, signed by the root in DIR, whose TNAuthList
names the blocks given (in the advertisements' spelling, as ``RS_SERVED_RANGES``: ranges as
``range`` entries, single numbers as ``one``), written to OUT with the root's certificate, to be
copied into the service's ``RS_KEY_DIR`` (docs/federation.md). ``--replace`` keeps those already
in OUT beside as ``*.retired-<time>``. Needs no database.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ca.authority import ADVERTISEMENT_KEY_FILE, RANGE_CERTIFICATE_FILE, range_certificate_create
from ca.management.passphrases import root_passphrase
from resolution.protocol.advertisements import AdvertisementError, block_parse, overlaps


class Command(BaseCommand):
    help = "Create an advertisement key and range certificate signed by the offline root."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--offline-root", required=True, type=Path, help="the root's folder")
        parser.add_argument(
            "--key-dir", required=True, type=Path, help="where the key and certificate go"
        )
        parser.add_argument(
            "--ranges",
            required=True,
            help="the served blocks, comma-separated, as RS_SERVED_RANGES spells them",
        )
        parser.add_argument(
            "--replace", action="store_true", help="replace a range certificate already there"
        )

    def handle(
        self,
        *args: Any,
        offline_root: Path,
        key_dir: Path,
        ranges: str,
        replace: bool,
        **options: Any,
    ) -> None:
        # Not a development default: the service must open this key with its own passphrase.
        if not os.environ.get("RS_KEY_PASSPHRASE"):
            raise CommandError("set RS_KEY_PASSPHRASE to the service's passphrase")
        try:
            blocks = sorted(block_parse(name.strip()) for name in ranges.split(",") if name.strip())
        except AdvertisementError as error:
            raise CommandError(f"--ranges: {error}") from None
        if not blocks:
            raise CommandError("--ranges names no block")
        for a, b in itertools.pairwise(blocks):
            if overlaps(a, b):
                raise CommandError(f"--ranges: {a.key()} and {b.key()} overlap")
        try:
            certificate = range_certificate_create(
                root_directory=offline_root.resolve(),
                root_passphrase=root_passphrase(confirm=False),
                key_directory=key_dir.resolve(),
                blocks=blocks,
                replace=replace,
            )
        except (ImproperlyConfigured, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Range certificate {certificate.fingerprint(hashes.SHA256()).hex()} for "
            f"{len(blocks)} blocks written to {key_dir.resolve()}: copy "
            f"{ADVERTISEMENT_KEY_FILE} and {RANGE_CERTIFICATE_FILE} into the service's "
            "RS_KEY_DIR, set RS_SERVED_RANGES to the same blocks, and restart every process."
        )
