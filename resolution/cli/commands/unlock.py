"""``rs unlock NUMBER``: lift the lock that the number's stored certificate holds; requests it
held back are issued once no lock holds."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import promise_text, show, show_json, written_json
from resolution.client.api import unlock_token


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    unlock = arguments.add_command(
        commands,
        "unlock",
        service,
        run,
        "lift the number's lock",
        "Lift the lock of NUMBER's stored certificate (signed with its key). Requests the "
        "lock held back are issued once no lock holds the number.",
        (
            ("rs unlock +33612345678", "certificates to other keys no longer wait for you"),
            ("rs unlock +33612345678 --json", "the same, printed as JSON"),
        ),
    )
    unlock.add_argument("number", type=arguments.number, metavar="NUMBER")
    arguments.add_json(unlock)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.number)
    state = ctx.client.certificate_unlock(
        credentials.serial, unlock_token(credentials.key, credentials.serial)
    )
    promise = ctx.promise_hold(state.log)
    if args.json:
        show_json(
            {
                "number": args.number,
                "serial": state.serial,
                "locked": state.locked,
                "not_after": state.not_after.isoformat(),
                "lock_log_index": state.lock_log_index,
                "log": written_json(state.log, promise),
            }
        )
        return EXIT_OK
    # No entry: the certificate was not locked, and nothing changed.
    logged = "" if state.log is None else f" ({promise_text(promise, state.log.leaf_hash)})"
    show(
        f"unlocked {args.number} (certificate {state.serial}){logged}: a certificate for it "
        f"to another key is issued without your answer once no other lock holds"
    )
    return EXIT_OK
