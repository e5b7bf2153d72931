"""``rs refuse ID``: refuse a certificate request your number's lock holds back: it ends, never
issued.  No SMS is asked for, since the SMS is what an intruder may hold."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.answers import request_answer
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    refuse = arguments.add_command(
        commands,
        "refuse",
        service,
        run,
        "refuse a certificate request for your locked number",
        "Refuse certificate request ID (see 'rs requests'), signed with the key of the "
        "certificate stored for its number, whose lock must hold: the request ends and no "
        "certificate is issued for it.",
    )
    refuse.add_argument("id", type=arguments.request_id, metavar="ID")


def run(args: argparse.Namespace, ctx: Context) -> int:
    request = request_answer(ctx, args.id, approve=False)
    show(
        f"refused request {request.id} for {request.number} (by {request.requester}): no "
        f"certificate is issued for it; log entry {request.closed_log_index}"
    )
    return EXIT_OK
