"""``rs``: the command line of the resolution service, for apps, callers and auditors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from resolution import __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``rs`` argument parser; each feature adds its subcommands here."""
    parser = argparse.ArgumentParser(
        prog="rs",
        description=(
            "Client of the phone-number resolution service: look numbers up and verify the "
            "answers, and audit the service's transparency log."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rs {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rs`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
