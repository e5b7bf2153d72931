"""``rs``: the command line of the resolution service, for apps, callers and auditors."""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Sequence
from pathlib import Path

from resolution import __version__
from resolution.audit import DEFAULT_TIMEOUT, DEFAULT_WORKERS, AuditError, audit_log
from resolution.note import NoteError, Verifier, parse_verifier_key


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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_log_commands(commands)
    return parser


def _add_log_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    log = commands.add_parser(
        "log",
        help="check the service's transparency log",
        description="Check the service's append-only transparency log (C2SP tlog-tiles).",
    )
    log_commands = log.add_subparsers(dest="log_command", metavar="LOG_COMMAND", required=True)
    audit = log_commands.add_parser(
        "audit",
        help="download the whole log and recompute its Merkle tree",
        description=(
            "Download every entry of the log at URL, check each one, recompute the Merkle tree "
            "and compare it with the signed checkpoint and every hash tile. With --state, "
            "check only what was appended since the last audit, and that the log is consistent "
            "with it."
        ),
    )
    audit.add_argument("url", metavar="URL", help="the log's base URL, e.g. https://host/log/")
    audit.add_argument(
        "--key",
        required=True,
        type=_verifier_arg,
        metavar="VERIFIER",
        help="the log's note verifier key <name>+<id>+<key>, or @FILE to read it from FILE",
    )
    audit.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="audit state: read if it exists, replaced after a successful audit",
    )
    audit.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"parallel downloads (default {DEFAULT_WORKERS})",
    )
    audit.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"HTTP timeout (default {DEFAULT_TIMEOUT:g})",
    )
    audit.set_defaults(handler=_log_audit)


def _verifier_arg(value: str) -> Verifier:
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]}: {exc}") from None
    try:
        return parse_verifier_key(value.strip())
    except NoteError as exc:
        raise argparse.ArgumentTypeError(f"invalid verifier key: {exc}") from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def _show_progress(done: int, total: int) -> None:
    print(f"\r  {done}/{total} entries checked", end="", file=sys.stderr, flush=True)


def _log_audit(args: argparse.Namespace) -> int:
    progress = _show_progress if sys.stderr.isatty() else None
    try:
        report = audit_log(
            args.url,
            args.key,
            state_path=args.state,
            workers=args.workers,
            timeout=args.timeout,
            progress=progress,
        )
    except AuditError as exc:
        if progress is not None:
            print(file=sys.stderr)
        print(f"audit FAILED: {exc}", file=sys.stderr)
        return 1
    if progress is not None:
        print(file=sys.stderr)
    kinds = ", ".join(f"{kind} {count}" for kind, count in report.kinds.items()) or "none"
    lines = [
        f"audit OK: {report.origin}",
        f"  tree size  {report.size}",
        f"  root hash  {base64.b64encode(report.root_hash).decode()}",
        f"  checked    {report.entries_checked} entries, {report.tiles_checked} hash tiles",
        f"  kinds      {kinds}",
        f"  time       {report.seconds:.1f} s",
    ]
    if report.previous_size is not None:
        lines.append(f"  consistent with previous checkpoint of size {report.previous_size}")
    if args.state is not None:
        lines.append(f"  state saved to {args.state}")
    print("\n".join(lines))
    return 0


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
