"""``rs map [sync]``: the map of resolution services that the service (``RS_URL``) signed
(``GET /v1/map``, ``resolution.protocol.servicemap``).

``rs map sync`` fetches it, verifies it under the service's pinned CA root, pins the root of
each service it names (a changed root is refused, exit 5) and keeps it in the config folder;
``rs lookup`` then goes straight to the service that serves a number. ``rs map`` shows the map
kept. Run ``sync`` daily or so: a kept map older than 7 days is not used.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import show, show_json
from resolution.protocol.servicemap import ServiceMap


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    servicemap = arguments.add_command(
        commands,
        "map",
        service,
        run,
        "keep the map of resolution services, to look numbers up where they are served",
        "Show the map of resolution services kept of the service at RS_URL; with 'sync', "
        "fetch it first: verified under the service's pinned CA root, the root of each "
        "service it names pinned on first use (a changed one is refused). rs lookup then asks "
        "the service that serves a number directly.",
        (
            ("rs map sync", "fetch, verify and keep the map"),
            ("rs map --json", "the map kept, as JSON"),
        ),
    )
    servicemap.add_argument("action", nargs="?", choices=["sync"], help="fetch the map first")
    arguments.add_json(servicemap)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action == "sync":
        found = ctx.services.map_sync()
    else:
        kept = ctx.services.map_kept()
        if kept is None:
            raise UsageError(f"no fresh map kept of {ctx.url}: run 'rs map sync'")
        found = kept
    if args.json:
        show_json(_document(found))
    else:
        show(_text(found))
    return EXIT_OK


def _document(found: ServiceMap) -> dict[str, Any]:
    return {
        "url": found.url,
        "issued_at": found.issued_at.isoformat(),
        "services": [
            {
                "url": service.url,
                "blocks": [block.key() for block in service.blocks],
                "advertised_at": service.advertisement.issued_at.isoformat(),
            }
            for service in found.services
        ],
    }


def _text(found: ServiceMap) -> str:
    age = datetime.now(UTC) - found.issued_at
    lines = [
        f"the map of {found.url}, signed {found.issued_at:%Y-%m-%d %H:%M}Z "
        f"({int(age.total_seconds() // 60)} min ago): {len(found.services)} services"
    ]
    for service in found.services:
        blocks = [block.key() for block in service.blocks]
        shown = ", ".join(blocks[:5]) + (f" and {len(blocks) - 5} more" if len(blocks) > 5 else "")
        lines.append(f"  {service.url}  {shown}")
    return "\n".join(lines)
