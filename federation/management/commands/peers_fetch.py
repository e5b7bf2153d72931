"""``manage.py peers_fetch [NAME …]``: fetch the peers' advertisements now, and say how it went.

What beat does every ``RS_PEER_FETCH_SECONDS`` (``federation.services.peers_fetch``), at once:
each active peer's advertisement is fetched, checked and kept, or refused and the reason
recorded on the peer (docs/federation.md, "Peers"). Named peers are fetched whether active or
not, as the admin's action does. One line per peer: the advertisement kept, or the error
recorded (``Peer.last_error``) and the advertisement still kept, if any. Exits with status 1 when
some peer's advertisement was not accepted.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from federation.models import Peer, PeerAdvertisement
from federation.services import peer_fetch


def _described(kept: PeerAdvertisement) -> str:
    return f"the advertisement of {kept.issued_at:%Y-%m-%dT%H:%M:%SZ} ({kept.ranges})"


class Command(BaseCommand):
    help = "Fetch and check the peers' advertisements now (every active peer, or those named)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="only these peers")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        peers = Peer.objects.filter(name__in=names) if names else Peer.objects.filter(active=True)
        peers = peers.select_related("advertisement").order_by("name")
        unknown = sorted(set(names) - {peer.name for peer in peers})
        if unknown:
            raise CommandError(f"no peer named {', '.join(unknown)}")
        failed = 0
        for peer in peers:
            before = getattr(peer, "advertisement", None)
            kept = peer_fetch(peer_id=peer.pk)
            try:
                peer.refresh_from_db(fields=["last_error"])
            except Peer.DoesNotExist:  # removed by an operator meanwhile
                continue
            if peer.last_error:
                failed += 1
                still = f"; still kept: {_described(kept)}" if kept is not None else ""
                self.stdout.write(f"{peer.name} ({peer.url}): {peer.last_error}{still}")
            elif kept is not None:
                new = before is None or before.issued_at != kept.issued_at
                done = "accepted" if new else "kept (unchanged)"
                self.stdout.write(f"{peer.name} ({peer.url}): {done} {_described(kept)}")
        if failed:
            raise CommandError(f"{failed} of {len(peers)} peers' advertisements not accepted")
        if not peers:
            self.stdout.write("No active peer (manage.py peer_add).")
