"""``rs renew NUMBER [--code DIGITS] [--new-key]`` or ``rs renew --all [--within DAYS]``: renew
number certificates before they end, keeping what they authorise.

Each renewal is a fresh SMS challenge and a request signed with the key of the certificate it
renews: the service moves its handlers (each logged again) and its lock to the new certificate
in the same call, so nothing has to be published again (``rs register`` on a registered number
does the same). ``--all`` renews every number stored here whose certificate, issued by this
service, ends within ``--within`` days (7): the run to put in a timer. Unattended, the code of
each SMS comes from ``--code-command``: a shell command run with ``RS_NUMBER`` set, whose first
line of output is the code (read from an SMS gateway's inbox, say).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from resolution.cli import arguments
from resolution.cli.challenge import code_from_command
from resolution.cli.commands.register import register
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_FAILED, EXIT_OK, UsageError
from resolution.cli.output import failure, info, show, show_json
from resolution.client.errors import ApiError
from resolution.client.store import StoreError, server_id


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    renew = arguments.add_command(
        commands,
        "renew",
        service,
        run,
        "renew certificates before they end; their handlers and lock carry over",
        "Renew NUMBER's stored certificate, or with --all every stored certificate of this "
        "service that ends within --within days: a fresh SMS challenge each (the code asked "
        "for, given with --code, or printed by --code-command), and a request signed with the "
        "old certificate's key, so that its handlers and lock pass to the new one.",
        (
            ("rs renew +33612345678", "a fresh SMS code, typed here; the handlers carry over"),
            (
                'rs renew --all --within 7 --code-command "sms-inbox --latest-code $RS_NUMBER"',
                "in a daily timer: each certificate that ends within a week, unattended",
            ),
        ),
    )
    renew.add_argument("number", type=arguments.number, metavar="NUMBER", nargs="?", help="E.164")
    renew.add_argument("--all", action="store_true", help="every number stored here")
    renew.add_argument(
        "--within",
        type=int,
        default=7,
        metavar="DAYS",
        help="with --all: those whose certificate ends within DAYS days (7)",
    )
    renew.add_argument("--code", metavar="DIGITS", help="the code from the SMS (one number)")
    renew.add_argument(
        "--code-command",
        metavar="CMD",
        help="a shell command that prints the SMS code of $RS_NUMBER (unattended renewal)",
    )
    renew.add_argument(
        "--new-key", action="store_true", help="certify a new key (handlers and lock carry over)"
    )
    arguments.add_json(renew)


def _due(ctx: Context, within: timedelta) -> list[str]:
    """The numbers stored here whose valid certificate from this service ends within
    ``within``."""
    due = []
    until = datetime.now(UTC) + within
    for number in ctx.store.numbers():
        try:
            credentials = ctx.store.credentials(number)
        except StoreError:
            continue  # a folder without a certificate (a pending registration)
        if credentials.revoked or credentials.server != server_id(ctx.url):
            continue
        ends = credentials.certificate.not_valid_after_utc
        if datetime.now(UTC) < ends <= until:
            due.append(number)
    return due


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    if args.all == (args.number is not None):
        raise UsageError("name one NUMBER, or --all")
    if args.all and args.code is not None:
        raise UsageError("--code answers one number's challenge: use --code-command with --all")
    ask = code_from_command(args.code_command) if args.code_command else None
    ctx.pinned.log_keys()
    ctx.pinned.ca_root()
    if args.number is not None:
        ctx.credentials(args.number)  # a clear error if nothing is stored for it
        return register(
            ctx,
            args.number,
            code=args.code,
            new_key=args.new_key,
            ask=ask,
            command="renew",
            emit=show_json if args.json else None,
        )
    numbers = _due(ctx, timedelta(days=args.within))
    if not numbers and args.json:
        show_json({"renewed": [], "not_renewed": []})
        return EXIT_OK
    if not numbers:
        show(f"nothing to renew: no certificate stored here ends within {args.within} days")
        return EXIT_OK
    info(f"renewing {len(numbers)} certificate(s) that end within {args.within} days")
    failed = []
    renewed: list[dict[str, Any]] = []
    for number in numbers:
        try:
            status = register(
                ctx,
                number,
                code=None,
                new_key=args.new_key,
                ask=ask,
                command="renew",
                emit=renewed.append if args.json else None,
            )
        except (ApiError, UsageError) as exc:
            failure("renew", f"{number}: {exc}")
            status = EXIT_FAILED
        if status != EXIT_OK:
            failed.append(number)
    if args.json:
        show_json({"renewed": renewed, "not_renewed": failed})
    if failed:
        failure("renew", f"not renewed: {', '.join(failed)}")
        return EXIT_FAILED
    return EXIT_OK
