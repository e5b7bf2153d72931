"""Reads of the log: checkpoints, tiles, entry bundles, entries and proofs; a number's entries
with their openings (``entry_openings``); and, for the pages (web), entries over time, the merge
delay and the backlog.

Proofs and tiles are answered for a tree size no larger than the served checkpoint's: what has
not been integrated yet has no verifiable place in the tree (only ``entry_at`` and the figures
see such entries). The served checkpoint is the latest one, or, when the witness policy has a
quorum (``transparency.witnesses``), the newest one whose kept cosignatures meet it
(``checkpoint_served``): entries beyond it are pending, as entries not yet integrated are.
Tiles come from ``Tile`` (the widest stored version, whose prefix is every narrower one),
partial level-0 tiles from the entries' leaf hashes, and a proof at a checkpoint's size takes
its right-edge nodes from that checkpoint's compact range: a proof costs two or three small
queries.

With a read replica (core.read_replica), the head -- the served checkpoint, its cosignatures,
the tree size answers are for -- is always read from the primary: a replica's smaller tree
would look like a split view to a client that saw the primary's. The content under it (tiles,
leaf hashes, entries) is read where ``read_connection`` says, the replica in the read paths
that opted in; it never changes once written, and what the replica lacks yet is a miss that
raises (``TileError``, ``LogRangeError``, ``Entry.DoesNotExist``), never a short answer, so
that the read runs again on the primary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import connection
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDay, TruncHour

from core.read_replica import PRIMARY, read_connection
from resolution.protocol import merkle
from resolution.protocol.cosignature import add_cosignatures
from resolution.protocol.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileKey,
    encode_entry_bundle,
    node_reader_from_tiles,
    tile_inner_proofs,
)
from transparency.entries import AppendedEntry, CommittedEntry
from transparency.models import Checkpoint, Cosignature, Entry, EntryOpening, Witness
from transparency.promises import promise_of
from transparency.witnesses import WitnessConfig, witness_config


class LogRangeError(ValueError):
    """A size, index or range the log cannot answer for (beyond the tree, reversed, empty)."""


def checkpoint_latest() -> Checkpoint | None:
    """The most recent signed checkpoint, served or not, or None before the first integration."""
    return Checkpoint.objects.using(PRIMARY).order_by("-size").first()


def log_origin() -> str | None:
    """The log's name as its first checkpoint signed it (C2SP tlog-checkpoint: the note's first
    line), or None before the first checkpoint. Verifiers pin it; it never changes after."""
    note = Checkpoint.objects.using(PRIMARY).order_by("size").values_list("note", flat=True).first()
    return note.split("\n", 1)[0] if note is not None else None


def tree_size() -> int:
    """The size of the served checkpoint (0 for an empty log), at most 0.25 s old."""
    return _tree_head(None).latest


@dataclass(frozen=True)
class TreeHead:
    """The latest size, and the compact range of ``size`` when a checkpoint has that size."""

    latest: int
    compact_range: dict[merkle.NodeId, bytes]


# A checkpoint never changes, so its compact range can be kept; the latest size is kept for a
# fraction of the merge delay. Proof requests then usually need no query for either.
LATEST_SIZE_SECONDS = 0.25
_latest_size: tuple[float, int] = (0.0, 0)
_compact_ranges: dict[int, dict[merkle.NodeId, bytes]] = {}
_COMPACT_RANGES_KEPT = 64
_signed_head: tuple[float, SignedHead | None] = (0.0, None)
# Tiles by (level, index, width): immutable, so kept until there are too many (8 KiB each).
_tiles: dict[TileKey, bytes] = {}
_TILES_KEPT = 4096
# Complete nodes of level 8 and up, by id: immutable too (transparency.selectors.inclusion_proofs).
_upper_nodes: dict[merkle.NodeId, bytes] = {}
_UPPER_NODES_KEPT = 65536


def cache_clear() -> None:
    """Forget cached heads (for tests, whose databases are emptied between tests)."""
    global _latest_size, _signed_head
    _latest_size = (0.0, 0)
    _signed_head = (0.0, None)
    _compact_ranges.clear()
    _tiles.clear()
    _upper_nodes.clear()


def _tree_head(size: int | None) -> TreeHead:
    """The latest size and, if a checkpoint has it, the compact range of ``size`` (or latest).

    At most one query, and usually none.
    """
    if witness_config().quorum_required:
        return _tree_head_cosigned(size)
    global _latest_size
    now = time.monotonic()
    expires, latest = _latest_size
    want = latest if size is None else size
    if now < expires and want <= latest and want in _compact_ranges:
        return TreeHead(latest=latest, compact_range=_compact_ranges[want])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latest.size, c.size, c.compact_range FROM "
            "(SELECT max(size) AS size FROM transparency_checkpoint) AS latest "
            "LEFT JOIN transparency_checkpoint AS c ON c.size = COALESCE(%s, latest.size)",
            [size],
        )
        row = cursor.fetchone()
    newest, found, packed = row or (None, None, None)
    latest = int(newest or 0)
    _latest_size = (now + LATEST_SIZE_SECONDS, latest)
    compact: dict[merkle.NodeId, bytes] = {}
    if found is not None and packed is not None:
        compact = _compact_range_keep(found, bytes(packed))
    return TreeHead(latest=latest, compact_range=compact)


def _tree_head_cosigned(size: int | None) -> TreeHead:
    """``_tree_head`` when a quorum is required: the latest size is the served checkpoint's."""
    head = signed_head()
    latest = head.size if head else 0
    want = latest if size is None else size
    if head is None or want > latest:
        return TreeHead(latest=latest, compact_range={})
    if want == latest:
        return TreeHead(latest=latest, compact_range=head.compact_range)
    if want not in _compact_ranges:
        packed = (
            Checkpoint.objects.using(PRIMARY)
            .filter(size=want)
            .values_list("compact_range", flat=True)
            .first()
        )
        if packed is None:
            return TreeHead(latest=latest, compact_range={})
        _compact_range_keep(want, bytes(packed))
    return TreeHead(latest=latest, compact_range=_compact_ranges[want])


