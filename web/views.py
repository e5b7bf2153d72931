"""Pages for people: the landing page and the log explorer.

Server-rendered and readable without JavaScript. The scripts they load (``web/static/web``)
only check what the pages show, in the browser: the checkpoint's signature and each entry's
inclusion proof, and look a number's label up with the visitor's API key. Views parse, call
selectors, render; each counts against its client's page rate (``web.throttling``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.encoding import b64
from core.guides import guide_rendered, guides
from resolution.protocol.checkpoint import MAX_TREE_SIZE, CheckpointError, parse_checkpoint
from resolution.protocol.entries import EntryField
from resolution.protocol.note import NoteError, parse_note
from transparency import selectors
from transparency.keys import log_keys
from web.figures import EXPLORER_PERIODS, log_figures
from web.throttling import throttled

PAGE_SIZE = 50
RECENT = 10
SUMMARY_FIELDS = (
    EntryField.PROVIDER,
    EntryField.SERVICE,
    EntryField.SERIAL,
    EntryField.REASON,
    # An advertisement's (DESIGN §7.4): the blocks this service serves, and its URL.
    EntryField.RANGES,
    EntryField.URL,
)

SUMMARY_RANGES = 3


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: str
    signature: str


@dataclass(frozen=True)
class CheckpointShown:
    """The latest checkpoint as the pages show it."""

    origin: str
    size: int
    root_base64: str
    root_hex: str
    created_at: Any
    note: str
    note_base64: str
    signatures: list[SignatureLine]


def _checkpoint_shown(checkpoint: selectors.ServedCheckpoint | None) -> CheckpointShown | None:
    if checkpoint is None:
        return None
    note = checkpoint.note.encode()
    try:
        parsed = parse_note(note)
        origin = parse_checkpoint(parsed.text).origin
    except (NoteError, CheckpointError):  # our own signed notes: never expected
        parsed, origin = None, ""
    root = bytes(checkpoint.root_hash)
    return CheckpointShown(
        origin=origin,
        size=checkpoint.size,
        root_base64=b64(root),
        root_hex=root.hex(),
        created_at=checkpoint.created_at,
        note=checkpoint.note,
        note_base64=b64(note),
        signatures=[
            SignatureLine(s.name, s.key_id.hex(), b64(s.signature))
            for s in (parsed.unverified if parsed else ())
        ],
    )


def _keys() -> dict[str, str]:
    keys = log_keys()
    return {
        "origin": keys.signer.name,
        "note_verifier_key": keys.note_verifier_key,
        "vrf_public_key": b64(keys.vrf_public_key),
    }


@dataclass(frozen=True)
class EntryShown:
    """One entry as the pages list it: its fields when it is JSON (all of them: a version-2
    entry's are its kind, label, commitment and reason), a short summary."""

    index: int
    kind: str
    created_at: Any
    leaf_hash: str
    data: bytes
    fields: dict[str, Any] | None
    integrated: bool

    @property
    def summary(self) -> str:
        """What the entry shows, shortly: a version-2 entry its reason (if any), label and
        commitment, an advertisement its ranges (the first few), URL and digest; a version-1
        entry its provider, service, serial, reason and label."""
        if not self.fields:
            return ""
        parts = [
            f"{name} {_shortened(name, self.fields[name])}"
            for name in SUMMARY_FIELDS
            if name in self.fields
        ]
        for name in (EntryField.LABEL, EntryField.COMMITMENT, EntryField.ADVERTISEMENT_SHA256):
            value = self.fields.get(name)
            if isinstance(value, str):
                parts.append(f"{name} {value[:12]}…")
        return ", ".join(str(part) for part in parts)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def pretty(self) -> str:
        return json.dumps(self.fields, indent=2, ensure_ascii=False) if self.fields else self.text


def _shortened(name: str, value: Any) -> Any:
    """An advertisement's ranges, the first three and how many there are."""
    if name != EntryField.RANGES or not isinstance(value, str):
        return value
    blocks = value.split(" ")
    shown = " ".join(blocks[:SUMMARY_RANGES])
    return shown if len(blocks) <= SUMMARY_RANGES else f"{shown} … ({len(blocks)} blocks)"


def _entry_shown(entry: selectors.EntryStored, size: int) -> EntryShown:
    try:
        fields = json.loads(entry.data)
    except ValueError:
        fields = None
    return EntryShown(
        index=entry.index,
        kind=entry.kind,
        created_at=entry.created_at,
        leaf_hash=b64(entry.leaf_hash),
        data=entry.data,
        fields=fields if isinstance(fields, dict) else None,
        integrated=entry.index < size,
    )


@require_GET
@throttled
def home(request: HttpRequest) -> HttpResponse:
    """What the service is, the log's keys, and where to go next."""
    context = {
        "keys": _keys(),
        "checkpoint": _checkpoint_shown(selectors.checkpoint_served()),
        # The tiles' base URL, as `rs log audit` takes it.
        "log_url": request.build_absolute_uri(reverse("log-key")).removesuffix("key"),
    }
    return render(request, "web/home.html", context)


@require_GET
@throttled
def explorer(request: HttpRequest) -> HttpResponse:
    """The latest checkpoint, the log's growth and kinds, the newest entries, the label box."""
    period = EXPLORER_PERIODS.get(request.GET.get("period", ""), EXPLORER_PERIODS["30d"])
    checkpoint = _checkpoint_shown(selectors.checkpoint_served())
    size = checkpoint.size if checkpoint else 0
    context = {
        "keys": _keys(),
        "checkpoint": checkpoint,
        "figures": log_figures(period),
        "period": period,
        "periods": list(EXPLORER_PERIODS.values()),
        "recent": [_entry_shown(e, size) for e in selectors.entries_before(end=size, count=RECENT)],
    }
    return render(request, "web/explorer.html", context)


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) <= 19 else None


