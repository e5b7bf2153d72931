"""``rs refuse ID``: refuse a certificate request your number's lock holds back: it ends, never
issued.  No SMS is asked for, since the SMS is what an intruder may hold."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.answers import request_answer
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show, show_json, written_json, written_text


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
        (
            (
                "rs refuse 0d3c5a9e-7f21-4c1b-9a4e-5b8f2e6d1c07",
                "the request ends: no certificate for that key",
            ),
            ("rs refuse 0d3c5a9e-7f21-4c1b-9a4e-5b8f2e6d1c07 --json", "the same, printed as JSON"),
        ),
    )
    refuse.add_argument("id", type=arguments.request_id, metavar="ID")
    arguments.add_json(refuse)


def run(args: argparse.Namespace, ctx: Context) -> int:
    request = request_answer(ctx, args.id, approve=False)
    promise = ctx.promise_hold(request.log)
    if args.json:
        show_json(
            {
                "id": request.id,
                "number": request.number,
                "requester": request.requester,
                "status": request.status,
                "closed_at": request.closed_at.isoformat() if request.closed_at else None,
                "closed_log_index": request.closed_log_index,
                "log": written_json(request.log, promise),
            }
        )
        return EXIT_OK
    entry = written_text(request.log, promise, request.closed_log_index)
    show(
        f"refused request {request.id} for {request.number} (by {request.requester}): no "
        f"certificate is issued for it; {entry}"
    )
    return EXIT_OK
