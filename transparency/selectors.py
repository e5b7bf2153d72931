"""Reads of the log: checkpoints, tiles, entry bundles, entries and proofs.

Everything is answered for a tree size no larger than the latest checkpoint's: what has not
been integrated yet has no verifiable place in the tree. Level-0 hash tiles are read from the
entries' leaf hashes; higher tiles from ``Tile`` (the widest stored version, whose prefix is
every narrower one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from resolution import merkle
from resolution.tiles import (
    TILE_WIDTH,
    TileKey,
    encode_entry_bundle,
    node_reader_from_tiles,
)
from transparency.models import Checkpoint, Entry


class LogRangeError(ValueError):
    """A size, index or range the log cannot answer for (beyond the tree, reversed, empty)."""


def checkpoint_latest() -> Checkpoint | None:
    """The most recent signed checkpoint, or None before the first integration."""
    return Checkpoint.objects.order_by("-size").first()


def tree_size() -> int:
    """The size of the latest checkpoint (0 for an empty log)."""
    latest = Checkpoint.objects.order_by("-size").values_list("size", flat=True).first()
    return latest or 0


def _leaf_hash_rows(ranges: Sequence[tuple[int, int]]) -> dict[int, bytes]:
    """Leaf hashes by index for the half-open ``ranges``, in one query."""
    if not ranges:
        return {}
    clauses = " OR ".join(['("index" >= %s AND "index" < %s)'] * len(ranges))
    params = [bound for pair in ranges for bound in pair]
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "index", leaf_hash FROM transparency_entry WHERE {clauses}',  # noqa: S608
            params,
        )
        return {index: bytes(leaf) for index, leaf in cursor.fetchall()}


def hash_tiles(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
    """Contents of hash tiles ``(level, index, width)``: at least ``width`` hashes each.

    Two queries at most, whatever the number of tiles. A tile the log does not have (yet) is
    missing from the result.
    """
    found: dict[TileKey, bytes] = {}
    level0 = [key for key in keys if key[0] == 0]
    leaves = _leaf_hash_rows(
        [(index * TILE_WIDTH, index * TILE_WIDTH + width) for _, index, width in level0]
    )
    for key in level0:
        _, index, width = key
        start = index * TILE_WIDTH
        hashes = [leaves.get(start + offset) for offset in range(width)]
        if all(hashes):
            found[key] = b"".join(hashes)  # type: ignore[arg-type]
    upper = [key for key in keys if key[0] > 0]
    if upper:
        pairs = " OR ".join(["(level = %s AND index = %s)"] * len(upper))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT ON (level, index) level, index, data FROM transparency_tile "  # noqa: S608
                f"WHERE {pairs} ORDER BY level, index, width DESC",
                [value for level, index, _ in upper for value in (level, index)],
            )
            widest = {(level, index): bytes(data) for level, index, data in cursor.fetchall()}
        for key in upper:
            data = widest.get((key[0], key[1]))
            if data is not None and len(data) >= key[2] * merkle.HASH_SIZE:
                found[key] = data[: key[2] * merkle.HASH_SIZE]
    return found


def node_reader(size: int) -> merkle.NodeReader:
    """A Merkle node reader for the tree of ``size``, backed by the stored tiles."""
    return node_reader_from_tiles(hash_tiles, size)


def _check_size(size: int, latest: int) -> None:
    if size < 0 or size > latest:
        raise LogRangeError(f"tree size {size} is not in the log (latest checkpoint: {latest})")


def inclusion_proof(*, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size``."""
    _check_size(size, tree_size())
    if not 0 <= index < size:
        raise LogRangeError(f"leaf {index} is not in a tree of size {size}")
    return merkle.inclusion_proof(index, size, node_reader(size))


def consistency_proof(*, old: int, new: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof between tree sizes ``old`` and ``new``."""
    _check_size(new, tree_size())
    if not 0 < old <= new:
        raise LogRangeError(f"need 0 < from <= to, got from={old} to={new}")
    return merkle.consistency_proof(old, new, node_reader(new))


def entry_index_by_leaf_hash(*, leaf_hash: bytes, size: int) -> int | None:
    """The first index below ``size`` whose leaf hash is ``leaf_hash``."""
    return (
        Entry.objects.filter(leaf_hash=leaf_hash, index__lt=size)
        .order_by("index")
        .values_list("index", flat=True)
        .first()
    )


@dataclass(frozen=True)
class EntryRow:
    index: int
    kind: str
    data: bytes
    leaf_hash: bytes


def entries_range(*, start: int, end: int) -> list[EntryRow]:
    """Integrated entries with ``start <= index < end``."""
    rows = (
        Entry.objects.filter(index__gte=start, index__lt=end)
        .order_by("index")
        .values_list("index", "kind", "data", "leaf_hash")
    )
    return [EntryRow(i, kind, bytes(data), bytes(leaf)) for i, kind, data, leaf in rows]


def entry_bundle(*, index: int, width: int) -> bytes:
    """Entry bundle ``index`` with ``width`` entries (C2SP tlog-tiles), as served."""
    start = index * TILE_WIDTH
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT data FROM transparency_entry WHERE "index" >= %s AND "index" < %s '
            'ORDER BY "index"',
            [start, start + width],
        )
        entries = [bytes(data) for (data,) in cursor.fetchall()]
    if len(entries) != width:
        raise LogRangeError(f"entry bundle {index} does not have {width} entries")
    return encode_entry_bundle(entries)
