"""Tests for resolution.protocol.tiles: c2sp.org/tlog-tiles paths, entry bundles and tile
hashing."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolution.protocol.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from resolution.protocol.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileError,
    TileKey,
    TilePathError,
    TileRef,
    append_to_tiles,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    node_reader_from_tiles,
    parse_tile_path,
    tile_hashes,
    tile_inner_proofs,
    tile_path,
    tile_width,
    tiles_root,
)

Store = dict[tuple[int, int], bytes]

# Leaf hashes are expensive enough to share between tests: one list, sliced as needed.
_LEAVES: list[bytes] = []


def leaves_for(n: int) -> list[bytes]:
    while len(_LEAVES) < n:
        _LEAVES.append(leaf_hash(len(_LEAVES).to_bytes(4, "big")))
    return _LEAVES[:n]


def build(batches: Sequence[Sequence[bytes]], store: Store | None = None) -> Store:
    """Integrate batches one after another, as the integrator does, into a tile store."""
    store = {} if store is None else store
    size = 0
    for batch in batches:
        store.update(append_to_tiles(size, batch, lambda level, index: store[(level, index)]))
        size += len(batch)
    return store


def fetcher(
    store: Store, calls: list[list[TileKey]] | None = None
) -> Callable[[Sequence[TileKey]], dict[TileKey, bytes]]:
    def fetch(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        if calls is not None:
            calls.append(list(keys))
        return {key: store[key[:2]] for key in keys}

    return fetch


def flip(value: bytes, bit: int) -> bytes:
    b = bytearray(value)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def split(leaves: list[bytes], cuts: list[int]) -> list[list[bytes]]:
    bounds = [0, *sorted(set(c % (len(leaves) + 1) for c in cuts)), len(leaves)]
    return [leaves[a:b] for a, b in itertools.pairwise(bounds)]


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, None, "tile/0/000"),
        (0, 7, None, "tile/0/007"),
        (1, 1234067, None, "tile/1/x001/x234/067"),  # the tlog-tiles example
        (2, 1000, None, "tile/2/x001/000"),
        (0, 999, 1, "tile/0/999.p/1"),
        (2, 1000000, 255, "tile/2/x001/x000/000.p/255"),
        (63, 0, 256, "tile/63/000"),
    ],
)
def test_tile_path(level: int, index: int, width: int | None, path: str) -> None:
    assert tile_path(level, index, width) == path
    want_width = None if width == TILE_WIDTH else width
    assert parse_tile_path(path) == TileRef(level, index, want_width, False)


def test_entries_path() -> None:
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(0, 17) == "tile/entries/000.p/17"
    assert parse_tile_path("tile/entries/x001/x234/067") == TileRef(0, 1234067, None, True)
    assert parse_tile_path("tile/entries/000.p/17") == TileRef(0, 0, 17, True)


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [
        (-1, 0, None),
        (64, 0, None),
        (0, -1, None),
        (0, 0, 0),
        (0, 0, 257),
        (True, 0, None),
        (7, 1, None),  # starts at 256**8 = 2**64
        (0, 1 << 56, None),
    ],
)
def test_tile_path_rejects(level: int, index: int, width: int | None) -> None:
    with pytest.raises(TilePathError):
        tile_path(level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tile/0/000/",
        "tile//000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/100/000",
        "tile/-1/000",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/+01",
        "tile/0/x001",
        "tile/0/x001/",
        "tile/0/001/x001",
        "tile/0/x1/001",
        "tile/0/x000/001",
        "tile/0/x000/x001/001",
        "tile/0/y001/001",
        "tile/0/X001/001",
        "tile/0/\u0661\u0662\u0663",
        "tile/0/001.p/0",
        "tile/0/001.p/00",
        "tile/0/001.p/007",
        "tile/0/001.p/256",
        "tile/0/001.p/1000",
        "tile/0/001.p/",
        "tile/0/001.p",
        "tile/0/001.p/1/",
        "tile/0/001.P/1",
        "tile/0/001 ",
        "tile/0/001\n",
        "tile/entries/000.p/256",
        "tile/entries/x000/001",
        "tile/entry/000",
        "tile/entries/0/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # 2**64 tiles: beyond uint64
        "tile/7/x001/000",  # starts at 1000 * 256**8 > 2**64
    ],
)
def test_parse_tile_path_rejects(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


@given(
    level=st.integers(0, 63),
    data=st.data(),
    width=st.none() | st.integers(1, 255),
    entries=st.booleans(),
)
def test_tile_path_round_trip(
    level: int, data: st.DataObject, width: int | None, entries: bool
) -> None:
    if entries:
        level = 0
    limit = max(0, (1 << 64 >> (TILE_HEIGHT * (level + 1))) - 1)  # tiles start below 2**64
    index = data.draw(st.integers(0, limit))
    path = entries_path(index, width) if entries else tile_path(level, index, width)
    assert parse_tile_path(path) == TileRef(level, index, width, entries)


# --- entry bundles and tile data -------------------------------------------------------------


def test_entry_bundle_format() -> None:
    bundle = encode_entry_bundle([b"", b"a", b"xyz"])
    assert bundle == b"\x00\x00\x00\x01a\x00\x03xyz"
    assert decode_entry_bundle(bundle) == [b"", b"a", b"xyz"]
    big = b"\xff" * MAX_ENTRY_SIZE
    assert decode_entry_bundle(encode_entry_bundle([big])) == [big]


def test_entry_bundle_rejects() -> None:
    with pytest.raises(TileError, match="entry 1 is 65536 bytes"):
        encode_entry_bundle([b"", b"\x00" * (MAX_ENTRY_SIZE + 1)])
    with pytest.raises(TileError):
        encode_entry_bundle([])
    with pytest.raises(TileError):
        encode_entry_bundle([b"x"] * (TILE_WIDTH + 1))
    good = encode_entry_bundle([b"abc", b"de"])
    for bad in [b"", good[:-1], good + b"\x00", good + b"\x00\x01", b"\x00\x05abcd", b"\x00"]:
        with pytest.raises(TileError):
            decode_entry_bundle(bad)
    with pytest.raises(TileError, match="more than 256"):
        decode_entry_bundle(b"\x00\x00" * (TILE_WIDTH + 1))
    assert decode_entry_bundle(b"\x00\x00" * TILE_WIDTH) == [b""] * TILE_WIDTH


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries)) == entries


def test_tile_hashes() -> None:
    hashes = leaves_for(3)
    assert tile_hashes(b"".join(hashes)) == hashes
    for bad in [b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * (32 * 257)]:
        with pytest.raises(TileError):
            tile_hashes(bad)


def test_tile_widths_of_the_spec_example() -> None:
    # tlog-tiles, "Partial Tiles": a tree of 70,000 has 273 full level-0 tiles, a level-0
    # partial of width 112, one full level-1 tile, a level-1 partial of width 17 and a level-2
    # partial of width 1.
    n = 70_000
    assert [tile_width(0, i, n) for i in (0, 272, 273, 274)] == [256, 256, 112, 0]
    assert [tile_width(1, i, n) for i in (0, 1, 2)] == [256, 17, 0]
    assert [tile_width(2, i, n) for i in (0, 1)] == [1, 0]
    assert tile_width(3, 0, n) == 0
    assert [tile_width(0, 0, 256), tile_width(1, 0, 256)] == [256, 1]
    store = build([leaves_for(n)])
    widths = {key: len(data) // 32 for key, data in store.items()}
    want = {(0, i): 256 for i in range(273)}
    want |= {(0, 273): 112, (1, 0): 256, (1, 1): 17, (2, 0): 1}
    assert widths == want


# --- integration, roots and proofs over tiles ---------------------------------------------------


def check_store(store: Store, leaves: list[bytes]) -> None:
    """Every tile present has exactly the tlog-tiles width and contents at len(leaves)."""
    n = len(leaves)
    level, row = 0, leaves
    while row:
        for index in range(0, (len(row) + TILE_WIDTH - 1) // TILE_WIDTH):
            assert store[(level, index)] == b"".join(row[index * 256 : (index + 1) * 256])
            assert len(store[(level, index)]) == tile_width(level, index, n) * 32
        row = [root_from_leaf_hashes(row[i : i + 256]) for i in range(0, len(row) - 255, 256)]
        level += 1
    assert all(k[0] < level for k in store)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_incremental_tiles_equal_tiles_built_at_once(n: int, cuts: list[int]) -> None:
    leaves = leaves_for(n)
    at_once = build([leaves])
    incremental = build(split(leaves, cuts))
    assert incremental == at_once
    check_store(at_once, leaves)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 3000), cuts=st.lists(st.integers(0, 3000), max_size=4))
def test_roots_and_proofs_from_tiles(data: st.DataObject, n: int, cuts: list[int]) -> None:
    leaves = leaves_for(n)
    store = build(split(leaves, cuts))
    read_tile = lambda level, index: store[(level, index)]  # noqa: E731
    # The store is at size n, but tiles only grow: any smaller size reads prefixes of them.
    size = data.draw(st.integers(1, n), label="size")
    root = root_from_leaf_hashes(leaves[:size])
    assert tiles_root(size, read_tile) == root
    assert tiles_root(n, read_tile) == root_from_leaf_hashes(leaves)

    calls: list[list[TileKey]] = []
    reader = node_reader_from_tiles(fetcher(store, calls), size)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, reader)
    verify_inclusion(leaves[index], index, size, proof, root)
    old = data.draw(st.integers(1, size), label="old")
    old_root = root_from_leaf_hashes(leaves[:old])
    cproof = consistency_proof(old, size, reader)
    verify_consistency(old, size, old_root, root, cproof)
    assert len(calls) <= 2  # one tile fetch per proof (none for an empty proof)
    for keys in calls:
        assert all(width == tile_width(level, index_, size) for level, index_, width in keys)

    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, proof, flip(root, bit))
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="i")
        with pytest.raises(ProofError):
            bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
            verify_inclusion(leaves[index], index, size, bad, root)
    with pytest.raises(ProofError):
        verify_consistency(old, size, old_root, flip(root, bit), cproof)
    with pytest.raises(ProofError):
        verify_consistency(old, size, flip(old_root, bit), root, cproof)
    if cproof:
        i = data.draw(st.integers(0, len(cproof) - 1), label="j")
        with pytest.raises(ProofError):
            bad = [*cproof[:i], flip(cproof[i], bit), *cproof[i + 1 :]]
            verify_consistency(old, size, old_root, root, bad)


@pytest.mark.parametrize(
    "cuts",
    [
        [65_536],
        [65_535, 65_537],
        [1, 256, 65_280, 65_536, 65_791],
        [30_000, 65_000, 66_000],
    ],
)
def test_tiles_across_level_two(cuts: list[int]) -> None:
    """Sizes around 65,536 = 256**2, where the first level-1 tile fills and level 2 appears."""
    n = 66_100
    leaves = leaves_for(n)
    store = build(split(leaves, cuts))
    assert store == build([leaves])
    check_store(store, leaves)
    read_tile = lambda level, index: store[(level, index)]  # noqa: E731
    for size in (65_535, 65_536, 65_537, 65_792, n):
        root = root_from_leaf_hashes(leaves[:size])
        assert tiles_root(size, read_tile) == root
        reader = node_reader_from_tiles(fetcher(store), size)
        for index in (0, 255, 256, 65_535, size - 1):
            if index < size:
                proof = inclusion_proof(index, size, reader)
                verify_inclusion(leaves[index], index, size, proof, root)
        for old in (1, 256, 65_535, 65_536, size):
            if old <= size:
                proof = consistency_proof(old, size, reader)
                old_root = root_from_leaf_hashes(leaves[:old])
                verify_consistency(old, size, old_root, root, proof)


# --- error handling ---------------------------------------------------------------------------


def test_append_rejects_bad_input() -> None:
    store = build([leaves_for(10)])
    read_tile = lambda level, index: store[(level, index)]  # noqa: E731
    assert append_to_tiles(10, [], read_tile) == {}
    with pytest.raises(TileError):
        append_to_tiles(-1, leaves_for(1), read_tile)
    with pytest.raises(TileError):
        append_to_tiles(10, [b"\x00" * 31], read_tile)
    with pytest.raises(TileError, match="want at least 11 hashes"):
        append_to_tiles(11, leaves_for(1), read_tile)  # stored tile is narrower than claimed
    with pytest.raises(TileError):
        append_to_tiles(10, leaves_for(1), lambda level, index: store[(0, 0)] + b"\x00")


def test_node_reader_rejects_bad_tiles_and_nodes() -> None:
    store = build([leaves_for(300)])
    good = node_reader_from_tiles(fetcher(store), 300)
    assert good([]) == []
    assert good([(0, 5), (8, 0)]) == [leaves_for(6)[5], root_from_leaf_hashes(leaves_for(256))]
    for node in [(0, 300), (9, 0), (-1, 0), (0, -1), (512, 0)]:
        with pytest.raises(TileError):
            good([node])
    short = node_reader_from_tiles(lambda keys: {k: b"\x00" * 32 for k in keys}, 300)
    with pytest.raises(TileError):
        short([(0, 5)])
    missing = node_reader_from_tiles(lambda keys: {}, 300)
    with pytest.raises(TileError, match="not returned"):
        missing([(0, 5)])
    with pytest.raises(TileError):
        node_reader_from_tiles(fetcher(store), -1)


def test_tiles_root_of_empty_tree_reads_nothing() -> None:
    def no_reads(level: int, index: int) -> bytes:
        raise AssertionError("read")

    assert tiles_root(0, no_reads) == hashlib.sha256(b"").digest()


@settings(max_examples=30, deadline=None)
@given(tile=st.integers(0, 2), extra=st.integers(0, 700), data=st.data())
def test_tile_inner_proofs_are_the_first_eight_proof_hashes(
    tile: int, extra: int, data: st.DataObject
) -> None:
    size = (tile + 1) * TILE_WIDTH + extra  # the tile is full in every tree this large
    leaves = leaves_for(size)
    positions = data.draw(st.lists(st.integers(0, TILE_WIDTH - 1), min_size=1, max_size=5))
    hashes = b"".join(leaves[tile * TILE_WIDTH : (tile + 1) * TILE_WIDTH])
    kept = tile_inner_proofs(hashes, positions)
    reader = node_reader_from_tiles(fetcher(build([leaves])), size)
    for position in positions:
        proof = inclusion_proof(tile * TILE_WIDTH + position, size, reader)
        assert kept[position] == b"".join(proof[:TILE_HEIGHT])


def test_tile_inner_proofs_reject_partial_tiles_and_bad_positions() -> None:
    with pytest.raises(TileError, match="full tile"):
        tile_inner_proofs(b"".join(leaves_for(TILE_WIDTH - 1)), [0])
    with pytest.raises(TileError, match="not in a tile"):
        tile_inner_proofs(b"".join(leaves_for(TILE_WIDTH)), [TILE_WIDTH])
