"""``rs remove NUMBER SERVICE``: remove your provider's handler of a service for a number,
signed with the number's stored key."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import log_json, promise_text, show, show_json
from resolution.client.api import handler_delete_token


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    remove = arguments.add_command(
        commands,
        "remove",
        service,
        run,
        "remove a handler of a number",
        "Remove your provider's handler of SERVICE for NUMBER (signed with its stored key).",
        (
            ("rs remove +33612345678 messaging", "your provider no longer handles messaging"),
            ("rs remove +33612345678 voice --json", "the same, printed as JSON"),
        ),
    )
    remove.add_argument("number", type=arguments.number, metavar="NUMBER")
    remove.add_argument("service", metavar="SERVICE")
    arguments.add_json(remove)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.number)
    token = handler_delete_token(
        credentials.key, credentials.serial, number=args.number, service=args.service
    )
    removed = ctx.client.handler_delete(args.number, args.service, token)
    promise = ctx.pinned.promise_hold(removed.log)
    if args.json:
        show_json(
            {
                "number": removed.number,
                "service": removed.service,
                "provider": removed.provider,
                "log": log_json(removed.log.leaf_hash, promise),
            }
        )
        return EXIT_OK
    show(
        f"removed {removed.service} of {removed.number} (by {removed.provider}); "
        f"{promise_text(promise, removed.log.leaf_hash)}"
    )
    return EXIT_OK
