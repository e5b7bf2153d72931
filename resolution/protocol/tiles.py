"""Tiled transparency logs: tile paths, entry bundles and tile hashing (c2sp.org/tlog-tiles).

A tile at level ``L`` and index ``N`` holds up to 256 consecutive hashes of perfect subtrees
at Merkle level ``8 * L``: hash ``i`` is MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])
(tlog-tiles, "Merkle Tree").  In ``merkle.py``'s terms, tile ``(L, N)`` holds the nodes
``(8*L, N*256 + i)``.  A tile with fewer than 256 hashes is *partial*; for a tree of size ``s``
the tile at level ``L`` has ``floor(s / 256**L) - N*256`` hashes, capped at 256 ("Partial
Tiles").  Tile contents only ever grow by appending, so a wider tile's prefix is the narrower
tile: every function here that reads a tile accepts a wider one and uses its prefix.

Contents: path encoding and strict parsing (``tile_path``, ``entries_path``,
``parse_tile_path``), entry bundles (``encode_entry_bundle``, ``decode_entry_bundle``), tile
data (``tile_hashes``, ``tile_width``, ``tile_inner_proofs``), a ``merkle.NodeReader``
computed from tiles (``node_reader_from_tiles``), the integrator's tile update
(``append_to_tiles``) and the tree root from stored tiles (``tiles_root``).  Errors are
``TileError`` and its subclass ``TilePathError``, both ``ValueError``s.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from resolution.protocol.merkle import HASH_SIZE, NodeId, NodeReader, tree_root

TILE_HEIGHT: Final = 8
"""Merkle levels spanned by one tile (tlog-tiles fixes it at 8)."""

TILE_WIDTH: Final = 1 << TILE_HEIGHT
"""Hashes (or entries) in a full tile: 256."""

MAX_TILE_LEVEL: Final = 63
"""Largest tile level a path may name (tlog-tiles, "Merkle Tree": ``<L>`` is 0 to 63)."""

MAX_ENTRY_SIZE: Final = 0xFFFF
"""Largest entry an entry bundle can hold: its length prefix is a big-endian uint16."""

TileKey = tuple[int, int, int]
"""``(level, index, width)`` of a hash tile as a tree of some size has it; 256 means full."""

TileFetcher = Callable[[Sequence[TileKey]], Mapping[TileKey, bytes]]
"""Fetches a batch of hash tiles by key; the bytes may be a wider version of the tile."""

TileReader = Callable[[int, int], bytes]
"""Returns the stored contents of hash tile ``(level, index)``, possibly partial."""

_sha256 = hashlib.sha256
_NODE_PREFIX: Final = b"\x01"  # RFC 6962 §2.1 interior node prefix.
_FULL_TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
_MAX_INDEX: Final = 1 << 64  # tile start indexes stay within uint64, as in every tlog client

# tlog-tiles, "Merkle Tree": <L> is decimal without leading zeros; <N> is 3-digit groups, all
# but the last prefixed with "x"; <W> is decimal 1-255 without leading zeros.  [0-9] (not \d)
# so that non-ASCII digits never match.
_PATH_RE: Final = re.compile(
    r"tile/(?:(?P<entries>entries)|(?P<level>0|[1-9][0-9]?))"
    r"/(?P<groups>(?:x[0-9]{3}/)*)(?P<last>[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


class TileError(ValueError):
    """A tile, tile fetch or entry bundle is malformed or inconsistent with the tree size."""


class TilePathError(TileError):
    """A tile or entry bundle path is malformed or out of range."""


@dataclass(frozen=True)
class TileRef:
    """A parsed tile path.

    ``width`` is ``None`` for a full tile.  Entry bundles have ``is_entries`` set and
    ``level`` 0 (a bundle lines up with the level-0 hash tile of the same index).
    """

    level: int
    index: int
    width: int | None
    is_entries: bool = False


def _check_int(value: int, what: str, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise TilePathError(f"{what} must be an integer in [{low}, {high}], got {value!r}")


def _check_start(level: int, index: int, what: str) -> None:
    _check_int(index, what, 0, _MAX_INDEX - 1)
    if index << (TILE_HEIGHT * (level + 1)) >= _MAX_INDEX:
        raise TilePathError(f"{what} {index} at level {level} starts beyond 2**64 leaves")


def _encode_index(index: int) -> str:
    # tlog-tiles, "Merkle Tree": 1234067 -> "x001/x234/067", 0 -> "000".
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "".join(f"x{g}/" for g in groups[:-1]) + groups[-1]


def _suffix(width: int | None) -> str:
    if width is None or width == TILE_WIDTH:
        return ""
    _check_int(width, "partial tile width", 1, TILE_WIDTH - 1)
    return f".p/{width}"


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """Return ``tile/<L>/<N>[.p/<W>]`` for hash tile ``(level, index)`` (tlog-tiles).

    ``width`` is the number of hashes in a partial tile; ``None`` or 256 names the full tile.
    """
    _check_int(level, "tile level", 0, MAX_TILE_LEVEL)
    _check_start(level, index, "tile index")
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int | None = None) -> str:
    """Return ``tile/entries/<N>[.p/<W>]`` for bundle ``index`` (tlog-tiles, "Log entries")."""
    _check_start(0, index, "bundle index")
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


def parse_tile_path(path: str) -> TileRef:
    """Parse a hash tile or entry bundle path (without the log prefix), strictly.

    Exactly the paths ``tile_path`` and ``entries_path`` produce are accepted: no leading
    zeros in the level or width, no ``x000/`` leading groups, levels up to 63, partial widths
    1-255, tiles starting below 2**64.  Anything else raises ``TilePathError``.
    """
    m = _PATH_RE.fullmatch(path)
    if m is None:
        raise TilePathError(f"not a tile path: {path!r}")
    groups = m["groups"]
    if groups.startswith("x000/"):
        raise TilePathError(f"tile index has a leading zero group: {path!r}")
    index = int(groups.replace("x", "").replace("/", "") + m["last"])
    is_entries = m["entries"] is not None
    level = 0 if is_entries else int(m["level"])
    if level > MAX_TILE_LEVEL:
        raise TilePathError(f"tile level {level} is over {MAX_TILE_LEVEL}: {path!r}")
    if index << (TILE_HEIGHT * (level + 1)) >= _MAX_INDEX:
        raise TilePathError(f"tile starts beyond 2**64 leaves: {path!r}")
    width = None if m["width"] is None else int(m["width"])
    if width is not None and width >= TILE_WIDTH:
        raise TilePathError(f"partial tile width {width} is not below {TILE_WIDTH}: {path!r}")
    return TileRef(level, index, width, is_entries)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode 1-256 entries as an entry bundle: each a big-endian uint16 length, then the bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, got {len(entries)}")
    parts = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(f"entry {i} is {len(entry)} bytes, over the {MAX_ENTRY_SIZE} limit")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Decode an entry bundle into its 1-256 entries, rejecting truncation and trailing bytes."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if len(entries) == TILE_WIDTH:
            raise TileError(f"entry bundle has more than {TILE_WIDTH} entries")
        if end - pos < 2:
            raise TileError(f"entry bundle ends inside the length of entry {len(entries)}")
        size = (data[pos] << 8) | data[pos + 1]
        pos += 2
        if end - pos < size:
            raise TileError(f"entry {len(entries)} claims {size} bytes, {end - pos} remain")
        entries.append(bytes(data[pos : pos + size]))
        pos += size
    if not entries:
        raise TileError("entry bundle is empty")
    return entries


def tile_hashes(data: bytes) -> list[bytes]:
    """Split hash tile contents into its 1-256 hashes of 32 bytes."""
    if not data or len(data) % HASH_SIZE or len(data) > _FULL_TILE_BYTES:
        raise TileError(
            f"hash tile is {len(data)} bytes; want a multiple of {HASH_SIZE} up to "
            f"{_FULL_TILE_BYTES}"
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_width(level: int, index: int, size: int) -> int:
    """Return how many hashes tile ``(level, index)`` has in a tree of ``size`` (0 to 256)."""
    # tlog-tiles, "Partial Tiles": floor(s / 256**l) hashes at level l, 256 per tile.
    return max(0, min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH))


def _tile_checked(data: bytes | None, level: int, index: int, width: int) -> bytes:
    """A tile of at least ``width`` hashes (a wider, later version of it will do)."""
    if data is None:
        raise TileError(f"hash tile {level}/{index} (width {width}) was not returned")
    if len(data) % HASH_SIZE or not width * HASH_SIZE <= len(data) <= _FULL_TILE_BYTES:
        raise TileError(
            f"hash tile {level}/{index} is {len(data)} bytes, want at least {width} hashes"
        )
    return data


def _tile_prefix(data: bytes | None, level: int, index: int, width: int) -> list[bytes]:
    """The first ``width`` hashes of a tile, accepting a wider (later) version of it."""
    data = _tile_checked(data, level, index, width)
    return [data[i : i + HASH_SIZE] for i in range(0, width * HASH_SIZE, HASH_SIZE)]


def _perfect_root(hashes: list[bytes]) -> bytes:
    """MTH of a power-of-two number of hashes (RFC 6962 §2.1), by pairing level by level."""
    sha, prefix = _sha256, _NODE_PREFIX
    while len(hashes) > 1:
        pairs = iter(hashes)  # zip(it, it) walks neighbours; the count is a power of two
        hashes = [sha(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
    return hashes[0]


def tile_inner_proofs(tile: bytes, positions: Sequence[int]) -> dict[int, bytes]:
    """The in-tile part of the inclusion proofs of some hashes of a full tile.

    For the hash at ``position`` of a full tile at level ``L``, the first eight hashes of any
    inclusion proof through it are its siblings at Merkle levels ``8L`` to ``8L + 7``: nodes
    ``(8L + j, (N*256 + position >> j) ^ 1)`` for ``j`` in 0..7, all inside the tile, so
    fixed once the tile is full.  Returned per position as the eight hashes concatenated,
    level ``8L`` first.  The tile's inner levels are hashed once for all positions.
    """
    if len(tile) < _FULL_TILE_BYTES:
        raise TileError(f"a full tile has {_FULL_TILE_BYTES} bytes, got {len(tile)}")
    level = [tile[i : i + HASH_SIZE] for i in range(0, _FULL_TILE_BYTES, HASH_SIZE)]
    levels = [level]
    sha, prefix = _sha256, _NODE_PREFIX
    for _ in range(TILE_HEIGHT - 1):
        pairs = iter(level)
        level = [sha(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        levels.append(level)
    proofs = {}
    for position in positions:
        if not 0 <= position < TILE_WIDTH:
            raise TileError(f"position {position} is not in a tile")
        proofs[position] = b"".join(levels[j][(position >> j) ^ 1] for j in range(TILE_HEIGHT))
    return proofs


def node_reader_from_tiles(fetch: TileFetcher, size: int) -> NodeReader:
    """Return a ``merkle.NodeReader`` for the tree of ``size`` that reads hash tiles.

    Node ``(level, index)`` lies in the tile at tile level ``level // 8``; when ``level`` is not
    a multiple of 8 it is hashed up from the ``2**(level % 8)`` tile hashes under it.  Each batch
    of nodes makes one ``fetch`` call, keyed ``(tile level, tile index, width)`` with the width
    that tile has at ``size`` (256 for a full tile).
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise TileError(f"tree size must be a non-negative integer, got {size!r}")

    def read(ids: Sequence[NodeId]) -> list[bytes]:
        plan: list[tuple[TileKey, int, int]] = []
        for level, index in ids:
            if not 0 <= level < TILE_HEIGHT * (MAX_TILE_LEVEL + 1) or index < 0:
                raise TileError(f"node ({level}, {index}) does not exist")
            if (index + 1) << level > size:
                raise TileError(f"node ({level}, {index}) is not complete in a tree of {size}")
            tile_level, height = divmod(level, TILE_HEIGHT)
            first = index << height  # first tile hash under the node
            tile_index = first >> TILE_HEIGHT
            key = (tile_level, tile_index, tile_width(tile_level, tile_index, size))
            plan.append((key, height, first & (TILE_WIDTH - 1)))
        if not plan:
            return []
        keys = list(dict.fromkeys(key for key, _, _ in plan))
        got = fetch(keys)
        tiles = {key: _tile_checked(got.get(key), *key) for key in keys}
        out = []
        for key, height, pos in plan:
            data = tiles[key]  # only the hashes under the node are split out of it
            start, stop = pos * HASH_SIZE, (pos + (1 << height)) * HASH_SIZE
            if height == 0:
                out.append(data[start:stop])
            else:
                hashes = [data[i : i + HASH_SIZE] for i in range(start, stop, HASH_SIZE)]
                out.append(_perfect_root(hashes))
        return out

    return read


