"""The ``rs`` command line: commands for number holders, callers and auditors."""

from resolution.cli.main import main

__all__ = ["main"]