def _compact_range_parse(size: int, packed: bytes) -> dict[merkle.NodeId, bytes]:
    ids = merkle.perfect_subtrees(0, size)
    return {
        node: packed[i * merkle.HASH_SIZE : (i + 1) * merkle.HASH_SIZE]
        for i, node in enumerate(ids)
    }


def _compact_range_keep(size: int, packed: bytes) -> dict[merkle.NodeId, bytes]:
    compact = _compact_range_parse(size, packed)
    if len(_compact_ranges) >= _COMPACT_RANGES_KEPT:
        _compact_ranges.pop(next(iter(_compact_ranges)))
    _compact_ranges[size] = compact
    return compact


def _leaf_hash_rows(ranges: Sequence[tuple[int, int]]) -> dict[int, bytes]:
    """Leaf hashes by index for the half-open ``ranges``, in one query."""
    if not ranges:
        return {}
    clauses = " OR ".join(['("index" >= %s AND "index" < %s)'] * len(ranges))
    params = [bound for pair in ranges for bound in pair]
    with read_connection().cursor() as cursor:
        cursor.execute(
            f'SELECT "index", leaf_hash FROM transparency_entry WHERE {clauses}',  # noqa: S608
            params,
        )
        return {index: bytes(leaf) for index, leaf in cursor.fetchall()}


