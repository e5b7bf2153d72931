"""``rs dispute SERIAL --number NUMBER [--statement TEXT] [--code DIGITS]``: put a foreign
certificate for your number on the operator's dispute queue (DESIGN §7.2).

The dispute is signed with the key of the certificate stored for NUMBER, and carries a fresh
proof that you receive the number's SMS: a challenge started here, whose code is asked for on
a terminal or given to a second run with ``--code`` (as ``rs register`` takes it).  The
disputed certificate stays valid until an operator revokes it; lock your number first
(``rs lock``) so that no further certificate is issued for it without your answer.
"""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.challenge import challenge_answer, challenge_started
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import info, show, show_json, written_json, written_text
from resolution.client.api import DISPUTE_STATEMENT_LENGTH, Challenge, dispute_token
from resolution.client.store import Credentials, server_id


def _statement(value: str) -> str:
    if len(value) > DISPUTE_STATEMENT_LENGTH:
        raise argparse.ArgumentTypeError(
            f"the statement has {len(value)} characters; at most {DISPUTE_STATEMENT_LENGTH}"
        )
    return value


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    dispute = arguments.add_command(
        commands,
        "dispute",
        service,
        run,
        "dispute a certificate someone else holds for your number",
        "Put certificate SERIAL (one 'rs monitor' reports as foreign) on the operator's "
        "dispute queue: signed with the key of NUMBER's stored certificate, with a fresh SMS "
        "challenge for NUMBER (the code is asked for, or given to a second run with --code). "
        "The certificate stays valid until an operator revokes it.",
        (
            (
                'rs dispute 5f1c0a2b9d --number +33612345678 --statement "not my app"',
                "a certificate 'rs monitor' flagged: prove the number again, then it is queued",
            ),
            (
                "rs dispute 5f1c0a2b9d --number +33612345678 --code 123456 --json",
                "the second step in a script, the code given; the dispute printed as JSON",
            ),
        ),
    )
    dispute.add_argument("serial", type=arguments.serial, metavar="SERIAL")
    dispute.add_argument(
        "--number", type=arguments.number, required=True, metavar="NUMBER", help="your number"
    )
    dispute.add_argument(
        "--statement",
        type=_statement,
        metavar="TEXT",
        help=f"for the operator: what happened (at most {DISPUTE_STATEMENT_LENGTH} characters)",
    )
    dispute.add_argument("--code", metavar="DIGITS", help="the code from the SMS")
    arguments.add_json(dispute)


def run(args: argparse.Namespace, ctx: Context) -> int:
    number: str = args.number
    ctx.needs_api_key()
    credentials = ctx.credentials(number)
    if args.serial == credentials.serial:
        raise UsageError(f"certificate {args.serial} is the one stored here for {number}")
    statement: str | None = args.statement
    if args.code is not None:
        pending = ctx.store.dispute_pending(number)
        if (
            pending is None
            or pending.server != server_id(ctx.url)
            or pending.disputed != args.serial
        ):
            raise UsageError(
                f"no dispute of {args.serial} is pending for {number} at {ctx.url}: run "
                f"'rs dispute {args.serial} --number {number}' first, then answer with --code"
            )
        challenge_id = pending.challenge_id
        statement = statement if statement is not None else pending.statement
        challenge_answer(ctx, challenge_id, args.code)
    else:

        def keep(challenge: Challenge) -> None:
            ctx.store.dispute_save(
                number,
                disputed=args.serial,
                challenge_id=challenge.id,
                expires_at=challenge.expires_at.isoformat(),
                server=ctx.url,
                statement=statement,
            )

        started = challenge_started(
            ctx,
            number,
            keep=keep,
            finish=f"rs dispute {args.serial} --number {number} --code CODE",
            why=" to prove it is yours",
            emit=show_json if args.json else None,
        )
        if started is None:
            return EXIT_OK
        challenge_id = started
    return _sent(ctx, credentials, args.serial, challenge_id, statement, json=args.json)


def _sent(
    ctx: Context,
    credentials: Credentials,
    disputed: str,
    challenge_id: str,
    statement: str | None,
    *,
    json: bool,
) -> int:
    number = credentials.number
    token = dispute_token(
        credentials.key,
        credentials.serial,
        disputed=disputed,
        challenge=challenge_id,
        statement=statement,
    )
    dispute = ctx.client.dispute_open(token)
    ctx.store.dispute_clear(number)
    promise = ctx.promise_hold(dispute.log)
    locked = ctx.client.certificate_get(credentials.serial).locked
    if json:
        show_json(
            {
                "id": dispute.id,
                "number": number,
                "disputed": dispute.disputed,
                "certificate": dispute.certificate,
                "status": dispute.status,
                "opened_at": dispute.opened_at.isoformat(),
                "log_index": dispute.log_index,
                "log": written_json(dispute.log, promise),
                "locked": locked,
            }
        )
    else:
        entry = written_text(dispute.log, promise, dispute.log_index)
        show(
            f"disputed certificate {dispute.disputed} of {number}: dispute {dispute.id} is on "
            f"the operator's queue ({entry}); the certificate stays valid "
            f"until an operator revokes it, and 'rs monitor {number}' reports the outcome"
        )
    if not locked:
        info(
            f"rs dispute: {number} is not locked: run 'rs lock {number}' so that no other "
            f"certificate is issued for it without your answer"
        )
    return EXIT_OK
