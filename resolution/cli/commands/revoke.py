"""``rs revoke NUMBER [--reason REASON]``: revoke the number's stored certificate, signed with
its own key; the service removes the handlers it authorised."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show, show_json, written_json, written_text
from resolution.client.api import revoke_token
from resolution.protocol.certificates import REVOCATION_REASONS


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    revoke = arguments.add_command(
        commands,
        "revoke",
        service,
        run,
        "revoke the number's certificate",
        "Revoke the stored certificate of NUMBER (signed with its own key). The service "
        "removes the handlers it authorised.",
        (
            ("rs revoke +33612345678", "the number's certificate ends now, and its handlers"),
            (
                "rs revoke +33612345678 --reason keyCompromise --json",
                "its key leaked: say so, and print the result as JSON",
            ),
        ),
    )
    revoke.add_argument("number", type=arguments.number, metavar="NUMBER")
    revoke.add_argument(
        "--reason", choices=REVOCATION_REASONS, help="RFC 5280 reason (default: unspecified)"
    )
    arguments.add_json(revoke)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.number)
    token = revoke_token(credentials.key, credentials.serial, reason=args.reason)
    state = ctx.client.certificate_revoke(credentials.serial, token)
    ctx.store.mark_revoked(args.number)
    promise = ctx.promise_hold(state.log)
    if args.json:
        show_json(
            {
                "number": args.number,
                "serial": state.serial,
                "status": state.status,
                "revoked_at": state.revoked_at.isoformat() if state.revoked_at else None,
                "revocation_reason": state.revocation_reason,
                "revocation_log_index": state.revocation_log_index,
                "log": written_json(state.log, promise),
            }
        )
        return EXIT_OK
    show(
        f"revoked certificate {state.serial} of {args.number} "
        f"({state.revocation_reason}); its handlers are removed; "
        f"{written_text(state.log, promise, state.revocation_log_index)}"
    )
    return EXIT_OK