def hash_tiles(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
    """Contents of hash tiles ``(level, index, width)``: ``width`` hashes each.

    A tile of a given width never changes, so tiles read are kept (the upper levels, which
    every proof crosses, are then seldom read again). Two queries at most for the others,
    whatever their number: stored tiles, then the leaf hashes of partial level-0 tiles. A tile
    the log does not have (yet) is missing from the result.
    """
    found = {key: _tiles[key] for key in keys if key in _tiles}
    missing = [key for key in keys if key not in found]
    if missing:
        read = _hash_tiles_read(missing)
        if len(_tiles) + len(read) > _TILES_KEPT:
            _tiles.clear()
        _tiles.update(read)
        found |= read
    return found


def _hash_tiles_read(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
    found: dict[TileKey, bytes] = {}
    stored = [key for key in keys if key[0] > 0 or key[2] == TILE_WIDTH]
    if stored:
        pairs = " OR ".join(["(level = %s AND index = %s)"] * len(stored))
        with read_connection().cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT ON (level, index) level, index, data FROM transparency_tile "  # noqa: S608
                f"WHERE {pairs} ORDER BY level, index, width DESC",
                [value for level, index, _ in stored for value in (level, index)],
            )
            widest = {(level, index): bytes(data) for level, index, data in cursor.fetchall()}
        for key in stored:
            data = widest.get((key[0], key[1]))
            if data is not None and len(data) >= key[2] * merkle.HASH_SIZE:
                found[key] = data[: key[2] * merkle.HASH_SIZE]
    partial = [key for key in keys if key[0] == 0 and key[2] < TILE_WIDTH]
    leaves = _leaf_hash_rows(
        [(index * TILE_WIDTH, index * TILE_WIDTH + width) for _, index, width in partial]
    )
    for key in partial:
        start = key[1] * TILE_WIDTH
        hashes = [leaves.get(start + offset) for offset in range(key[2])]
        if all(hashes):
            found[key] = b"".join(hashes)  # type: ignore[arg-type]
    return found


def node_reader(
    size: int, compact_range: dict[merkle.NodeId, bytes] | None = None
) -> merkle.NodeReader:
    """A Merkle node reader for the tree of ``size``, backed by the stored tiles.

    Nodes in ``compact_range`` (the checkpoint's, when ``size`` is a checkpoint's) are taken
    from it; only the others are read from tiles.
    """
    return _reader(node_reader_from_tiles(hash_tiles, size), compact_range)


def _reader(
    tiles: merkle.NodeReader, compact_range: dict[merkle.NodeId, bytes] | None
) -> merkle.NodeReader:
    known = compact_range or {}

    def read(ids: Sequence[merkle.NodeId]) -> list[bytes]:
        missing = [node for node in ids if node not in known]
        fetched = dict(zip(missing, tiles(missing), strict=True)) if missing else {}
        return [known[node] if node in known else fetched[node] for node in ids]

    return read


def _check_size(size: int, latest: int) -> None:
    if size < 0 or size > latest:
        raise LogRangeError(f"tree size {size} is not in the log (latest checkpoint: {latest})")


def inclusion_proof(*, index: int, size: int | None = None) -> tuple[int, list[bytes]]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size``.

    ``size`` defaults to the latest checkpoint's; returns ``(size, proof)``.
    """
    head = _tree_head(size)
    size = head.latest if size is None else size
    _check_size(size, head.latest)
    if not 0 <= index < size:
        raise LogRangeError(f"leaf {index} is not in a tree of size {size}")
    return size, merkle.inclusion_proof(index, size, node_reader(size, head.compact_range))


def consistency_proof(*, old: int, new: int | None = None) -> tuple[int, list[bytes]]:
    """RFC 9162 §2.1.4.1 consistency proof from tree size ``old`` to ``new`` (default latest).

    Returns ``(new, proof)``.
    """
    head = _tree_head(new)
    new = head.latest if new is None else new
    _check_size(new, head.latest)
    if not 0 < old <= new:
        raise LogRangeError(f"need 0 < from <= to, got from={old} to={new}")
    return new, merkle.consistency_proof(old, new, node_reader(new, head.compact_range))


def consistency_proof_to(*, old: int, checkpoint: Checkpoint) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from tree size ``old`` (0 < old <= its size) to a
    signed ``checkpoint``, served or not: what a witness is sent with it."""
    if not 0 < old <= checkpoint.size:
        raise LogRangeError(f"need 0 < from <= {checkpoint.size}, got from={old}")
    compact = _compact_range_parse(checkpoint.size, bytes(checkpoint.compact_range))
    return merkle.consistency_proof(old, checkpoint.size, node_reader(checkpoint.size, compact))


def entry_index_by_leaf_hash(*, leaf_hash: bytes, size: int) -> int | None:
    """The first index below ``size`` whose leaf hash is ``leaf_hash``."""
    return (
        Entry.objects.filter(leaf_hash=leaf_hash, index__lt=size)
        .order_by("index")
        .values_list("index", flat=True)
        .first()
    )


def leaf_hash_at(*, index: int) -> bytes:
    """The leaf hash of entry ``index`` (which must exist)."""
    return bytes(Entry.objects.values_list("leaf_hash", flat=True).get(index=index))


@dataclass(frozen=True)
class EntryRow:
    index: int
    kind: str
    data: bytes
    leaf_hash: bytes


def entries_range(*, start: int, end: int) -> list[EntryRow]:
    """Integrated entries with ``start <= index < end``, all of them: ``LogRangeError`` when
    some are missing (a replica that has not replayed them yet)."""
    rows = (
        Entry.objects.filter(index__gte=start, index__lt=end)
        .order_by("index")
        .values_list("index", "kind", "data", "leaf_hash")
    )
    # Filtered on the index: each row has one.
    found = [EntryRow(cast(int, i), kind, bytes(data), bytes(leaf)) for i, kind, data, leaf in rows]
    if len(found) != max(end - start, 0):
        raise LogRangeError(f"entries {start} to {end} are not all stored")
    return found


@dataclass(frozen=True)
class EntryHistoryRow:
    """An entry under a number's label, with the opening and content it commits to, if kept.

    ``opening`` and ``content`` (the canonical JSON committed to) are None for a version-1
    entry, and for a version-2 entry whose opening was deleted.
    """

    index: int | None  # None until sequenced
    data: bytes
    opening: bytes | None
    content: bytes | None


# transparency_entry_label(data) (migration 0004) reads the label out of an entry's bytes, for
# an expression index: the hex after the first '"label":"', which in canonical JSON is the
# entry's own label (a string value cannot hold an unescaped quote). The rows found are still
# parsed, so an entry that merely nests a "label" is not counted.
_ENTRIES_UNDER_LABEL = """
    SELECT e."index", e.data, o.opening, o.content
    FROM transparency_entry e
    LEFT JOIN transparency_entryopening o ON o.entry_id = e.id
    WHERE transparency_entry_label(e.data) = %s
    ORDER BY e."index" NULLS LAST, e.id
"""


def entry_openings(*, label: bytes) -> list[EntryHistoryRow]:
    """Every entry whose public ``label`` is ``label`` (64 bytes), of version 1 and 2, oldest
    first (the unsequenced last), integrated or not, each with its kept opening and content
    (``EntryHistoryRow``)."""
    label_hex = label.hex()
    with connection.cursor() as cursor:
        cursor.execute(_ENTRIES_UNDER_LABEL, [label_hex.encode("ascii")])
        rows = cursor.fetchall()
    return [
        EntryHistoryRow(
            index=index,
            data=bytes(data),
            opening=None if opening is None else bytes(opening),
            content=None if content is None else bytes(content),
        )
        for index, data, opening, content in rows
        if json.loads(bytes(data)).get("label") == label_hex
    ]


def entry_appended(*, entry_id: int) -> AppendedEntry:
    """Entry ``entry_id`` as its writer got it: its leaf hash and the log's promise (the same
    signed note: Ed25519 is deterministic and the promise's time is the entry's row's)."""
    leaf, created_at = Entry.objects.values_list("leaf_hash", "created_at").get(pk=entry_id)
    return AppendedEntry(
        entry_id=entry_id, leaf_hash=bytes(leaf), promise=promise_of(bytes(leaf), created_at)
    )


def entry_committed(*, entry_id: int) -> CommittedEntry | None:
    """Entry ``entry_id`` as its writer got it (``CommittedEntry``: leaf hash, promise, kept
    opening and content), or None for an entry of version 1 or whose opening was deleted."""
    row = (
        EntryOpening.objects.filter(entry_id=entry_id)
        .values_list("entry__leaf_hash", "entry__created_at", "opening", "content")
        .first()
    )
    if row is None:
        return None
    leaf, created_at, opening, content = row
    return CommittedEntry(
        entry_id=entry_id,
        leaf_hash=bytes(leaf),
        promise=promise_of(bytes(leaf), created_at),
        opening=bytes(opening),
        content=bytes(content),
    )


def entry_bundle(*, index: int, width: int) -> bytes:
    """Entry bundle ``index`` with ``width`` entries (C2SP tlog-tiles), as served."""
    start = index * TILE_WIDTH
    with read_connection().cursor() as cursor:
        cursor.execute(
            'SELECT data FROM transparency_entry WHERE "index" >= %s AND "index" < %s '
            'ORDER BY "index"',
            [start, start + width],
        )
        entries = [bytes(data) for (data,) in cursor.fetchall()]
    if len(entries) != width:
        raise LogRangeError(f"entry bundle {index} does not have {width} entries")
    return encode_entry_bundle(entries)


@dataclass(frozen=True)
class SignedHead:
    """The served checkpoint: its size, its signed note with the cosignature lines kept for it
    (``resolution.protocol.cosignature.add_cosignatures``), and its compact range."""

    size: int
    note: str
    compact_range: dict[merkle.NodeId, bytes]


def signed_head() -> SignedHead | None:
    """The served checkpoint, at most LATEST_SIZE_SECONDS old; None before there is one."""
    global _signed_head
    now = time.monotonic()
    expires, head = _signed_head
    if now < expires:
        return head
    served = checkpoint_served()
    head = None
    if served is not None:
        compact = _compact_range_parse(served.size, served.compact_range)
        head = SignedHead(size=served.size, note=served.note, compact_range=compact)
    _signed_head = (now + LATEST_SIZE_SECONDS, head)
    return head


@dataclass(frozen=True)
class CosignatureShown:
    """A kept cosignature: the witness's name in the policy, its key, timestamp and line."""

    witness: str
    verifier_key: str
    timestamp: int
    line: str


@dataclass(frozen=True)
class ServedCheckpoint:
    """The checkpoint the log serves, with the cosignatures kept for it."""

    size: int
    root_hash: bytes
    note: str  # the log's signed note with the cosignature lines appended
    compact_range: bytes
    created_at: datetime
    cosignatures: tuple[CosignatureShown, ...]


# Checkpoints with enough cosignatures to perhaps meet the quorum, newest first, a page at a
# time; the unique (checkpoint, witness) index walks them backwards and stops at the page.
_CANDIDATES = f"""
SELECT size FROM {Cosignature._meta.db_table}
WHERE size < %s
GROUP BY size HAVING count(*) >= %s
ORDER BY size DESC LIMIT %s
"""  # noqa: S608 (table names from the models)
_CANDIDATES_PAGE = 32
_ABOVE_EVERY_SIZE = 1 << 63


def checkpoint_served() -> ServedCheckpoint | None:
    """The checkpoint to serve: the latest, or, when the witness policy has a quorum, the newest
    whose kept cosignatures (from the policy's witnesses) meet it. None before there is one.

    Without a quorum the latest checkpoint carries whatever cosignatures were kept for it.
    A few queries; ``signed_head`` keeps the answer for LATEST_SIZE_SECONDS.
    """
    config = witness_config()
    if not config.quorum_required:
        latest = checkpoint_latest()
        if latest is None:
            return None
        shown = (
            _cosignatures_of(config, [latest.size]).get(latest.size, ()) if config.witnesses else ()
        )
        return _served(latest, shown)
    least = _quorum_least(config)
    below = _ABOVE_EVERY_SIZE
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_CANDIDATES, [below, least, _CANDIDATES_PAGE])
            sizes = [size for (size,) in cursor.fetchall()]
        if not sizes:
            return None
        by_size = _cosignatures_of(config, sizes)
        for size in sizes:
            shown = by_size.get(size, ())
            cosigners = [_cosigner(config, c.verifier_key) for c in shown]
            if config.policy.evaluate(c for c in cosigners if c is not None).satisfied:
                return _served(Checkpoint.objects.using(PRIMARY).get(size=size), shown)
        below = sizes[-1]


