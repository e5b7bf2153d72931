"""``rs log audit [URL] [--key VERIFIER]``: download the whole log and recompute its Merkle
tree (``resolution.client.audit``); with ``--state``, only what was appended since the last
audit.

The log is ``$RS_URL``'s (``$RS_URL/log/``) unless a URL is given, and its key the one pinned
for that service in the config folder (``rs lookup`` and the other commands pin it on first
use) unless ``--key`` gives one.  The auditor needs no API key: it reads the log's public
tiles only.  Its checkpoint is held to the witness policy given (``--witness-policy``,
``$RS_WITNESS_POLICY``), else to the one the log serves, recorded in the state file: a missed
quorum exits 6, a log inconsistent with the last audit's checkpoint (a split view) 7, a log
that cannot be reached 4.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
from pathlib import Path
from typing import Any, Final

from resolution.cli import arguments
from resolution.cli.exits import (
    EXIT_FAILED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_QUORUM_MISSED,
    EXIT_SPLIT_VIEW,
    UsageError,
)
from resolution.cli.output import info, progress, show, show_json
from resolution.cli.promises import promises_report
from resolution.client.api import Client
from resolution.client.audit import (
    AuditError,
    AuditNetworkError,
    AuditQuorumError,
    AuditReport,
    AuditSplitViewError,
    audit_log,
)
from resolution.client.parallel import DEFAULT_WORKERS
from resolution.client.store import Store, config_dir
from resolution.client.transport import DEFAULT_TIMEOUT
from resolution.client.verify import PinnedService, PromiseReport
from resolution.protocol.note import Verifier, parse_verifier_key

# Where a service serves its tiled log: ``<service URL>/log/``.
LOG_PATH = re.compile(r"/log/?$")

EXAMPLES: Final = (
    (
        "rs log audit --state ~/.local/state/rs/audit.json",
        "the log of $RS_URL, with the key pinned for it; with the state, only what is new",
    ),
    (
        "rs log audit https://rs.example.net/log/ --key @rs.example.net.vkey --json",
        "another service's log, with the key its operator publishes",
    ),
)


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
            "recorded in the state file. A log that cannot be reached exits 4."
        ),
        epilog=arguments.epilog(EXAMPLES),
        formatter_class=arguments.HelpFormatter,
    )
    audit.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="the log's base URL, e.g. https://host/log/ (default: $RS_URL/log/)",
    )
    audit.add_argument(
        "--key",
        type=arguments.verifier,
        metavar="VERIFIER",
        help=(
            "the log's note verifier key <name>+<id>+<key>, or @FILE to read it from FILE "
            "(default: the key pinned for the service in the config folder)"
        ),
    )
    audit.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="where the pinned keys are (default: $RS_CONFIG_DIR or ~/.config/rs)",
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
    arguments.add_json(audit)
    audit.set_defaults(run=run, needs_service=False)


def log_url(given: str | None) -> str:
    """The log to audit: the URL given, else ``$RS_URL``'s."""
    if given:
        return given
    service = os.environ.get("RS_URL")
    if not service:
        raise UsageError("no log URL: give one, or set RS_URL to the service's")
    return service.rstrip("/") + "/log/"


def pinned_key(url: str, folder: Path | None) -> Verifier:
    """The note verifier key pinned for the service whose log is at ``url``."""
    service = LOG_PATH.sub("", url)
    store = Store(folder or config_dir())
    pinned = store.pinned_log(service) if service != url else None
    if pinned is None:
        raise UsageError(
            f"no log key pinned for {service}: pass --key (the key its operator publishes), "
            f"or pin it with a first 'rs lookup' against {service}"
        )
    return parse_verifier_key(pinned[0])


def run(args: argparse.Namespace) -> int:
    url = log_url(args.url)
    key = args.key or pinned_key(url, args.config_dir)
    policy = arguments.witness_policy(args.witness_policy or os.environ.get("RS_WITNESS_POLICY"))
    try:
        with progress("entries checked") as bar:
            report = audit_log(
                url,
                key,
                state_path=args.state,
                policy=policy,
                workers=args.workers,
                timeout=args.timeout,
                progress=bar,
            )
    except AuditError as exc:
        code = _failure_code(exc)
        split = "SPLIT VIEW: " if code == EXIT_SPLIT_VIEW else ""
        info(f"audit FAILED: {split}{exc}")
        if args.json:
            show_json({"ok": False, "url": url, "exit_code": code, "error": str(exc)}, indent=None)
        return code
    promised = _promises(url, args)
    failed = promised is not None and bool(promised[0].broken)
    if args.json:
        document = _document(url, report, args.state)
        show_json(document | ({"promises": promised[1]} if promised is not None else {}))
        return EXIT_FAILED if failed else EXIT_OK
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
    if promised is not None:
        held = promised[0]
        lines.append(
            f"  promises   {len(held.kept)} kept, {len(held.pending)} pending, "
            f"{len(held.broken)} broken"
        )
    show("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def _promises(url: str, args: argparse.Namespace) -> tuple[PromiseReport, dict[str, Any]] | None:
    """The promises this config folder holds for the service whose log is at ``url``, checked
    against its JSON API (``rs monitor`` does the same); None when it holds none."""
    service = LOG_PATH.sub("", url).rstrip("/")
    store = Store(args.config_dir or config_dir())
    if service == url.rstrip("/") or not store.promises_held(service):
        return None
    with Client(service, timeout=args.timeout) as client:
        return promises_report(PinnedService(client, store, notify=info))


def _failure_code(failure: AuditError) -> int:
    if isinstance(failure, AuditSplitViewError):
        return EXIT_SPLIT_VIEW
    if isinstance(failure, AuditQuorumError):
        return EXIT_QUORUM_MISSED
    if isinstance(failure, AuditNetworkError):
        return EXIT_NETWORK
    return EXIT_FAILED


def _document(url: str, report: AuditReport, state: Path | None) -> dict[str, Any]:
    return {
        "ok": True,
        "url": url,
        "origin": report.origin,
        "size": report.size,
        "root_hash": base64.b64encode(report.root_hash).decode(),
        "entries_checked": report.entries_checked,
        "tiles_checked": report.tiles_checked,
        "kinds": report.kinds,
        "witnessed": report.witnessing.witnessed,
        "quorum": report.witnessing.quorum,
        "cosigned_by": list(report.witnessing.cosigned),
        "previous_size": report.previous_size,
        "state": str(state) if state is not None else None,
        "seconds": round(report.seconds, 3),
    }
