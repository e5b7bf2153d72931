"""``rs lookup NUMBER [--service SERVICE] [--json]``: look a number up, and print its handlers
only once the answer verified against the log keys pinned for the service, and its checkpoint
against the witness policy (pinned, or ``--witness-policy``): one that misses the quorum is
refused (exit 6), one the policy asks no quorum of is shown as unwitnessed.

A number another service serves is looked up there (``resolution.client.federation``): straight
away when the map kept (``rs map sync``) names that service, else by following the service's
one referral; that service's answer is verified against its own pinned keys, and the API key
kept for it (``rs login``) is the one sent."""

from __future__ import annotations

import argparse
import base64
from typing import Any

from resolution.cli import arguments
from resolution.cli.context import Context
from resolution.cli.exits import EXIT_OK
from resolution.cli.output import entry_text, show, show_json
from resolution.client.federation import FoundLookup
from resolution.client.verify import VerificationError, WitnessQuorumError
from resolution.protocol.lookup import (
    LookupQuorumError,
    LookupVerificationError,
    VerifiedHandler,
)


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    lookup = arguments.add_command(
        commands,
        "lookup",
        service,
        run,
        "look a number up, and verify the answer",
        "Look NUMBER up and print its handlers, only after the answer verified against "
        "the log keys pinned for the service (its VRF label, the signed checkpoint, every "
        "commitment and inclusion proof), and its checkpoint against the witness policy: "
        "one cosigned by too few of its witnesses is refused (exit 6).",
        (
            ("rs lookup +33612345678", "the number's handlers, verified against the log"),
            (
                "rs lookup +33612345678 --service messaging --json",
                "its messaging handlers only, as JSON for a script",
            ),
        ),
    )
    lookup.add_argument("number", type=arguments.number, metavar="NUMBER")
    lookup.add_argument("--service", metavar="SERVICE", help="only this service")
    lookup.add_argument("--json", action="store_true", help="print JSON, for scripts")


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.needs_api_key()
    try:
        found = ctx.services.lookup(args.number, args.service)
    except LookupVerificationError as exc:
        if args.json:
            show_json({"number": args.number, "verified": False, "error": str(exc)}, indent=None)
        if isinstance(exc, LookupQuorumError):
            raise WitnessQuorumError(
                f"the answer for {args.number} is refused: {exc}", exc.missing
            ) from None
        raise VerificationError(f"the answer for {args.number} does not verify: {exc}") from None
    if args.json:
        show_json(_document(found))
    else:
        show(_text(found))
    return EXIT_OK


def _handler_json(handler: VerifiedHandler) -> dict[str, Any]:
    return {
        "provider": handler.provider,
        "service": handler.service,
        "uri": handler.uri,
        "priority": handler.priority,
        "expires_at": handler.expires_at,
        "certificate": handler.certificate,
        "log_index": handler.log_index,
    }


def _document(found: FoundLookup) -> dict[str, Any]:
    verified = found.lookup
    checkpoint = verified.checkpoint
    witnessing = verified.witnessing
    return {
        "number": verified.number,
        "verified": True,
        "label": verified.label.hex(),
        "checkpoint": None
        if checkpoint is None
        else {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
            "witnessed": witnessing.witnessed,
            "quorum": witnessing.quorum,
            "cosigned_by": list(witnessing.cosigned),
        },
        "handlers": [_handler_json(h) for h in verified.handlers],
        "pending": [_handler_json(h) for h in verified.pending],
        "served_by": found.url if verified.served else None,
        "asked": found.url,
        "referred_by": found.referred_by,
        "via_map": found.via_map,
        "also_claimed_by": [referral.url for referral in verified.referrals],
    }


def _text(found: FoundLookup) -> str:
    verified = found.lookup
    checkpoint = verified.checkpoint
    where = (
        "no checkpoint yet"
        if checkpoint is None
        else (f"checkpoint {checkpoint.origin} of size {checkpoint.size} ({verified.witnessing})")
    )
    lines = [f"{verified.number}: verified against {where}"]
    if found.referred_by is not None:
        lines.append(f"  served by {found.url}, to which {found.referred_by} referred the lookup")
    elif found.via_map:
        lines.append(f"  served by {found.url}, as the kept map says")
    if not verified.served and verified.referrals:
        others = ", ".join(referral.url for referral in verified.referrals)
        lines.append(
            f"  {found.url} does not serve this number: it refers to {others} "
            f"(not followed: one referral at most)"
        )
    elif not verified.served:
        lines.append(f"  {found.url} does not serve this number, and knows no service that does")
    elif verified.referrals:
        others = ", ".join(referral.url for referral in verified.referrals)
        lines.append(f"  CONFLICT: {others} also claims this number; its operators must settle it")
    ordered = sorted(verified.handlers, key=lambda h: (h.service, h.priority, h.provider))
    for handler in ordered:
        lines.append(
            f"  {handler.service:<10} {handler.uri}  priority {handler.priority}, by "
            f"{handler.provider}, until {handler.expires_at} ({entry_text(handler.log_index)})"
        )
    for handler in verified.pending:
        lines.append(
            f"  {handler.service:<10} {handler.uri}  priority {handler.priority}, by "
            f"{handler.provider}: PENDING, logged but in no checkpoint yet; look up again"
        )
    if not verified.handlers and not verified.pending:
        lines.append("  no handlers")
    return "\n".join(lines)