def _served(checkpoint: Checkpoint, shown: tuple[CosignatureShown, ...]) -> ServedCheckpoint:
    note = checkpoint.note
    if shown:
        note = add_cosignatures(note.encode(), [c.line for c in shown]).decode()
    return ServedCheckpoint(
        size=checkpoint.size,
        root_hash=bytes(checkpoint.root_hash),
        note=note,
        compact_range=bytes(checkpoint.compact_range),
        created_at=checkpoint.created_at,
        cosignatures=shown,
    )


def _cosigner(config: WitnessConfig, vkey: str) -> tuple[str, bytes] | None:
    endpoint = config.endpoint_by_key(vkey)
    if endpoint is None:
        return None
    return endpoint.verifier.name, endpoint.verifier.key_id


def _cosignatures_of(
    config: WitnessConfig, sizes: Sequence[int]
) -> dict[int, tuple[CosignatureShown, ...]]:
    """The kept cosignatures of the checkpoints ``sizes`` by the configured witnesses, in the
    order of RS_WITNESSES."""
    rows = (
        Cosignature.objects.using(PRIMARY)
        .filter(size__in=sizes)
        .values_list("size", "witness__verifier_key", "timestamp", "line")
    )
    order = {w.verifier.vkey: n for n, w in enumerate(config.witnesses)}
    found: dict[int, list[CosignatureShown]] = {}
    for size, vkey, timestamp, line in rows:
        endpoint = config.endpoint_by_key(vkey)
        if endpoint is not None:
            found.setdefault(size, []).append(
                CosignatureShown(endpoint.name, vkey, timestamp, line)
            )
    return {
        size: tuple(sorted(shown, key=lambda c: order[c.verifier_key]))
        for size, shown in found.items()
    }


