"""The arguments ``rs`` commands share: the service options, and the types that parse a
number, a priority, a log key or a file.

Public API: ``Commands``, ``SEE_HELP``, ``HelpFormatter``, ``epilog``, ``service_options``,
``add_command``, ``add_json``, ``number``,
``priority``, ``positive_int``, ``serial``, ``request_id``, ``verifier``, ``witness_policy``,
``read_input``, ``token``, ``listen_address``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, TypeAlias

from resolution.cli.exits import UsageError
from resolution.client.transport import DEFAULT_TIMEOUT
from resolution.client.witness import parse_listen
from resolution.protocol.directory import MAX_PRIORITY
from resolution.protocol.entries import SERIAL_HEX
from resolution.protocol.note import NoteError, Verifier, parse_verifier_key
from resolution.protocol.numbers import E164
from resolution.protocol.policy import Policy, PolicyError, parse_policy

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""Where a command module adds its parser (``add_subparsers``)."""

SEE_HELP: Final = "Exit codes and environment variables: see 'rs --help'."

Example: TypeAlias = tuple[str, str]
"""An invocation of a command, and what it does: a line of its help's examples."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps a command's description to the terminal, and keeps the lines of a text written
    in lines (the examples, the exit codes) as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def epilog(examples: Sequence[Example]) -> str:
    """The end of a command's help: its examples, then where exit codes are explained."""
    if not examples:
        return SEE_HELP
    lines = ["examples:"]
    for invocation, what in examples:
        lines += [f"  {invocation}", f"      {what}"]
    return "\n".join(lines) + "\n\n" + SEE_HELP + "\n"


def service_options() -> argparse.ArgumentParser:
    """Options of every command that talks to the service (parent parser)."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("service")
    group.add_argument("--url", metavar="URL", help="the service's base URL (default: $RS_URL)")
    group.add_argument(
        "--api-key", metavar="KEY", help="the provider's API key (default: $RS_API_KEY)"
    )
    group.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="keys, certificates, pins (default: $RS_CONFIG_DIR or ~/.config/rs)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"HTTP timeout (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--witness-policy",
        metavar="FILE",
        help=(
            "the witness policy the log's checkpoints must meet (default: "
            "$RS_WITNESS_POLICY, else the one the service served first, pinned)"
        ),
    )
    return options


def witness_policy(path: str | None) -> Policy | None:
    """The witness policy in file ``path`` (``resolution.protocol.policy``), if one is given."""
    if not path:
        return None
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read witness policy {path}: {exc}") from None
    try:
        return parse_policy(text)
    except PolicyError as exc:
        raise UsageError(f"{path} is not a witness policy: {exc}") from None


def add_command(
    commands: Commands,
    name: str,
    service: argparse.ArgumentParser,
    run: Callable[..., int],
    help_text: str,
    description: str,
    examples: Sequence[Example] = (),
) -> argparse.ArgumentParser:
    """Add command ``name``, with the ``service`` options, run by ``run(args, context)``, its
    help ending with ``examples``."""
    command = commands.add_parser(
        name,
        parents=[service],
        help=help_text,
        description=description,
        epilog=epilog(examples),
        formatter_class=HelpFormatter,
    )
    command.set_defaults(run=run, needs_service=True)
    return command


def add_json(command: argparse.ArgumentParser) -> None:
    """``--json``: the result as one JSON document on standard output, for scripts."""
    command.add_argument("--json", action="store_true", help="print JSON, for scripts")


def number(value: str) -> str:
    """An E.164 number (``resolution.protocol.numbers``); spaces and dashes are dropped."""
    typed = "".join(value.replace("-", " ").split())
    if E164.fullmatch(typed):
        return typed
    if typed.startswith("+0") and E164.fullmatch("+1" + typed[2:]):
        raise argparse.ArgumentTypeError(f"{value!r}: no country code starts with 0")
    raise argparse.ArgumentTypeError(
        f"{value!r} is not an E.164 number: '+', the country code, the number"
    )


def priority(value: str) -> int:
    """A handler's priority: 0 to 65535, lower first."""
    try:
        chosen = int(value)
    except ValueError:
        chosen = -1
    if not 0 <= chosen <= MAX_PRIORITY:
        raise argparse.ArgumentTypeError(f"{value!r} is not a priority from 0 to {MAX_PRIORITY}")
    return chosen


def positive_int(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return count


def serial(value: str) -> str:
    """A certificate serial, in hex (as ``rs monitor`` and the log show it)."""
    typed = value.strip().lower()
    if not SERIAL_HEX.fullmatch(typed):
        raise argparse.ArgumentTypeError(f"{value!r} is not a certificate serial (hex digits)")
    return typed


def request_id(value: str) -> str:
    """A certificate request's id: a UUID (as ``rs requests`` shows it)."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a request id (a UUID)") from None


def verifier(value: str) -> Verifier:
    """A note verifier key ``<name>+<id>+<key>``, or ``@FILE`` holding one."""
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]}: {exc}") from None
    try:
        return parse_verifier_key(value.strip())
    except NoteError as exc:
        raise argparse.ArgumentTypeError(f"invalid verifier key: {exc}") from None


def read_input(path: str, what: str) -> bytes:
    """The bytes of ``path``, or of standard input for "-"."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def token(value: str) -> str:
    """A compact token given on the command line, or on standard input for "-"."""
    given = sys.stdin.read() if value == "-" else value
    return given.strip()


def listen_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` where a command serves (``[::1]:PORT`` for IPv6; port 0: any free one)."""
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
