"""``rs login``: keep the API key of the service (``RS_URL``, given by ``RS_API_KEY`` or
``--api-key``) in the config folder, after checking it with the service (``GET /v1/me``).

Later commands use the key kept for the service when no key is given; and a lookup that another
service refers elsewhere uses the key kept for *that* service, never this one's
(``resolution.client.federation``): to look up numbers other services serve, log in to each.
"""

from __future__ import annotations

import argparse

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import show, show_json


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    login = arguments.add_command(
        commands,
        "login",
        service,
        run,
        "keep the service's API key in the config folder",
        "Check the API key given (RS_API_KEY or --api-key) with the service at RS_URL, and "
        "keep it in the config folder for that service: commands use it when no key is given, "
        "and lookups referred to that service by another one use it.",
        (
            ("RS_URL=https://rs.example.fr RS_API_KEY=rs_live_… rs login", "keep its key"),
            (
                "rs login --url https://rs.example.us --api-key rs_live_… --json",
                "keep another service's key, for the lookups referred to it",
            ),
        ),
    )
    arguments.add_json(login)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if not ctx.api_key_given:
        raise UsageError("give the API key to keep: set RS_API_KEY or pass --api-key")
    caller = ctx.client.me()
    path = ctx.store.api_key_save(ctx.url, ctx.api_key or "")
    if args.json:
        show_json({"url": ctx.url, "provider": caller.provider, "scope": caller.scope})
    else:
        show(
            f"kept the API key {caller.key_prefix}… of {caller.provider} ({caller.scope}) "
            f"for {ctx.url} in {path}"
        )
    return EXIT_OK