def _quorum_least(config: WitnessConfig) -> int:
    """The fewest cosignatures that can meet the quorum: candidates with fewer are skipped."""
    policy = config.policy

    def least(name: str) -> int:
        if name in policy.witnesses:
            return 1
        group = policy.groups[name]
        return sum(sorted(least(member) for member in group.members)[: group.threshold])

    return least(policy.quorum)


def witnesses_state() -> list[tuple[str, Witness | None]]:
    """Each configured witness's name and what the log knows of it (None before any attempt),
    in the order of RS_WITNESSES."""
    config = witness_config()
    rows = {
        w.verifier_key: w
        for w in Witness.objects.filter(
            verifier_key__in=[e.verifier.vkey for e in config.witnesses]
        )
    }
    return [(e.name, rows.get(e.verifier.vkey)) for e in config.witnesses]


def inclusion_proofs(
    *,
    indices: Sequence[int],
    head: SignedHead,
    tiles: Mapping[TileKey, bytes] | None = None,
    nodes: Mapping[merkle.NodeId, bytes] | None = None,
) -> dict[int, list[bytes]]:
    """Inclusion proofs of several leaves in the tree of ``head``, reading the tiles once.

    Which nodes a proof needs depends only on the index and the size (``ProofPlan``), so one
    read fetches the nodes of all the proofs, then each is assembled. ``nodes`` and ``tiles``
    the caller already has are used first (a complete node never changes, so a node known
    from any larger tree is right here too). Nodes of level 8 and up, hashed from the upper
    tiles that every proof crosses, are kept in this process.
    """
    plans = {index: merkle.inclusion_proof_plan(index, head.size) for index in indices}
    unique = list(dict.fromkeys(node for plan in plans.values() for node in plan.nodes))
    fetched = {node: nodes[node] for node in unique if node in nodes} if nodes else {}
    fetched |= {node: _upper_nodes[node] for node in unique if node in _upper_nodes}
    missing = [node for node in unique if node not in fetched]
    if missing:
        given = tiles or {}

        def fetch(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
            have = {key: given[key] for key in keys if key in given}
            return have | hash_tiles([key for key in keys if key not in have])

        read = _reader(node_reader_from_tiles(fetch, head.size), head.compact_range)
        fetched |= dict(zip(missing, read(missing), strict=True))
        upper = {node: fetched[node] for node in missing if node[0] >= TILE_HEIGHT}
        if len(_upper_nodes) + len(upper) > _UPPER_NODES_KEPT:
            _upper_nodes.clear()
        _upper_nodes.update(upper)
    return {index: plan.proof(fetched) for index, plan in plans.items()}


def tile_inner_proofs_at(*, indices: Sequence[int]) -> dict[int, bytes]:
    """The in-tile proof hashes (``resolution.protocol.tiles.tile_inner_proofs``) of entries
    ``indices``.

    Only entries whose level-0 tile is full in the latest checkpoint are answered: those
    hashes are then fixed for good, so a caller may keep them. One query for all the tiles;
    they are not kept in this process's tile cache, which serves lookups.
    """
    full = tree_size() // TILE_WIDTH
    by_tile: dict[int, list[int]] = {}
    for index in indices:
        if 0 <= index // TILE_WIDTH < full:
            by_tile.setdefault(index // TILE_WIDTH, []).append(index % TILE_WIDTH)
    tiles = _hash_tiles_read([(0, tile, TILE_WIDTH) for tile in by_tile])
    proofs: dict[int, bytes] = {}
    for tile, positions in by_tile.items():
        data = tiles.get((0, tile, TILE_WIDTH))
        if data is None:
            continue
        for position, proof in tile_inner_proofs(data, positions).items():
            proofs[tile * TILE_WIDTH + position] = proof
    return proofs


# --- Figures for the explorer and the operator dashboard (web) ------------------------------


@dataclass(frozen=True)
class EntryStored:
    """One stored entry, integrated or not, with the time it was appended."""

    index: int
    kind: str
    data: bytes
    leaf_hash: bytes
    created_at: datetime


def entry_at(*, index: int) -> EntryStored | None:
    """Entry ``index``, whether or not a checkpoint covers it yet."""
    row = (
        Entry.objects.filter(index=index)
        .values_list("index", "kind", "data", "leaf_hash", "created_at")
        .first()
    )
    if row is None:
        return None
    return EntryStored(index, row[1], bytes(row[2]), bytes(row[3]), row[4])


def entries_before(*, end: int, count: int) -> list[EntryStored]:
    """The entries ``end - count <= index < end``, newest first (a range of the primary key)."""
    rows = (
        Entry.objects.filter(index__gte=max(end - count, 0), index__lt=end)
        .order_by("-index")
        .values_list("index", "kind", "data", "leaf_hash", "created_at")
    )
    return [  # filtered on the index: each row has one
        EntryStored(cast(int, i), kind, bytes(d), bytes(leaf), at) for i, kind, d, leaf, at in rows
    ]


@dataclass(frozen=True)
class KindVolume:
    """Entries of one kind appended in one period, and the lowest and highest of their indices."""

    period: datetime
    kind: str
    entries: int
    first_index: int
    last_index: int


def entries_by_period(*, since: datetime, period: str) -> list[KindVolume]:
    """Entries appended from ``since`` per ``period`` (``"hour"`` or ``"day"``, UTC) and kind.

    One grouped query over the ``created_at`` index. ``last_index`` per period gives the log's
    growth: its size at the period's end is the highest ``last_index`` so far plus one.
    """
    trunc = {"hour": TruncHour, "day": TruncDay}[period]
    rows = (
        Entry.objects.filter(created_at__gte=since)
        .annotate(period=trunc("created_at"))
        .values("period", "kind")
        .annotate(entries=Count("id"), first_index=Min("index"), last_index=Max("index"))
        .order_by("period", "kind")
    )
    return [KindVolume(**row) for row in rows]


@dataclass(frozen=True)
class MergeDelay:
    """How long entries waited for a checkpoint, for the checkpoints signed in one hour."""

    hour: datetime
    entries: int
    mean_seconds: float
    max_seconds: float


# An entry's merge delay runs from its ``created_at`` to that of the first checkpoint covering
# it. Both are PostgreSQL's now(), the start of their transactions: the entry's is the change
# that appended it, the checkpoint's the integration (signing takes milliseconds more). A
# change whose transaction began after the integration's yet committed before it read the
# entries would show a negative delay: it counts as 0.
_MERGE_DELAY_SQL = """
WITH first AS (
    SELECT "index" FROM transparency_entry
    WHERE created_at >= %s AND "index" IS NOT NULL ORDER BY created_at LIMIT 1
), batch AS (
    SELECT c.size, c.created_at,
           (SELECT COALESCE(max(p.size), 0) FROM transparency_checkpoint AS p
            WHERE p.size < c.size) AS previous
    FROM transparency_checkpoint AS c, first WHERE c.size > first."index"
)
SELECT date_trunc('hour', batch.created_at) AS hour, count(*),
       avg(GREATEST(extract(epoch FROM batch.created_at - e.created_at), 0)),
       max(GREATEST(extract(epoch FROM batch.created_at - e.created_at), 0))
FROM batch JOIN transparency_entry AS e
     ON e."index" >= batch.previous AND e."index" < batch.size
GROUP BY 1 ORDER BY 1
"""


def merge_delay_by_hour(*, since: datetime) -> list[MergeDelay]:
    """Merge delay per hour of the checkpoints covering the entries appended from ``since``.

    One query, by index ranges only: the first entry appended since then (``created_at``
    index), the checkpoints after it (primary key), and each one's new entries (primary key).
    """
    with connection.cursor() as cursor:
        cursor.execute(_MERGE_DELAY_SQL, [since])
        rows = cursor.fetchall()
    return [
        MergeDelay(hour=hour, entries=n, mean_seconds=float(mean), max_seconds=float(worst))
        for hour, n, mean, worst in rows
    ]


@dataclass(frozen=True)
class Backlog:
    """Entries appended but in no checkpoint yet, and when the oldest of them was appended."""

    entries: int
    oldest: datetime | None
    checkpoint_at: datetime | None


def log_backlog() -> Backlog:
    """What waits for the sequencer and integrator now (entries without an index, or beyond
    the latest checkpoint), and when the latest checkpoint was signed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH latest AS (SELECT size, created_at FROM transparency_checkpoint "
            "ORDER BY size DESC LIMIT 1) "
            "SELECT count(*), min(e.created_at), (SELECT created_at FROM latest) "
            'FROM transparency_entry AS e WHERE e."index" IS NULL '
            'OR e."index" >= COALESCE((SELECT size FROM latest), 0)'
        )
        entries, oldest, checkpoint_at = cursor.fetchone()
    return Backlog(entries=entries, oldest=oldest, checkpoint_at=checkpoint_at)


@dataclass(frozen=True)
class CosigningBacklog:
    """The latest checkpoint's size, the served one's (None: none meets the quorum), and when
    the oldest checkpoint newer than the served one was signed (None: nothing waits)."""

    latest_size: int
    served_size: int | None
    waiting_since: datetime | None


def cosigning_backlog() -> CosigningBacklog:
    """What waits for the witnesses' quorum now (the operator dashboard): read afresh."""
    latest = checkpoint_latest()
    if latest is None:
        return CosigningBacklog(latest_size=0, served_size=None, waiting_since=None)
    served = checkpoint_served()
    served_size = served.size if served else None
    waiting = (
        Checkpoint.objects.filter(size__gt=served_size or 0)
        .order_by("size")
        .values_list("created_at", flat=True)
        .first()
    )
    return CosigningBacklog(latest_size=latest.size, served_size=served_size, waiting_since=waiting)
