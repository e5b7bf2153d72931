"""Writes to the log: appending entries and integrating them into tiles and checkpoints.

:func:`log_append` runs inside the caller's transaction, so a change and the entry that
records it commit or roll back together. Appenders are serialised by a transaction-scoped
advisory lock, which makes indices gapless and strictly ordered across processes: the next
index is read only after the previous appender has committed or rolled back.

:func:`log_append_committed` appends a version-2 entry (a label and a commitment) and keeps its
opening and content (``EntryOpening``) in the same transaction.

:func:`log_integrate` hashes new entries into tiles and signs a checkpoint. It runs as a Celery
beat task every second (production) or in-process after each commit (embedded default).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction

from core import locks
from resolution.protocol import merkle
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import Checkpoint as SignedTreeHead
from resolution.protocol.checkpoint import sign_checkpoint
from resolution.protocol.entries import (
    ENTRY_VERSION,
    OPENING_SIZE,
    EntryKind,
    PrivateEntry,
    commitment,
    content_check,
    entry_encode,
)
from resolution.protocol.tiles import (
    TILE_WIDTH,
    TileKey,
    append_to_tiles,
    node_reader_from_tiles,
    tile_width,
)
from transparency import selectors
from transparency.entries import AppendedEntry, CommittedEntry
from transparency.keys import log_keys
from transparency.models import Checkpoint, Entry, EntryOpening, Tile
from transparency.selectors import hash_tiles

logger = structlog.get_logger(__name__)


def log_append(
    *, kind: str, payload: Mapping[str, Any], version: int = ENTRY_VERSION
) -> AppendedEntry:
    """Append an entry in the caller's transaction; it commits or rolls back with the caller.

    The entry is ``resolution.protocol.entries.entry_encode(kind=kind, payload=payload,
    version=version)``, which raises its ``EntryError`` for an entry the log refuses. Call it
    last in the transaction: from here to the commit, other appenders wait.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("log_append must run inside the transaction of the change it records")
    data = entry_encode(kind=kind, payload=payload, version=version)
    leaf = merkle.leaf_hash(data)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [locks.LOG_APPEND])
        # A new statement, so a new snapshot: it sees the entry of whoever held the lock before.
        cursor.execute(
            'INSERT INTO transparency_entry ("index", kind, data, leaf_hash) '
            'SELECT COALESCE(MAX("index") + 1, 0), %s, %s, %s FROM transparency_entry '
            'RETURNING "index"',
            [kind, data, leaf],
        )
        (index,) = cursor.fetchone()
    if not settings.CELERY_BROKER_URL and not any(
        hook[1] is _integrate_after_commit for hook in connection.run_on_commit
    ):
        # Embedded default: integrate in this process once this transaction has committed.
        transaction.on_commit(_integrate_after_commit, robust=True)
    return AppendedEntry(index=index, leaf_hash=leaf)


def log_append_committed(
    *, kind: EntryKind, label: bytes, content: Mapping[str, Any], reason: str | None = None
) -> CommittedEntry:
    """Append the version-2 entry of ``kind`` for a number's ``label`` (64 bytes), committing
    to ``content`` under a fresh opening, and keep the opening and content (``EntryOpening``),
    all in the caller's transaction (as ``log_append``, which it calls: call it last).

    ``content`` must be ``CONTENT_FIELDS[kind]`` of the right shapes (``content_check``), and
    ``reason`` given for the kinds that show one (``REASON_KINDS``); ``EntryError`` otherwise.
    """
    content_check(kind, content)
    opening = secrets.token_bytes(OPENING_SIZE)
    committed_to = canonical_json(dict(content))
    entry = PrivateEntry(
        kind=kind,
        label=label.hex(),
        commitment=commitment(opening, content).hex(),
        reason=reason,
    )
    appended = log_append(kind=kind.value, payload=entry.payload(), version=entry.version)
    EntryOpening.objects.create(
        entry_id=appended.index, label=label, opening=opening, content=committed_to
    )
    return CommittedEntry(
        index=appended.index,
        leaf_hash=appended.leaf_hash,
        opening=opening,
        content=committed_to,
    )


def _integrate_after_commit() -> None:
    log_integrate()


class IntegrationError(RuntimeError):
    """The stored tiles disagree with the last checkpoint: refuse to sign anything."""


def _store_tiles(changed: Mapping[tuple[int, int], bytes]) -> None:
    """Keep the tiles that changed, but partial level-0 ones: those are the entries' leaves."""
    rows = []
    for (level, index), data in changed.items():
        width = len(data) // merkle.HASH_SIZE
        if level > 0 or width == TILE_WIDTH:
            rows.append(Tile(level=level, index=index, width=width, data=data))
    Tile.objects.bulk_create(rows)


def _integrate_batch(batch: int) -> tuple[Checkpoint, int] | None:
    """One integration transaction: the new checkpoint and how many entries it added.

    None when there is nothing new, or when another integrator holds the lock.
    """
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [locks.LOG_INTEGRATE])
            if not cursor.fetchone()[0]:
                return None
        last = Checkpoint.objects.order_by("-size").first()
        old_size = last.size if last else 0
        leaves = [
            bytes(leaf)
            for leaf in Entry.objects.filter(index__gte=old_size, index__lt=old_size + batch)
            .order_by("index")
            .values_list("leaf_hash", flat=True)
        ]
        if not leaves:
            return None
        new_size = old_size + len(leaves)  # the index range is gapless: log_append's lock

        def read_old_tile(level: int, index: int) -> bytes:
            key = (level, index, tile_width(level, index, old_size))
            return hash_tiles([key])[key]

        changed = append_to_tiles(old_size, leaves, read_old_tile)

        def fetch(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
            fresh = {k: changed[k[:2]] for k in keys if k[:2] in changed}
            return fresh | hash_tiles([k for k in keys if k not in fresh])

        nodes = node_reader_from_tiles(fetch, new_size)
        compact_range = nodes(merkle.perfect_subtrees(0, new_size))
        root = merkle.tree_root(new_size, lambda ids: compact_range)
        if last is not None and old_size > 0:
            # The new tree must extend the one we last signed (RFC 9162 §2.1.4).
            proof = merkle.consistency_proof(old_size, new_size, nodes)
            try:
                merkle.verify_consistency(old_size, new_size, bytes(last.root_hash), root, proof)
            except merkle.ProofError as error:
                raise IntegrationError(f"tiles inconsistent with checkpoint {old_size}") from error
        _store_tiles(changed)
        head = SignedTreeHead(origin=settings.RS_LOG_ORIGIN, size=new_size, root_hash=root)
        note = sign_checkpoint(head, log_keys().signer).decode()
        checkpoint = Checkpoint.objects.create(
            size=new_size, root_hash=root, note=note, compact_range=b"".join(compact_range)
        )
        transaction.on_commit(selectors.cache_clear)  # this process sees its checkpoint at once
        return checkpoint, len(leaves)


def log_integrate(*, batch: int | None = None) -> Checkpoint | None:
    """Integrate every entry not yet in a checkpoint; return the newest checkpoint made.

    Several integrators may run at once (beat, after-commit hooks): one works, the others
    return at once. Large backlogs are integrated ``batch`` entries per checkpoint.
    """
    batch = batch or settings.RS_LOG_INTEGRATE_BATCH
    started = time.perf_counter()
    newest = None
    while (made := _integrate_batch(batch)) is not None:
        newest, integrated = made
        if integrated < batch:  # caught up
            break
    if newest is not None:
        logger.debug(
            "log integrated",
            size=newest.size,
            seconds=round(time.perf_counter() - started, 4),
        )
    return newest
