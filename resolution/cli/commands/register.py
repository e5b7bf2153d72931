"""``rs register NUMBER [--code DIGITS]``: prove you hold a number, and get its certificate.

The first run makes a P-256 key and starts an SMS challenge; the code is asked for on a
terminal, or given to a second run with ``--code``.  The certificate issued is checked (its
key, TNAuthList and chain to the pinned CA root) before it is stored, and its log entry
against the pinned log keys (``resolution.client.verify``).
"""

from __future__ import annotations

import argparse
import sys

from cryptography.hazmat.primitives.asymmetric import ec

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import info, show
from resolution.client.api import csr_pem
from resolution.client.errors import ApiError
from resolution.client.store import server_id


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    register = arguments.add_command(
        commands,
        "register",
        service,
        run,
        "prove you hold a number and get its certificate",
        "Make a P-256 key, start an SMS challenge for NUMBER, answer it with the code "
        "(asked for, or --code), send a CSR, and store key and certificate under the config "
        "folder. The certificate's key, TNAuthList and chain to the pinned CA root are "
        "checked, and its entry in the transparency log against the pinned log keys.",
    )
    register.add_argument(
        "number", type=arguments.number, metavar="NUMBER", help="E.164, +33612345678"
    )
    register.add_argument("--code", metavar="DIGITS", help="the code from the SMS")


def _ask_code(number: str) -> str:
    print(f"code from the SMS sent to {number}: ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"no code given: answer with 'rs register {number} --code CODE'")
    return line.strip()


def _answer(ctx: Context, challenge_id: str, code: str) -> None:
    """Answer the challenge; one already verified (an earlier run stopped later) is fine."""
    try:
        ctx.client.challenge_verify(challenge_id, code)
    except ApiError as exc:
        if exc.slug != "challenge-already-verified":
            raise


def run(args: argparse.Namespace, ctx: Context) -> int:
    number: str = args.number
    ctx.needs_api_key()
    ctx.store.number_dir(number)
    ctx.pinned.log_keys()
    ctx.pinned.ca_root()
    if args.code is not None:
        # The second step: the code of the challenge the first step started.
        pending = ctx.store.pending(number)
        if pending is None or pending.server != server_id(ctx.url):
            raise UsageError(
                f"no challenge is pending for {number} at {ctx.url}: run "
                f"'rs register {number}' first, then answer it with --code"
            )
        key, challenge_id = pending.key, pending.challenge_id
        _answer(ctx, challenge_id, args.code)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        challenge = ctx.client.challenge_start(number)
        challenge_id = challenge.id
        # Kept before anything else: a certificate for this key is ours even if we stop.
        ctx.store.pending_save(
            number,
            key=key,
            challenge_id=challenge_id,
            expires_at=challenge.expires_at.isoformat(),
            server=ctx.url,
        )
        expiry = f"{challenge.expires_at:%H:%M:%S %Z}"
        if sys.stdin is None or not sys.stdin.isatty():
            show(
                f"code sent by SMS to {number}, valid until {expiry}: finish with "
                f"'rs register {number} --code CODE'"
            )
            return EXIT_OK
        info(f"code sent by SMS to {number}; it is valid until {expiry}")
        while True:
            try:
                _answer(ctx, challenge_id, _ask_code(number))
                break
            except ApiError as exc:
                left = exc.extensions.get("attempts_left")
                if exc.slug != "challenge-code-wrong" or not left:
                    raise
                info(f"wrong code; {left} attempts left")
    issued = ctx.client.certificate_issue(challenge_id, csr_pem(key))
    ctx.pinned.certificate_check(issued, number=number, key=key)
    ctx.store.credentials_save(
        number,
        key=key,
        certificate_pem=issued.certificate,
        chain_pems=issued.chain,
        serial=issued.serial,
        x5u=issued.x5u,
        server=ctx.url,
    )
    checkpoint = ctx.pinned.certificate_log_check(issued, number=number, key=key)
    folder = ctx.store.number_dir(number)
    show(
        f"registered {number}: certificate {issued.serial}, valid until "
        f"{issued.not_after:%Y-%m-%d %H:%M %Z}\n"
        f"  verified: key, TNAuthList and chain to the pinned CA root\n"
        f"  verified: log entry {issued.log.index} in the signed checkpoint of size "
        f"{checkpoint.size}\n"
        f"  stored in {folder}"
    )
    return EXIT_OK
