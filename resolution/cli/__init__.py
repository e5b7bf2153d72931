# PYTHON_ARGCOMPLETE_OK (argcomplete's global completion completes `rs` by this mark)
"""The ``rs`` command line: commands for number holders, callers and auditors."""

from resolution.cli.main import main

__all__ = ["main"]
