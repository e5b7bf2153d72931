"""``rs approve ID``: approve a certificate request your number's lock holds back (another app
of yours): the certificate is issued to it at once."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.answers import request_answer
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show, show_json, written_json, written_text


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    approve = arguments.add_command(
        commands,
        "approve",
        service,
        run,
        "approve a certificate request for your locked number",
        "Approve certificate request ID (see 'rs requests'), signed with the key of the "
        "certificate stored for its number, whose lock must hold: the certificate is issued "
        "to the requester at once. Only for a request of your own, such as a second app.",
        (
            (
                "rs approve 0d3c5a9e-7f21-4c1b-9a4e-5b8f2e6d1c07",
                "your second app's certificate is issued at once",
            ),
            ("rs approve 0d3c5a9e-7f21-4c1b-9a4e-5b8f2e6d1c07 --json", "the same, printed as JSON"),
        ),
    )
    approve.add_argument("id", type=arguments.request_id, metavar="ID")
    arguments.add_json(approve)


def run(args: argparse.Namespace, ctx: Context) -> int:
    request = request_answer(ctx, args.id, approve=True)
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
    show(
        f"approved request {request.id} for {request.number} (by {request.requester}): "
        f"its certificate is issued; {written_text(request.log, promise, request.closed_log_index)}"
    )
    return EXIT_OK
