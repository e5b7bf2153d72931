"""``manage.py peer_add NAME URL --root ROOT.pem --ranges BLOCK,…``: add a peer, or change one.

A peer is another resolution service whose advertisement this one fetches and believes for the
blocks it may claim (docs/federation.md, "Peers"): what the admin's *Several services → Peers*
configures, from the command line. The peer named NAME is created, or changed when it exists;
``--root`` and ``--ranges`` may then be left out to keep what it has. The row is checked by the
model's own validators (an https base URL, one CA certificate, well-formed blocks that do not
overlap); a change of its URL or root forgets the advertisement kept of it, which was checked
against the old ones. ``manage.py peers_fetch NAME`` then fetches its advertisement.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from federation.models import Peer, PeerAdvertisement
from federation.peers import base_url_check, peer_trust, ranges_parse, root_parse

# How each field is given on the command line, for the validators' messages.
_OPTIONS = {"name": "NAME", "url": "URL", "root_pem": "--root", "allowed_ranges": "--ranges"}


def _root_read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"--root {path}: {error}") from None


def _messages(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return "; ".join(error.messages)
    return "; ".join(
        f"{_OPTIONS.get(field, field)}: {message}"
        for field, messages in error.message_dict.items()
        for message in messages
    )


class Command(BaseCommand):
    help = (
        "Add a peer (another resolution service: its URL, the root trusted for its "
        "advertisements, the blocks it may claim), or change the peer of that name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the operator's name for it, e.g. rs-de")
        parser.add_argument("url", help="its HTTPS base URL, e.g. https://rs.example.de")
        parser.add_argument(
            "--root",
            help="a PEM file of the root certificate trusted for its advertisements ('-': "
            "standard input); needed for a new peer",
        )
        parser.add_argument(
            "--ranges",
            help="the blocks it may claim, comma-separated as RS_SERVED_RANGES spells them; "
            "needed for a new peer",
        )
        parser.add_argument(
            "--inactive",
            action="store_true",
            help="neither fetch nor believe it (without this option the peer is active)",
        )

    @transaction.atomic
    def handle(
        self,
        *args: Any,
        name: str,
        url: str,
        root: str | None,
        ranges: str | None,
        inactive: bool,
        **options: Any,
    ) -> None:
        peer = Peer.objects.select_for_update().filter(name=name).first()
        created = peer is None
        if peer is None:
            missing = [
                option for option, value in (("--root", root), ("--ranges", ranges)) if not value
            ]
            if missing:
                raise CommandError(f"a new peer needs {' and '.join(missing)}")
            peer = Peer(name=name)
        before = peer_trust(peer.url, peer.root_pem)
        try:
            peer.url = base_url_check(url)  # stored without its trailing slash
        except ValueError:
            peer.url = url  # full_clean says what is wrong with it
        if root is not None:
            peer.root_pem = _root_read(root)
        if ranges is not None:
            try:  # in their one spelling, ascending
                peer.allowed_ranges = ",".join(block.key() for block in ranges_parse(ranges))
            except ValueError:
                peer.allowed_ranges = ranges
        peer.active = not inactive
        try:
            peer.full_clean()
        except ValidationError as error:
            raise CommandError(_messages(error)) from None
        peer.save()
        forgotten = False
        if not created and peer_trust(peer.url, peer.root_pem) != before:
            forgotten = PeerAdvertisement.objects.filter(peer=peer).delete()[0] > 0
        fingerprint = root_parse(peer.root_pem).fingerprint(hashes.SHA256()).hex()
        self.stdout.write(
            f"Peer {peer.name} {'added' if created else 'changed'}: {peer.url}, "
            f"{'active' if peer.active else 'inactive'}, may claim {peer.allowed_ranges}; "
            f"root SHA-256 fingerprint {fingerprint} (compare it with its operator's)"
        )
        if forgotten:
            self.stdout.write(
                "Its kept advertisement was checked against its former URL or root: forgotten "
                "until fetched again (manage.py peers_fetch)."
            )