def append_to_tiles(
    old_size: int, new_leaf_hashes: Sequence[bytes], read_tile: TileReader
) -> dict[tuple[int, int], bytes]:
    """Return the new contents of every hash tile that changes when leaves are appended.

    ``old_size`` is the current tree size and ``new_leaf_hashes`` the RFC 6962 leaf hashes of
    the appended entries, in order.  ``read_tile(level, index)`` is called only for the
    right-edge partial tile of each level that gets new hashes, and may return a wider
    version of it.  The result maps ``(level, index)`` to the tile's full contents at the new
    size, partial tiles included (tlog-tiles, "Partial Tiles").
    """
    if not isinstance(old_size, int) or isinstance(old_size, bool) or old_size < 0:
        raise TileError(f"tree size must be a non-negative integer, got {old_size!r}")
    if set(map(len, new_leaf_hashes)) - {HASH_SIZE}:
        raise TileError(f"every new leaf hash must be {HASH_SIZE} bytes")
    changed: dict[tuple[int, int], bytes] = {}
    added = list(new_leaf_hashes)  # hashes appended at the current level
    count = old_size  # hashes the current level had before the append
    level = 0
    while added:
        index, have = divmod(count, TILE_WIDTH)
        row = _tile_prefix(read_tile(level, index), level, index, have) if have else []
        row += added
        added = []
        for start in range(0, len(row), TILE_WIDTH):
            tile = row[start : start + TILE_WIDTH]
            changed[(level, index + start // TILE_WIDTH)] = b"".join(tile)
            # tlog-tiles: each hash one level up is the MTH of a *full* tile below; the first
            # tile was partial before, so every full one here is new.
            if len(tile) == TILE_WIDTH:
                added.append(_perfect_root(tile))
        count >>= TILE_HEIGHT
        level += 1
    return changed


def tiles_root(size: int, read_tile: TileReader) -> bytes:
    """Return the root hash of the tree of ``size`` from stored hash tiles.

    Reads the tiles holding the perfect subtrees named by the bits of ``size`` (at most two
    per tile level); wider stored tiles are fine.
    """

    def fetch(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        return {key: read_tile(key[0], key[1]) for key in keys}

    return tree_root(size, node_reader_from_tiles(fetch, size))
