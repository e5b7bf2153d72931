"""``rs passport sign`` and ``rs passport verify``: PASSporTs (RFC 8225) signed with a
number's stored key, verified by the service or here (``--offline``) against the pinned CA
root and the CA's current CRL."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from datetime import UTC, datetime

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_FAILED, EXIT_OK, UsageError
from resolution.cli.output import show, show_json
from resolution.protocol.passport import PPT_MSG, PassportError, passport_sign


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    passport = commands.add_parser(
        "passport",
        help="sign and verify PASSporTs (RFC 8225)",
        description="Sign PASSporTs with a number's stored key, and verify them.",
    )
    passport_commands = passport.add_subparsers(
        dest="passport_command", metavar="PASSPORT_COMMAND", required=True
    )
    sign = arguments.add_command(
        passport_commands,
        "sign",
        service,
        run,
        "sign a PASSporT for a call or a message",
        "Print a PASSporT from --from to --to, signed with the stored key of --from. With "
        '--msg, a "msg" PASSporT (RFC 9475) protecting the message body in FILE.',
        (
            (
                "TOKEN=$(rs passport sign --from +33612345678 --to +33698765432)",
                "a call's PASSporT, to send in the SIP Identity header",
            ),
            (
                "rs passport sign --from +33612345678 --to +33698765432 --msg body.txt --json",
                "a message's, bound to its body, as JSON",
            ),
        ),
    )
    sign.add_argument("--from", dest="orig", type=arguments.number, required=True, metavar="NUMBER")
    sign.add_argument(
        "--to",
        dest="dest",
        type=arguments.number,
        required=True,
        action="append",
        metavar="NUMBER",
    )
    sign.add_argument("--msg", metavar="FILE", help="the message body ('-': standard input)")
    arguments.add_json(sign)

    verify = arguments.add_command(
        passport_commands,
        "verify",
        service,
        run,
        "verify a PASSporT",
        "Have the service verify TOKEN (POST /v1/passports/verify), or with --offline verify "
        "it here against the CA root pinned for the service and its current CRL.",
        (
            ('rs passport verify "$TOKEN"', "the service's verdict: valid, or why not"),
            (
                "rs passport verify - --body body.txt --offline --json < token.txt",
                "a message's PASSporT, checked here, the verdict as JSON",
            ),
        ),
    )
    verify.add_argument("token", metavar="TOKEN", help="the compact PASSporT ('-': standard input)")
    verify.add_argument("--body", metavar="FILE", help='the message body of a "msg" PASSporT')
    verify.add_argument("--offline", action="store_true", help="verify here, not by the service")
    arguments.add_json(verify)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.passport_command == "sign":
        return _sign(args, ctx)
    return _verify(args, ctx)


def _sign(args: argparse.Namespace, ctx: Context) -> int:
    credentials = ctx.credentials(args.orig)
    body = arguments.read_input(args.msg, "message body") if args.msg is not None else None
    try:
        token = passport_sign(
            credentials.key,
            x5u=credentials.x5u,
            orig=args.orig[1:],  # RFC 8224 §8.3: digits, no "+"
            dest=[number[1:] for number in args.dest],
            iat=int(time.time()),
            ppt=PPT_MSG if body is not None else None,
            body=body,
        )
    except PassportError as exc:
        raise UsageError(f"cannot sign this PASSporT: {exc}") from None
    if args.json:
        show_json({"token": token, "from": args.orig, "to": args.dest, "msg": body is not None})
        return EXIT_OK
    show(token)
    return EXIT_OK


def _verify(args: argparse.Namespace, ctx: Context) -> int:
    token = arguments.token(args.token)
    body = arguments.read_input(args.body, "message body") if args.body is not None else None
    if args.offline:
        return _verify_offline(args, ctx, token, body)
    ctx.needs_api_key()
    verdict = ctx.client.passport_verify(token, body)
    if args.json:
        show_json(
            {
                "verdict": verdict.verdict,
                "reasons": list(verdict.reasons),
                "passport": None if verdict.passport is None else asdict(verdict.passport),
                "certificate": None if verdict.certificate is None else asdict(verdict.certificate),
            }
        )
    elif verdict.valid:
        passport, signer = verdict.passport, verdict.certificate
        claims = (
            ""
            if passport is None
            else (
                f": {passport.orig} -> {', '.join(passport.dest + passport.dest_uri)}"
                f"{' (msg)' if passport.ppt == PPT_MSG else ''}, signed at "
                f"{datetime.fromtimestamp(passport.iat, UTC):%Y-%m-%d %H:%M:%S %Z}"
            )
        )
        by = "" if signer is None else f", by certificate {signer.serial}"
        show(f"valid{claims}{by} (verified by {ctx.url})")
    else:
        show(f"invalid: {', '.join(verdict.reasons) or 'no reason given'}")
    return EXIT_OK if verdict.valid else EXIT_FAILED


def _verify_offline(args: argparse.Namespace, ctx: Context, token: str, body: bytes | None) -> int:
    try:
        verified = ctx.pinned.passport_verify(token, body)
    except PassportError as exc:
        return _verdict(args, "invalid", [exc.reason], str(exc))
    leaf = verified.chain[0]
    p = verified.passport
    detail = (
        f"+{p.orig} -> {', '.join(['+' + tn for tn in p.dest] + list(p.dest_uri))}"
        f"{' (msg)' if p.ppt == PPT_MSG else ''}, by certificate {leaf.serial_number:032x}"
    )
    return _verdict(args, "valid", [], detail)


def _verdict(args: argparse.Namespace, verdict: str, reasons: list[str], detail: str) -> int:
    if args.json:
        show_json({"verdict": verdict, "reasons": reasons, "detail": detail})
    elif verdict == "valid":
        show(f"valid: {detail} (verified here against the pinned CA root)")
    else:
        show(f"invalid: {', '.join(reasons)}: {detail}")
    return EXIT_OK if verdict == "valid" else EXIT_FAILED
