"""Tests for resolution.protocol.merkle: the transparency-dev/merkle vectors, an RFC 6962 reference
model, and property tests of generation against verification."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolution.protocol.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeId,
    NodeReader,
    ProofError,
    consistency_proof,
    inclusion_proof,
    inclusion_proof_plan,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"
INCLUSION_FILES = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((VECTORS / "consistency").rglob("*.json"))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _vector_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


# --- RFC 6962 §2.1 reference model: the recursive definitions, straight from the text ---------


def _k(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def leaves_for(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def reader_for(leaves: Sequence[bytes], calls: list[int] | None = None) -> NodeReader:
    """A NodeReader over an in-memory list, checking that only perfect subtrees are asked for."""

    def read(ids: Sequence[NodeId]) -> list[bytes]:
        if calls is not None:
            calls.append(len(ids))
        out = []
        for level, index in ids:
            lo, hi = index << level, (index + 1) << level
            assert hi <= len(leaves), f"({level}, {index}) is not a perfect subtree"
            out.append(ref_mth(leaves[lo:hi]))
        return out

    return read


def flip(value: bytes, bit: int) -> bytes:
    b = bytearray(value)
    b[(bit // 8) % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


# --- vectors -----------------------------------------------------------------------------------


def test_vectors_present() -> None:
    assert len(INCLUSION_FILES) > 50
    assert len(CONSISTENCY_FILES) > 50


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_vector_id)
def test_inclusion_vectors(path: Path) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_vector_id)
def test_consistency_vectors(path: Path) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), proof)
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# The happy paths of the numbered folders are proofs over the RFC 6962 test tree.
HAPPY_FILES = [
    p
    for p in INCLUSION_FILES + CONSISTENCY_FILES
    if p.name == "happy-path.json" and p.parent.name.isdigit()
]


@pytest.mark.parametrize("path", HAPPY_FILES, ids=_vector_id)
def test_happy_vectors_are_regenerated(path: Path) -> None:
    """Every happy-path proof in the vectors comes out of our generator byte for byte."""
    v = _load(path)
    # The vectors use the RFC 6962 test tree; rebuild it from its eight published entries.
    entries = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    leaves = [leaf_hash(e) for e in entries]
    proof = [_b64(p) for p in v["proof"] or []]
    if "leafIdx" in v:
        tree = leaves[: v["treeSize"]]
        assert root_from_leaf_hashes(tree) == _b64(v["root"])
        assert inclusion_proof(v["leafIdx"], v["treeSize"], reader_for(tree)) == proof
    else:
        assert root_from_leaf_hashes(leaves[: v["size1"]]) == _b64(v["root1"])
        assert root_from_leaf_hashes(leaves[: v["size2"]]) == _b64(v["root2"])
        got = consistency_proof(v["size1"], v["size2"], reader_for(leaves[: v["size2"]]))
        assert got == proof


# --- hashing -------------------------------------------------------------------------------------


def test_hash_definitions() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert root_from_leaf_hashes([a]) == a


def test_rfc6962_test_tree_root() -> None:
    # Root of the eight-entry RFC 6962 test tree, as used by the inclusion vectors.
    root = _b64("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
    entries = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43"]
    entries += [bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
    assert root_from_leaf_hashes([leaf_hash(e) for e in entries]) == root


@pytest.mark.parametrize("n", [*range(70), 127, 128, 129, 1000, 1025])
def test_root_matches_reference(n: int) -> None:
    leaves = leaves_for(n)
    assert root_from_leaf_hashes(leaves) == ref_mth(leaves)
    assert tree_root(n, reader_for(leaves)) == ref_mth(leaves)


def test_root_rejects_bad_hashes() -> None:
    with pytest.raises(ProofError, match=r"leaf hash\[1\] is 31 bytes"):
        root_from_leaf_hashes([b"\x00" * 32, b"\x00" * 31])


def test_perfect_subtrees() -> None:
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(5, 16) == [(0, 5), (1, 3), (3, 1)]
    with pytest.raises(ProofError):
        perfect_subtrees(3, 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=700), st.integers(min_value=0, max_value=50))
def test_compact_range_gives_the_rfc6962_root(size, extra):
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size + extra)]
    grown = CompactRange()
    for leaf in leaves[:size]:
        grown.append(leaf)
    assert grown.root() == (root_from_leaf_hashes(leaves[:size]) if size else EMPTY_ROOT)
    # Its hashes are those of the perfect subtrees covering the tree, largest first.
    assert grown.hashes == reader_for(leaves[:size])(perfect_subtrees(0, size))
    resumed = CompactRange(size, grown.hashes)
    for leaf in leaves[size:]:
        resumed.append(leaf)
    total = size + extra
    assert resumed.root() == (root_from_leaf_hashes(leaves) if total else EMPTY_ROOT)


def test_compact_range_refuses_hashes_that_do_not_fit_its_size() -> None:
    with pytest.raises(ValueError, match="has 2 hashes"):
        CompactRange(3, [b"\x00" * 32])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [b"\x00" * 31])


# --- generation vs the reference model ---------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 40))
def test_inclusion_matches_reference_exhaustively(n: int) -> None:
    leaves = leaves_for(n)
    read = reader_for(leaves)
    root = ref_mth(leaves)
    for m in range(n):
        proof = inclusion_proof(m, n, read)
        assert proof == ref_path(m, leaves)
        verify_inclusion(leaves[m], m, n, proof, root)


@pytest.mark.parametrize("n", range(1, 40))
def test_consistency_matches_reference_exhaustively(n: int) -> None:
    leaves = leaves_for(n)
    read = reader_for(leaves)
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, read)
        assert proof == ref_subproof(m, leaves, True)
        verify_consistency(m, n, ref_mth(leaves[:m]), ref_mth(leaves), proof)


def test_one_reader_call_per_proof() -> None:
    leaves = leaves_for(1000)
    calls: list[int] = []
    read = reader_for(leaves, calls)
    inclusion_proof(777, 1000, read)
    consistency_proof(333, 1000, read)
    tree_root(1000, read)
    assert len(calls) == 3


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(1, 3000))
def test_proofs_verify_and_detect_tampering(data: st.DataObject, n: int) -> None:
    leaves = leaves_for(n)
    read = reader_for(leaves)
    root = root_from_leaf_hashes(leaves)
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(m, n, read)
    assert root_from_inclusion_proof(leaves[m], m, n, proof) == root
    verify_inclusion(leaves[m], m, n, proof, root)
    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(ProofError):
        verify_inclusion(leaves[m], m, n, proof, flip(root, bit))
    with pytest.raises(ProofError):
        verify_inclusion(flip(leaves[m], bit), m, n, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="proof hash")
        bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(leaves[m], m, n, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[m], m, n, proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[m], m, n, [*proof, root], root)

    old = data.draw(st.integers(1, n), label="old size")
    old_root = root_from_leaf_hashes(leaves[:old])
    cproof = consistency_proof(old, n, read)
    verify_consistency(old, n, old_root, root, cproof)
    with pytest.raises(ProofError):
        verify_consistency(old, n, flip(old_root, bit), root, cproof)
    with pytest.raises(ProofError):
        verify_consistency(old, n, old_root, flip(root, bit), cproof)
    if cproof:
        i = data.draw(st.integers(0, len(cproof) - 1), label="consistency hash")
        bad = [*cproof[:i], flip(cproof[i], bit), *cproof[i + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(old, n, old_root, root, bad)


def test_large_tree_proofs() -> None:
    """Sizes near 2**40 exercise deep paths without materialising leaves: in this tree every
    leaf is the same, so a perfect subtree's hash depends only on its level."""
    by_level = [leaf_hash(b"same")]
    for _ in range(64):
        by_level.append(node_hash(by_level[-1], by_level[-1]))

    def uniform(ids: Sequence[NodeId]) -> list[bytes]:
        return [by_level[level] for level, _ in ids]

    size = (1 << 40) + 12345
    root = tree_root(size, uniform)
    for index in (0, 12345, 1 << 39, size - 3, size - 1):
        proof = inclusion_proof(index, size, uniform)
        assert len(proof) == 41 if index < 1 << 40 else len(proof) <= 15
        verify_inclusion(by_level[0], index, size, proof, root)
    old = (1 << 39) + 7
    proof = consistency_proof(old, size, uniform)
    verify_consistency(old, size, tree_root(old, uniform), root, proof)


