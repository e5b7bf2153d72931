"""``rs publish NUMBER SERVICE URI``: publish (or replace) your provider's handler of a
service for a number, signed with the number's stored key."""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import log_json, promise_text, show, show_json
from resolution.client.api import handler_put_token
from resolution.protocol.directory import MAX_PRIORITY, Service


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    publish = arguments.add_command(
        commands,
        "publish",
        service,
        run,
        "publish (or replace) a handler of a number",
        "Publish, signed with the number's stored key, that your provider handles SERVICE "
        "for NUMBER at URI. It replaces your provider's handler of that service.",
        (
            (
                "rs publish +33612345678 messaging sip:alice@chat.example",
                "your provider now handles messaging for the number, seen by every provider",
            ),
            (
                "rs publish +33612345678 voice sip:alice@pbx.example --priority 10 "
                "--visible-to acme-chat --json",
                "a voice handler only acme-chat sees, printed as JSON",
            ),
        ),
    )
    publish.add_argument("number", type=arguments.number, metavar="NUMBER")
    publish.add_argument("service", metavar="SERVICE", help=", ".join(Service))
    publish.add_argument("uri", metavar="URI", help="e.g. sip:alice@chat.example")
    publish.add_argument(
        "--priority",
        type=arguments.priority,
        default=0,
        help=f"0-{MAX_PRIORITY}, lower first (default 0)",
    )
    publish.add_argument(
        "--visible-to",
        nargs="+",
        metavar="PROVIDER",
        help="only these providers (slugs) see it (default: every provider)",
    )
    arguments.add_json(publish)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    credentials = ctx.credentials(args.number)
    visibility: str | list[str] = args.visible_to or "all"
    token = handler_put_token(
        credentials.key,
        credentials.serial,
        number=args.number,
        service=args.service,
        uri=args.uri,
        priority=args.priority,
        visibility=visibility,
    )
    handler = ctx.client.handler_put(args.number, args.service, token)
    promise = ctx.pinned.promise_hold(handler.log)
    if args.json:
        show_json(
            {
                "number": handler.number,
                "service": handler.service,
                "uri": handler.uri,
                "priority": handler.priority,
                "visibility": handler.visibility
                if isinstance(handler.visibility, str)
                else list(handler.visibility),
                "provider": handler.provider,
                "expires_at": handler.expires_at,
                "certificate": handler.certificate,
                "log": log_json(handler.log.leaf_hash, promise),
            }
        )
        return EXIT_OK
    shown = (
        handler.visibility if isinstance(handler.visibility, str) else ", ".join(handler.visibility)
    )
    show(
        f"published {handler.service} for {handler.number}: {handler.uri} "
        f"(priority {handler.priority}, visible to {shown}, by {handler.provider}); "
        f"{promise_text(promise, handler.log.leaf_hash)}"
    )
    return EXIT_OK
