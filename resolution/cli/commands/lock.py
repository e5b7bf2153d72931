"""``rs lock NUMBER``: lock the number with its stored certificate (DESIGN §7.2).

Until that certificate ends, a certificate for the number to any other key is not issued at
once: it waits as a request for your answer (``rs requests``, ``rs approve``, ``rs refuse``),
or until the service's wait ends.  Locking a locked number changes nothing.
"""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show, show_json, written_json, written_text
from resolution.client.api import lock_token


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    lock = arguments.add_command(
        commands,
        "lock",
        service,
        run,
        "lock the number: a certificate to another key then waits for your answer",
        "Lock NUMBER with its stored certificate (signed with its key). Until the certificate "
        "ends, a registration of NUMBER with any other key waits as a request that you "
        "approve or refuse ('rs requests'), or until the service's wait ends.",
        (
            ("rs lock +33612345678", "another key's certificate for it now waits for you"),
            ("rs lock +33612345678 --json", "the same, printed as JSON"),
        ),
    )
    lock.add_argument("number", type=arguments.number, metavar="NUMBER")
    arguments.add_json(lock)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.number)
    state = ctx.client.certificate_lock(
        credentials.serial, lock_token(credentials.key, credentials.serial)
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
    entry = written_text(state.log, promise, state.lock_log_index)
    show(
        f"locked {args.number} with certificate {state.serial} until "
        f"{state.not_after:%Y-%m-%d %H:%M %Z} ({entry}): a "
        f"certificate for it to another key now waits for your answer; see "
        f"'rs requests {args.number}'"
    )
    return EXIT_OK
