"""``rs``: the command line of the resolution service, for apps, callers and auditors.

Number holders ``register`` a number (SMS challenge, then a certificate for a key made here),
``publish`` and ``remove`` handlers, sign PASSporTs, ``revoke`` and ``monitor`` the log for
certificates someone else obtained.  Callers ``lookup`` numbers and verify PASSporTs;
auditors ``log audit``.  Keys, certificates and pinned server keys live in the config folder
(``resolution.client.store``).  Every answer is verified before it is shown, by the SDK's
``resolution.client.verify``: lookups against the log keys pinned on first use, certificates
against the CA root pinned likewise.

Each command is a module of ``resolution.cli.commands``; this one builds the parser from
them and runs the one asked for, turning its failures into exit codes (``exits``).  A shell
completing ``rs`` (``eval "$(register-python-argcomplete rs)"``) runs it too: argcomplete
answers from the parser and exits before anything else runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Final

import argcomplete

from resolution import __version__
from resolution.cli.arguments import service_options
from resolution.cli.commands import COMMANDS
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_INTERRUPTED, EXIT_OK, REPORTED, exit_code, exit_codes_help
from resolution.cli.output import failure

ENVIRONMENT: Final = """\
environment:
  RS_URL         the service's base URL (--url), e.g. https://rs.example.net
  RS_API_KEY     the provider's API key (--api-key)
  RS_CONFIG_DIR  where keys, certificates and pinned server keys are kept (--config-dir);
                 default $XDG_CONFIG_HOME/rs or ~/.config/rs
  RS_WITNESS_POLICY
                 a witness policy file the log's checkpoints must meet (--witness-policy);
                 default: the policy the service served first, pinned in the config folder

shell completion (bash, zsh; fish: register-python-argcomplete --shell fish rs):
  eval "$(register-python-argcomplete rs)"     in ~/.bashrc or ~/.zshrc
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``rs`` argument parser, with a subcommand per module of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="rs",
        description=(
            "Client of the phone-number resolution service: register numbers and publish "
            "their handlers, look numbers up and verify the answers, sign and verify "
            "PASSporTs, monitor and audit the service's transparency log."
        ),
        epilog=f"{ENVIRONMENT}\n{exit_codes_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    service = service_options()
    for command in COMMANDS:
        command.add_parser(commands, service)
    return parser


def _run(args: argparse.Namespace) -> int:
    if not args.needs_service:
        return int(args.run(args))
    with Context.from_args(args) as ctx:
        return int(args.run(args, ctx))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rs`` console script; returns the exit code (``exits``).

    Errors are reported as one line on standard error, ``rs <command>: <what failed>``.
    """
    parser = build_parser()
    # Only when a shell asks for completions ($_ARGCOMPLETE set): it prints them and exits.
    argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    name = " ".join(
        part for part in (args.command, getattr(args, "passport_command", None)) if part
    )
    try:
        return _run(args)
    except REPORTED as exc:
        failure(name, exc)
        return exit_code(exc)
    except KeyboardInterrupt:
        failure(name, "interrupted")
        return EXIT_INTERRUPTED
