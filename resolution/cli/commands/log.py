"""``rs log audit URL --key VERIFIER``: download the whole log and recompute its Merkle tree
(``resolution.client.audit``); with ``--state``, only what was appended since the last audit.

The auditor needs no API key and no config folder: it reads the log's public tiles only.  Its
checkpoint is held to the witness policy given (``--witness-policy``, ``$RS_WITNESS_POLICY``),
else to the one the log serves, recorded in the state file: a missed quorum exits 6, a log
inconsistent with the last audit's checkpoint (a split view) 7.
"""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path

from resolution.cli import arguments
from resolution.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_QUORUM_MISSED, EXIT_SPLIT_VIEW
from resolution.cli.output import info, progress, show
from resolution.client.audit import AuditError, AuditQuorumError, AuditSplitViewError, audit_log
from resolution.client.parallel import DEFAULT_WORKERS
from resolution.client.transport import DEFAULT_TIMEOUT


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
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
            "with it (if not, a split view: exit 7). The checkpoint must meet the witness "
            "policy (exit 6): the one given, else the one the log serves, which must be the one "
            "recorded in the state file."
        ),
    )
    audit.add_argument("url", metavar="URL", help="the log's base URL, e.g. https://host/log/")
    audit.add_argument(
        "--key",
        required=True,
        type=arguments.verifier,
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
        "--witness-policy",
        metavar="FILE",
        help=(
            "the witness policy the checkpoint must meet (default: $RS_WITNESS_POLICY, else "
            "the one the log serves, which --state records)"
        ),
    )
    audit.add_argument(
        "--workers",
        type=arguments.positive_int,
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
    audit.set_defaults(run=run, needs_service=False)


def run(args: argparse.Namespace) -> int:
    policy = arguments.witness_policy(args.witness_policy or os.environ.get("RS_WITNESS_POLICY"))
    try:
        with progress("entries checked") as bar:
            report = audit_log(
                args.url,
                args.key,
                state_path=args.state,
                policy=policy,
                workers=args.workers,
                timeout=args.timeout,
                progress=bar,
            )
    except AuditError as exc:
        if isinstance(exc, AuditSplitViewError):
            info(f"audit FAILED: SPLIT VIEW: {exc}")
            return EXIT_SPLIT_VIEW
        info(f"audit FAILED: {exc}")
        return EXIT_QUORUM_MISSED if isinstance(exc, AuditQuorumError) else EXIT_FAILED
    kinds = ", ".join(f"{kind} {count}" for kind, count in report.kinds.items()) or "none"
    lines = [
        f"audit OK: {report.origin}",
        f"  tree size  {report.size}",
        f"  root hash  {base64.b64encode(report.root_hash).decode()}",
        f"  checked    {report.entries_checked} entries, {report.tiles_checked} hash tiles",
        f"  kinds      {kinds}",
        f"  checkpoint {report.witnessing}",
        f"  time       {report.seconds:.1f} s",
    ]
    if report.previous_size is not None:
        lines.append(f"  consistent with previous checkpoint of size {report.previous_size}")
    if args.state is not None:
        lines.append(f"  state saved to {args.state}")
    show("\n".join(lines))
    return EXIT_OK
