"""``rs requests [NUMBER]``: the certificate requests that number locks hold back, for your
numbers and your own, with what to do about each.

A request for a key made here is yours (``rs register`` was held back: collect it with
``rs register NUMBER --resume`` once issued); any other is someone else's registration of a
number you hold, issued at ``issues_at`` unless you refuse it (``rs refuse ID``) or approve it
(``rs approve ID``) first.
"""

from __future__ import annotations

import argparse
from typing import Any

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import entry_text, show, show_json
from resolution.client.api import CertificateRequest


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    requests = arguments.add_command(
        commands,
        "requests",
        service,
        run,
        "list the certificate requests a number lock holds back",
        "List the pending certificate requests for the numbers you hold (someone asked for a "
        "certificate with another key while your lock holds) and your own, with what to do: "
        "refuse one you did not make ('rs refuse ID'), approve another app of yours "
        "('rs approve ID'); with no answer it is issued when its wait ends.",
        (
            ("rs requests", "the pending requests for every number you locked"),
            ("rs requests +33612345678 --all --json", "all of one number's, as JSON"),
        ),
    )
    requests.add_argument(
        "number", type=arguments.number, nargs="?", metavar="NUMBER", help="only this number"
    )
    requests.add_argument(
        "--all", action="store_true", help="closed requests too (approved, refused...)"
    )
    requests.add_argument("--json", action="store_true", help="print JSON, for scripts")


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    listed = ctx.client.certificate_requests(None if args.all else "pending")
    if args.number is not None:
        listed = tuple(r for r in listed if r.number == args.number)
    mine = {r.id: _made_here(ctx, r) for r in listed}
    if args.json:
        show_json(
            {
                "requests": [_document(r, made_here=mine[r.id]) for r in listed],
            }
        )
        return EXIT_OK
    where = f" for {args.number}" if args.number else ""
    if not listed:
        show(f"no {'' if args.all else 'pending '}certificate requests{where}")
        return EXIT_OK
    lines = [f"{len(listed)} {'' if args.all else 'pending '}certificate requests{where}:"]
    for request in listed:
        lines += _text(request, made_here=mine[request.id])
    show("\n".join(lines))
    return EXIT_OK


def _made_here(ctx: Context, request: CertificateRequest) -> bool:
    return request.public_key_sha256 in ctx.store.own_public_keys(request.number)


def _text(request: CertificateRequest, *, made_here: bool) -> list[str]:
    asked = f"{request.created_at:%Y-%m-%d %H:%M %Z}"
    issues = f"{request.issues_at:%Y-%m-%d %H:%M %Z}"
    lines = [
        f"  request {request.id} for {request.number} by {request.requester}, {request.status}, "
        f"asked {asked} ({entry_text(request.log_index)})",
        f"    key SHA-256 {request.public_key_sha256.hex()}"
        f"{' (made here: yours)' if made_here else ' (NOT made here)'}",
    ]
    if not request.pending:
        return lines
    if made_here:
        lines.append(
            f"    yours: it waits for the number's locked holder, or until {issues} (if your "
            f"own lock holds it, a renewal, 'rs approve {request.id}'); then "
            f"'rs register {request.number} --resume'"
        )
    else:
        lines.append(
            f"    issued at {issues} unless you answer: if it is not an app of yours, "
            f"'rs refuse {request.id}'; if it is, 'rs approve {request.id}'"
        )
    return lines


def _document(request: CertificateRequest, *, made_here: bool) -> dict[str, Any]:
    return {
        "id": request.id,
        "number": request.number,
        "requester": request.requester,
        "status": request.status,
        "public_key_sha256": request.public_key_sha256.hex(),
        "made_here": made_here,
        "created_at": request.created_at.isoformat(),
        "issues_at": request.issues_at.isoformat(),
        "closed_at": request.closed_at.isoformat() if request.closed_at else None,
        "log_index": request.log_index,
        "closed_log_index": request.closed_log_index,
    }
