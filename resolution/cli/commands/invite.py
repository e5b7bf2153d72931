"""``rs invite NUMBER SERVICE --from YOUR_NUMBER``: ask the service to invite a number that no
app has registered (DESIGN §7.5).

The service sends NUMBER one SMS naming YOUR_NUMBER (signed with its stored key, so the
invitation carries a number you proved you hold), the service, and a link to a page that says
which apps handle it and how to stop invitations. When NUMBER later publishes a handler of
SERVICE that your provider may see, its webhook receives ``invitation.accepted``; or poll with
``rs invitations``. A number that opted out or holds a certificate is refused alike.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import show, show_json, written_json, written_text
from resolution.client.api import invite_token
from resolution.protocol.directory import Service


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    invite = arguments.add_command(
        commands,
        "invite",
        service,
        run,
        "invite a number no app has registered: one SMS, and a webhook when it publishes",
        "Ask the service to send NUMBER one SMS inviting it to SERVICE, naming --from (one of "
        "your numbers, whose stored key signs the request). When NUMBER publishes a handler of "
        "SERVICE that your provider may see, your webhook receives invitation.accepted; "
        "'rs invitations' shows where each invitation stands. Invitations are limited, and a "
        "number that opted out or is registered already is refused.",
        (
            (
                "rs invite +33698765432 messaging --from +33612345678",
                "one SMS to +33698765432, inviting it to messaging in your name",
            ),
            (
                "rs invite +33698765432 messaging --from +33612345678 --json",
                "the same, the invitation printed as JSON",
            ),
        ),
    )
    invite.add_argument("number", type=arguments.number, metavar="NUMBER")
    invite.add_argument("service", metavar="SERVICE", help=", ".join(Service))
    invite.add_argument(
        "--from",
        dest="inviter",
        type=arguments.number,
        required=True,
        metavar="YOUR_NUMBER",
        help="the number the invitation comes from (its certificate is in the config folder)",
    )
    arguments.add_json(invite)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.inviter)
    token = invite_token(credentials.key, credentials.serial, to=args.number, service=args.service)
    invitation = ctx.client.invitation_create(token)
    promise = ctx.promise_hold(invitation.log)
    if args.json:
        # As 'rs invitations --json' lists it, with the entry this invitation appended.
        show_json(asdict(invitation) | {"log": written_json(invitation.log, promise)})
        return EXIT_OK
    entry = written_text(invitation.log, promise, invitation.log_index)
    show(
        f"invited {invitation.to} to {invitation.service} from {invitation.inviter}: "
        f"invitation {invitation.id}, SMS {invitation.sms}, open until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M %Z} ({entry}); "
        f"its page: {invitation.link}"
    )
    return EXIT_OK