@require_GET
@throttled
def entries(request: HttpRequest) -> HttpResponse:
    """The log's entries, newest first, ``PAGE_SIZE`` a page; ``?index=`` jumps to one."""
    wanted = _int_param(request, "index")
    if wanted is not None:
        return redirect("web-entry", index=wanted)
    size = selectors.tree_size()
    before = _int_param(request, "before")
    end = size if before is None else min(before, size)
    rows = [_entry_shown(e, size) for e in selectors.entries_before(end=end, count=PAGE_SIZE)]
    context = {
        "size": size,
        "entries": rows,
        "first": end - len(rows),
        "last": end - 1,
        "newer": min(end + PAGE_SIZE, size) if end < size else None,
        "older": end - PAGE_SIZE if end - PAGE_SIZE > 0 else None,
    }
    return render(request, "web/entries.html", context)


@require_GET
@throttled
def entry(request: HttpRequest, index: int) -> HttpResponse:
    """One entry, its inclusion proof in the latest checkpoint, and the in-browser check."""
    stored = selectors.entry_at(index=index) if index < MAX_TREE_SIZE else None
    if stored is None:
        return render(
            request,
            "web/not_found.html",
            {"what": f"The log has no entry {index}."},
            status=404,
        )
    checkpoint = _checkpoint_shown(selectors.checkpoint_served())
    size = checkpoint.size if checkpoint else 0
    shown = _entry_shown(stored, size)
    proof: list[str] = []
    if shown.integrated:
        _, hashes = selectors.inclusion_proof(index=index, size=size)
        proof = [b64(h) for h in hashes]
    context = {
        "entry": shown,
        "entry_base64": b64(stored.data),
        "proof": proof,
        "checkpoint": checkpoint,
        "keys": _keys(),
        "proof_url": reverse("log-inclusion-proof"),
        "checkpoint_url": reverse("log-static-checkpoint"),
        "entries_url": reverse("web-entries"),
    }
    return render(request, "web/entry.html", context)


@require_GET
@throttled
def guide_index(request: HttpRequest) -> HttpResponse:
    """The guides under docs/, with the API references beside them."""
    return render(request, "web/guides.html", {"guides": guides()})


@require_GET
@throttled
def guide(request: HttpRequest, name: str) -> HttpResponse:
    """One guide, rendered from its Markdown."""
    shown = guide_rendered(name)
    if shown is None:
        return render(
            request, "web/not_found.html", {"what": f"There is no guide {name!r}."}, status=404
        )
    return render(request, "web/guide.html", {"guide": shown.guide, "html": shown.html})
