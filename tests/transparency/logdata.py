"""Build logs for tests: committed appends and integrations, and an independent recomputation
of the tree."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from django.db import transaction

from resolution.protocol.entries import REASON_KINDS
from resolution.protocol.merkle import root_from_leaf_hashes
from tests.api_client import committed
from transparency.entries import AppendedEntry
from transparency.models import Checkpoint, Entry, EntryOpening
from transparency.services import log_append, log_integrate


def append_entries(count: int, *, kind: str = "test", start: int = 0) -> list[AppendedEntry]:
    """``count`` entries, each appended and committed in its own transaction."""
    appended = []
    for n in range(start, start + count):
        with committed(), transaction.atomic():
            appended.append(log_append(kind=kind, payload={"n": n}))
    return appended


def indices(values: Any) -> list[int]:
    """``values`` (entry indices), sorted, every one of them given."""
    found = list(values)
    assert None not in found, "an entry has no index yet"
    return sorted(int(value) for value in found)


def sequenced(appended: AppendedEntry) -> int:
    """The index of the entry ``appended``, integrating first if it has none yet."""
    index = Entry.objects.get(pk=appended.entry_id).index
    if index is None:
        log_integrate()
        index = Entry.objects.get(pk=appended.entry_id).index
    assert index is not None, "committed, or appended in this very transaction"
    return int(index)


def entry_of(which: int | str | bytes) -> Entry:
    """Entry ``which``: its index, or its leaf hash (bytes, or base64 as a write answers it)."""
    if isinstance(which, int):
        return Entry.objects.get(index=which)
    leaf = base64.b64decode(which) if isinstance(which, str) else which
    return Entry.objects.get(leaf_hash=leaf)


def entry_opened(which: int | str | bytes | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Entry ``which`` (version 2; its index or leaf hash, as ``entry_of``) and the content it
    commits to, read from its kept opening; the commitment is checked, and the entry shows
    exactly its label, commitment and, for a revocation or removal, its reason."""
    assert which is not None, "an entry that has an index, or its leaf hash"
    entry = entry_of(which)
    record = json.loads(bytes(entry.data))
    kept = EntryOpening.objects.get(entry_id=entry.pk)
    public = {"v", "kind", "label", "commitment"}
    if record["kind"] in REASON_KINDS:
        public.add("reason")
    assert set(record) == public, record
    assert record["v"] == 2 and record["label"] == bytes(kept.label).hex()
    digest = hmac.new(bytes(kept.opening), bytes(kept.content), hashlib.sha256).hexdigest()
    assert record["commitment"] == digest
    content: dict[str, Any] = json.loads(bytes(kept.content))
    return record, content


def log_integrated(*, batch: int | None = None) -> Checkpoint | None:
    """``log_integrate``, committed: after its commit this process sees the new checkpoint."""
    with committed():
        return log_integrate(batch=batch)


def recomputed_root(size: int) -> bytes:
    """The RFC 6962 root of the first ``size`` entries, from their bytes alone."""
    data = Entry.objects.filter(index__lt=size).order_by("index").values_list("data", flat=True)
    return root_from_leaf_hashes([hashlib.sha256(b"\0" + bytes(d)).digest() for d in data])
