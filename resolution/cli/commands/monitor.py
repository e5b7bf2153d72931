"""``rs monitor NUMBER``: watch the log for changes under the number's label, for
certificates of the number whose key was not made here, for requests for such a certificate
that a number lock holds back, and for handlers that a certificate not the holder's authorised
(``resolution.client.monitor``).  Version-2 entries are read from the number's history, asked
for with the stored certificate's key.  Each alert says what to do: refuse a request
(``rs refuse``), lock the number and dispute a foreign certificate (``rs lock``,
``rs dispute``).

Before reading entries, the log's checkpoint must meet the witness policy (exit 6 if it does
not) and extend the newest one kept of the service's log (``PinnedService.tree_pin``): a tree
that does not is a split view, reported loudly with exit 7."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_FAILED, EXIT_OK, UsageError
from resolution.cli.output import info, progress, show, show_json
from resolution.cli.promises import promises_report
from resolution.client.api import NumberHistory, history_token
from resolution.client.monitor import MonitorReport, MonitorState, monitor_log
from resolution.client.parallel import DEFAULT_WORKERS
from resolution.client.store import Credentials, StoreError
from resolution.client.verify import PromiseReport
from resolution.protocol.checkpoint import Checkpoint
from resolution.protocol.witnessed import Witnessing


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    monitor = arguments.add_command(
        commands,
        "monitor",
        service,
        run,
        "watch the log for changes to a number, and certificates you did not ask for",
        "Read the log entries appended since the last run (all of them the first time), "
        "check they hash to the signed checkpoint, and report every certificate and handler "
        "change under NUMBER's label, opening each entry with the number's history (signed "
        "with the certificate stored here). A certificate whose key was not made here "
        "(someone else answered an SMS challenge for the number) makes it exit 1, run after "
        "run, until it is revoked or expires, or you --accept it; so does a pending request "
        "for such a certificate that your lock holds back (until it is refused, approved or "
        "issued), a handler authorised by a certificate that is not yours, or an entry that "
        "cannot be opened. Locks, requests and disputes are shown with their meaning. The "
        "checkpoint must meet the witness policy (exit 6), and extend the newest one seen of "
        "the log, with a consistency proof: a tree that does not is a split view (exit 7).",
        (
            ("rs monitor +33612345678", "what the log holds about the number since the last run"),
            (
                "rs monitor +33612345678 --json || alert-oncall",
                "in a timer: exit 1 when a certificate or request is not yours",
            ),
        ),
    )
    monitor.add_argument("number", type=arguments.number, metavar="NUMBER")
    monitor.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="SERIAL",
        help="a certificate with another key that is yours after all (repeatable)",
    )
    monitor.add_argument(
        "--workers",
        type=arguments.positive_int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"parallel downloads (default {DEFAULT_WORKERS})",
    )
    monitor.add_argument("--json", action="store_true", help="print JSON, for scripts")


def run(args: argparse.Namespace, ctx: Context) -> int:
    number: str = args.number
    own_keys = ctx.store.own_public_keys(number)
    if not own_keys:
        raise UsageError(
            f"no key of {number} was made in {ctx.store.root}: every certificate would look "
            f"foreign; run 'rs register {number}' here, or monitor where you registered"
        )
    ctx.pinned.log_keys()
    ctx.needs_api_key()
    saved = ctx.store.monitor_state(number)
    previous = MonitorState.from_json(saved) if saved is not None else None
    label = previous.label if previous is not None else ctx.pinned.label(number)
    found = ctx.pinned.checkpoint()
    if found is None:
        if args.json:
            empty = {"number": number, "from": 0, "size": 0, "flagged": False, "changes": []}
            show_json(empty)
        else:
            show(f"monitor {number}: the log is empty")
        return EXIT_OK
    checkpoint, note = found.checkpoint, found.note
    kept = ctx.pinned.tree_pin(found)  # a split view fails the run, loudly (exit 7)
    credentials = _credentials(ctx, number)
    with progress("entries scanned") as bar:
        report = monitor_log(
            checkpoint=checkpoint,
            note=note,
            label=label,
            own_keys=own_keys,
            fetch=ctx.client.log_entry_bundle,
            previous=previous,
            accept=args.accept,
            workers=args.workers,
            progress=bar,
            number=number,
            history=_history(ctx, credentials) if credentials is not None else None,
            own_serials=(credentials.serial,) if credentials is not None else (),
        )
    ctx.store.monitor_state_save(number, report.state.to_json())
    promised, promises = promises_report(ctx.pinned)
    if args.json:
        show_json(_document(number, report, found.witnessing, kept) | {"promises": promises})
    else:
        show(_text(number, report, found.witnessing, kept) + _promises_text(promised))
    for request in report.requests:
        info(
            f"rs monitor: ALERT: certificate request {request.request} for {number} (log "
            f"entry {request.index}, by {request.provider}) is for a key that is not yours: "
            f"someone answered an SMS challenge for the number, and your lock holds the "
            f"certificate back until {request.issues_at}. Refuse it with "
            f"'rs refuse {request.request}'; if it is an app of yours, approve it with "
            f"'rs approve {request.request}'"
        )
    for foreign in report.outstanding:
        info(
            f"rs monitor: ALERT: certificate {foreign.serial} for {number} (log entry "
            f"{foreign.index}, by {foreign.provider}, until {foreign.not_after}) holds a key "
            f"that is not yours: someone else answered an SMS challenge for the number. Lock "
            f"your number with 'rs lock {number}' and dispute the certificate with "
            f"'rs dispute {foreign.serial} --number {number}'; if it is yours after all, run "
            f"'rs monitor {number} --accept {foreign.serial}'"
        )
    for intruder in report.intruders:
        info(
            f"rs monitor: ALERT: handler {intruder.service} for {number} (log entry "
            f"{intruder.index}, by {intruder.provider}) was authorised by certificate "
            f"{intruder.certificate}, which is not yours"
        )
    for change in report.changes:
        if change.unopened is not None:
            info(
                f"rs monitor: ALERT: log entry {change.index} is about {number} but cannot be "
                f"read: {change.unopened}"
            )
    return EXIT_FAILED if report.flagged or promised.broken else EXIT_OK


def _promises_text(report: PromiseReport) -> str:
    if not (report.kept or report.pending or report.broken):
        return ""
    return (
        f"\n  promises: {len(report.kept)} kept, {len(report.pending)} pending, "
        f"{len(report.broken)} broken"
    )


def _credentials(ctx: Context, number: str) -> Credentials | None:
    """The stored certificate and key, or None (with why) when there are none to sign with."""
    try:
        return ctx.store.credentials(number)
    except StoreError as error:
        info(f"rs monitor: the number's history cannot be asked for: {error}")
        return None


def _history(ctx: Context, credentials: Credentials) -> NumberHistory | None:
    """The number's history, asked for with the stored certificate; None when it cannot sign
    (revoked or expired: then each version-2 entry under the label is reported unreadable)."""
    number = credentials.number
    if credentials.revoked or credentials.certificate.not_valid_after_utc <= datetime.now(UTC):
        info(
            f"rs monitor: the certificate {credentials.serial} of {number} is revoked or "
            f"expired, so the number's history cannot be asked for: run "
            f"'rs register {number}' for a new one"
        )
        return None
    token = history_token(credentials.key, credentials.serial, number=number)
    return ctx.client.number_history(number, token)


def _document(
    number: str, report: MonitorReport, witnessing: Witnessing, kept: Checkpoint | None
) -> dict[str, Any]:
    return {
        "number": number,
        "from": report.previous_size,
        "size": report.size,
        "witnessed": witnessing.witnessed,
        "quorum": witnessing.quorum,
        "cosigned_by": list(witnessing.cosigned),
        "consistent_with": kept.size if kept is not None else None,
        "flagged": report.flagged,
        "changes": [
            {
                "index": c.index,
                "kind": c.kind,
                "provider": c.provider,
                "serial": c.serial,
                "service": c.service,
                "reason": c.reason,
                "not_after": c.not_after,
                "certificate": c.certificate,
                "request": c.request,
                "issues_at": c.issues_at,
                "dispute": c.dispute,
                "disputed": c.disputed,
                "foreign": c.foreign,
                "intruder": c.intruder,
                "unopened": c.unopened,
            }
            for c in report.changes
        ],
        "outstanding": [asdict(f) for f in report.outstanding],
        "intruders": [asdict(h) for h in report.intruders],
        "requests": [asdict(r) for r in report.requests],
    }


def _text(
    number: str, report: MonitorReport, witnessing: Witnessing, kept: Checkpoint | None
) -> str:
    new = report.size - report.previous_size
    lines = [
        f"monitor {number}: log entries {report.previous_size}-{report.size - 1} checked "
        f"({new} new), they hash to the signed checkpoint",
    ]
    if new == 0:
        lines[0] = f"monitor {number}: no new log entries (tree size {report.size})"
    lines.append(f"  checkpoint {witnessing}")
    if kept is not None:
        lines.append(f"  the log's tree extends the one of size {kept.size} seen before")
    lines += [f"  entry {c.index}: {c.describe()}" for c in report.changes]
    if not report.changes and new:
        lines.append("  no changes for this number")
    return "\n".join(lines)