# --- input validation ----------------------------------------------------------------------------


def test_generation_rejects_bad_input() -> None:
    read = reader_for(leaves_for(8))
    for index, size in [(-1, 8), (8, 8), (0, 0), (0, -1)]:
        with pytest.raises(ProofError):
            inclusion_proof(index, size, read)
    for old, new in [(0, 8), (9, 8), (-1, 8), (0, 0)]:
        with pytest.raises(ProofError):
            consistency_proof(old, new, read)
    assert consistency_proof(8, 8, read) == []
    with pytest.raises(ProofError):
        tree_root(-1, read)
    with pytest.raises(ProofError):
        inclusion_proof(True, 8, read)  # bool is an int, but not a count


def test_generation_rejects_bad_reader() -> None:
    def short(ids: Sequence[NodeId]) -> list[bytes]:
        return [b"\x00" * 32] * (len(ids) - 1)

    def truncated(ids: Sequence[NodeId]) -> list[bytes]:
        return [b"\x00" * 31 for _ in ids]

    for read in (short, truncated):
        with pytest.raises(ProofError, match="node reader"):
            inclusion_proof(3, 8, read)


def test_verification_rejects_bad_input() -> None:
    leaves = leaves_for(5)
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(2, 5, reader_for(leaves))
    verify_inclusion(leaves[2], 2, 5, proof, root)
    bad_calls: list[tuple[Any, ...]] = [
        (leaves[2], -1, 5, proof, root),
        (leaves[2], 5, 5, proof, root),
        (leaves[2], 2, -5, proof, root),
        (leaves[2][:31], 2, 5, proof, root),
        (leaves[2], 2, 5, proof, root[:31]),
        (leaves[2], 2, 5, [*proof[:-1], proof[-1] + b"\x00"], root),
        (leaves[2], 2, 5, [], root),
    ]
    for call in bad_calls:
        with pytest.raises(ProofError):
            verify_inclusion(*call)
    old_root = root_from_leaf_hashes(leaves[:3])
    cproof = consistency_proof(3, 5, reader_for(leaves))
    verify_consistency(3, 5, old_root, root, cproof)
    bad_consistency: list[tuple[Any, ...]] = [
        (3, 5, old_root[:31], root, cproof),
        (3, 5, old_root, root + b"\x00", cproof),
        (-3, 5, old_root, root, cproof),
        (3, 5, old_root, root, [c[:16] for c in cproof]),
        (3, 5, old_root, root, []),
        (5, 3, root, old_root, cproof),
        (3, 3, old_root, old_root, cproof),
    ]
    for ccall in bad_consistency:
        with pytest.raises(ProofError):
            verify_consistency(*ccall)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(1, 600))
def test_a_planned_proof_is_the_proof(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(0, size - 1))
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    read = reader_for(leaves)
    plan = inclusion_proof_plan(index, size)
    hashes = dict(zip(plan.nodes, read(plan.nodes), strict=True))
    assert plan.proof(hashes) == inclusion_proof(index, size, read)
    with pytest.raises(ProofError):
        inclusion_proof_plan(size, size)
