"""``rs invitations``: your provider's invitations, newest first, and where each stands: open
(waiting for the number to publish a handler you may see), accepted (your webhook was sent
``invitation.accepted``) or expired."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import entry_text, show, show_json
from resolution.client.api import INVITATION_STATUSES, Invitation


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    invitations = arguments.add_command(
        commands,
        "invitations",
        service,
        run,
        "list your provider's invitations and whether each was accepted",
        "List the invitations your provider had the service send (at most 100, newest "
        "first): open, accepted (the number published a handler you may see) or expired.",
        (
            ("rs invitations", "every invitation, newest first"),
            ("rs invitations --status accepted --json", "those accepted, as JSON"),
        ),
    )
    invitations.add_argument("--status", choices=INVITATION_STATUSES, help="only these")
    invitations.add_argument("--json", action="store_true", help="print JSON, for scripts")


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    listed = ctx.client.invitations(args.status)
    if args.json:
        show_json({"invitations": [asdict(invitation) for invitation in listed]})
        return EXIT_OK
    if not listed:
        show(f"no {args.status + ' ' if args.status else ''}invitations")
        return EXIT_OK
    show("\n".join([f"{len(listed)} invitations:", *(_line(i) for i in listed)]))
    return EXIT_OK


def _line(invitation: Invitation) -> str:
    when = f"{invitation.created_at:%Y-%m-%d %H:%M %Z}"
    state = invitation.status
    if invitation.accepted_at is not None:
        state += f" {invitation.accepted_at:%Y-%m-%d %H:%M %Z} (handler's "
        state += f"{entry_text(invitation.handler_log_index)})"
    elif invitation.status == "open":
        state += f" until {invitation.expires_at:%Y-%m-%d %H:%M %Z}"
    return (
        f"  {invitation.id} {invitation.to} to {invitation.service} from {invitation.inviter}, "
        f"sent {when}, SMS {invitation.sms}: {state}"
    )
