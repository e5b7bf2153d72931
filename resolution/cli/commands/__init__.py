"""The ``rs`` commands, one module each, in the order ``rs --help`` lists them.

A command module has ``add_parser(commands, service)``, which adds its parser (with the
``service`` options if it talks to the service: ``arguments.add_command``), and ``run``,
which the parser names as its ``run`` default: ``run(args, context)`` for a command with
``needs_service``, ``run(args)`` otherwise.  A new command is a module, and a line here.
"""

from __future__ import annotations

import argparse
from typing import Final, Protocol

from resolution.cli.arguments import Commands
from resolution.cli.commands import (
    approve,
    dispute,
    invitations,
    invite,
    lock,
    log,
    login,
    lookup,
    monitor,
    passport,
    publish,
    refuse,
    register,
    remove,
    renew,
    requests,
    revoke,
    unlock,
    webhook,
    witness,
)
from resolution.cli.commands import map as map_command


class Command(Protocol):
    """What ``main`` needs of a command module."""

    def add_parser(self, commands: Commands, service: argparse.ArgumentParser) -> None: ...


COMMANDS: Final[tuple[Command, ...]] = (
    register,
    renew,
    publish,
    remove,
    revoke,
    lock,
    unlock,
    requests,
    approve,
    refuse,
    dispute,
    invite,
    invitations,
    lookup,
    map_command,
    passport,
    monitor,
    log,
    witness,
    webhook,
    login,
)
