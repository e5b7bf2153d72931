"""Merkle tree hashing, proof generation and proof verification (RFC 6962 §2.1, RFC 9162 §2.1).

The tree is the SHA-256 Merkle Tree Hash (MTH) of RFC 6962 §2.1: a leaf hashes as
``SHA-256(0x00 || entry)``, an interior node as ``SHA-256(0x01 || left || right)``, and a tree
of ``n > 1`` leaves splits at ``k``, the largest power of two smaller than ``n``.

Proofs are *generated* from the hashes of perfect subtrees only.  A perfect subtree is named by
``(level, index)``: it covers the leaves ``[index * 2**level, (index + 1) * 2**level)``, so
``(0, i)`` is the hash of leaf ``i``.  Those hashes never change once the subtree is complete,
which is what lets a server store them (or a client read them from tiles, see ``tiles.py``).
A proof hash whose subtree is *not* perfect (the right edge of a tree whose size is not a
power of two) is rehashed from the perfect subtrees that cover it, as the ``proof`` package of
github.com/transparency-dev/merkle does.  Every proof gathers the ids of all the hashes it
needs first and then makes a single call to the ``NodeReader``.

Proofs are *verified* exactly as RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency)
describe.  Every failure, including malformed input, raises ``ProofError``.

Public API: ``HASH_SIZE``, ``EMPTY_ROOT``, ``NodeId``, ``NodeReader``, ``ProofError``,
``leaf_hash``, ``node_hash``, ``root_from_leaf_hashes``, ``perfect_subtrees``, ``CompactRange``,
``tree_root``,
``inclusion_proof``, ``ProofPlan``, ``inclusion_proof_plan``, ``consistency_proof``,
``root_from_inclusion_proof``, ``verify_inclusion``, ``verify_consistency``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

HASH_SIZE: Final = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() -- the root of the empty tree (RFC 6962 §2.1)."""

NodeId = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index << level, (index+1) << level)``."""

NodeReader = Callable[[Sequence[NodeId]], list[bytes]]
"""Fetches the hashes of a batch of perfect subtrees, returned in the order asked for."""

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"  # RFC 6962 §2.1: domain separation of leaves ...
_NODE_PREFIX: Final = b"\x01"  # ... and of interior nodes (second-preimage resistance).


class ProofError(ValueError):
    """A Merkle proof, or an input to proof generation or verification, is invalid."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the leaf hash ``SHA-256(0x00 || entry)`` (RFC 6962 §2.1)."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1).

    The inputs are not checked: this is the innermost loop of every other function here.
    """
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    # set(map(len, ...)) runs in C: validating a million hashes costs a few milliseconds.
    lengths = set(map(len, hashes))
    if lengths - {HASH_SIZE}:
        bad = next(i for i, h in enumerate(hashes) if len(h) != HASH_SIZE)
        raise ProofError(f"{what}[{bad}] is {len(hashes[bad])} bytes, want {HASH_SIZE}")


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")


def _check_count(value: int, what: str) -> None:
    # bool is an int subclass; a True tree size is a bug, not a size of 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"{what} must be a non-negative integer, got {value!r}")


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return MTH of the leaves whose leaf hashes are ``hashes`` (RFC 6962 §2.1).

    Hashes level by level, pairing neighbours and carrying an odd last node up unchanged; this
    yields the same root as the recursive split at the largest power of two below ``n``.
    """
    _check_hashes(hashes, "leaf hash")
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    sha, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        pairs = iter(level)  # zip(it, it) walks neighbours; an odd last node is left out
        upper = [sha(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


def perfect_subtrees(begin: int, end: int) -> list[NodeId]:
    """Return the perfect subtrees covering leaves ``[begin, end)``, left to right.

    Each subtree is the largest one that starts at the current position (it must be aligned to
    its own size) and does not pass ``end``.  For ``[0, n)`` these are the subtrees named by
    the set bits of ``n``, largest first: the roots whose right-to-left fold is MTH(D[n]).
    """
    _check_count(begin, "begin")
    _check_count(end, "end")
    if begin > end:
        raise ProofError(f"range [{begin}, {end}) is reversed")
    nodes: list[NodeId] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    # Subtrees listed left to right with strictly decreasing sizes hash together right to left:
    # the smaller right part is always the right child (RFC 6962 §2.1, k < n <= 2k).
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = _sha256(_NODE_PREFIX + left + acc).digest()
    return acc


class CompactRange:
    """The perfect subtrees covering leaves ``[0, size)``, largest first (RFC 6962 §2.1).

    Appending a leaf merges equal-sized subtrees, as a binary counter carries; the root is
    their fold from the right.  It holds at most one hash per bit of the size: what a monitor
    or an auditor keeps of a tree to extend it later (the hashes of ``perfect_subtrees(0, size)``).
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} hashes")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"compact range hashes are {HASH_SIZE} bytes")
        self.size = size
        # Each subtree with its level (log2 of its leaves): the set bits of size, high first.
        levels = [bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]
        self._nodes = list(zip(levels, hashes, strict=True))

    @property
    def hashes(self) -> list[bytes]:
        return [h for _, h in self._nodes]

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash at index ``size``."""
        level, node = 0, leaf
        nodes = self._nodes
        while nodes and nodes[-1][0] == level:
            _, left = nodes.pop()
            node = node_hash(left, node)
            level += 1
        nodes.append((level, node))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the ``size`` leaves appended so far (RFC 6962 §2.1)."""
        return _fold_right(self.hashes) if self._nodes else EMPTY_ROOT


def _fetch(node: NodeReader, ids: Sequence[NodeId]) -> list[bytes]:
    if not ids:
        return []
    hashes = list(node(ids))
    if len(hashes) != len(ids):
        raise ProofError(f"node reader returned {len(hashes)} hashes for {len(ids)} nodes")
    _check_hashes(hashes, "node reader hash")
    return hashes


def _path_nodes(level: int, index: int, size: int) -> tuple[list[NodeId], int, int]:
    """Ids of the proof that perfect subtree ``(level, index)`` is in the tree of ``size``.

    Returns ``(ids, begin, end)``: ``ids[begin:end]`` together cover one node of the proof that
    is not a perfect subtree (the "ephemeral" right-edge node), and must be folded into one
    hash.  The layout follows transparency-dev/merkle's proof.nodes.
    """
    # The fork is the lowest ancestor of the target whose right sibling crosses ``size``:
    # below it every sibling is perfect; its sibling covers [end, size); above it every proof
    # hash is a left sibling, together covering [0, begin).
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level = level + inner
    begin = (index >> inner) << fork_level
    end = begin + (1 << fork_level)
    ids: list[NodeId] = [(level + j, (index >> j) ^ 1) for j in range(inner)]
    first = len(ids)
    ids += perfect_subtrees(end, size)
    last = len(ids)
    ids += reversed(perfect_subtrees(0, begin))  # bottom-up, as the verifier consumes them
    return ids, first, last


def _collapse(hashes: list[bytes], first: int, last: int) -> list[bytes]:
    if last - first > 1:
        hashes[first:last] = [_fold_right(hashes[first:last])]
    return hashes


def tree_root(size: int, node: NodeReader) -> bytes:
    """Return MTH of the tree of ``size`` leaves from the hashes of its perfect subtrees."""
    _check_count(size, "tree size")
    if size == 0:
        return EMPTY_ROOT
    return _fold_right(_fetch(node, perfect_subtrees(0, size)))


@dataclass(frozen=True)
class ProofPlan:
    """The nodes a proof is made of, and how: ``nodes[first:last]`` fold into one hash.

    Which nodes a proof needs depends only on the index and the tree size, so a server can
    plan many proofs, read all their nodes at once, then assemble each (``proof``).
    """

    nodes: list[NodeId]
    first: int
    last: int

    def proof(self, hashes: Mapping[NodeId, bytes]) -> list[bytes]:
        """The proof from the hashes of (at least) ``nodes``."""
        return _collapse([hashes[node] for node in self.nodes], self.first, self.last)


def inclusion_proof_plan(index: int, size: int) -> ProofPlan:
    """The plan of PATH(index, D[size]) (``inclusion_proof``)."""
    _check_count(index, "leaf index")
    _check_count(size, "tree size")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    return ProofPlan(*_path_nodes(0, index, size))


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    """Return the audit path PATH(index, D[size]) of RFC 6962 §2.1.1 (RFC 9162 §2.1.3.1)."""
    plan = inclusion_proof_plan(index, size)
    return _collapse(_fetch(node, plan.nodes), plan.first, plan.last)


def consistency_proof(old: int, new: int, node: NodeReader) -> list[bytes]:
    """Return PROOF(old, D[new]) of RFC 6962 §2.1.2 (RFC 9162 §2.1.4.1).

    Equal sizes give the empty proof.  The proof is defined only for ``0 < old <= new``
    (RFC 6962 §2.1.2); anything else raises ``ProofError``.
    """
    _check_count(old, "old tree size")
    _check_count(new, "new tree size")
    if old > new:
        raise ProofError(f"old tree size {old} is larger than new tree size {new}")
    if old == 0:
        raise ProofError("a consistency proof from the empty tree is undefined (RFC 6962 §2.1.2)")
    if old == new:
        return []
    # The old tree's last perfect subtree (the lowest set bit of ``old``) is the seed: the proof
    # is its hash followed by its audit path in the new tree.  When ``old`` is a power of two the
    # seed is the old root itself, which the verifier already has, so it is left out
    # (RFC 6962 §2.1.2, SUBPROOF with b = true).
    level = (old & -old).bit_length() - 1
    index = (old - 1) >> level
    ids, first, last = _path_nodes(level, index, new)
    if index:
        ids.insert(0, (level, index))
        first, last = first + 1, last + 1
    return _collapse(_fetch(node, ids), first, last)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that ``proof`` yields for ``leaf_hash`` at ``index`` (RFC 9162 §2.1.3.2).

    Raises ``ProofError`` if the inputs are malformed or the proof has the wrong length for
    ``index`` and ``size``.
    """
    _check_count(index, "leaf index")
    _check_count(size, "tree size")
    _check_hash(leaf_hash, "leaf hash")
    _check_hashes(proof, "proof")
    # Step 1: the index must be inside the tree.
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    # Steps 2-3.
    fn, sn, r = index, size - 1, leaf_hash
    sha, prefix = _sha256, _NODE_PREFIX
    for p in proof:
        # Step 4a: the path reached the root before the proof ran out.
        if sn == 0:
            raise ProofError(f"inclusion proof has too many hashes ({len(proof)})")
        if fn & 1 or fn == sn:
            # Step 4b: p is a left sibling.
            r = sha(prefix + p + r).digest()
            if not fn & 1:
                # Skip the levels where this node is a lone right-edge node with no sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(prefix + r + p).digest()
        # Step 4c.
        fn >>= 1
        sn >>= 1
    # Step 5: the whole path must have been consumed.
    if sn != 0:
        raise ProofError(f"inclusion proof has too few hashes ({len(proof)})")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Implements RFC 9162 §2.1.3.2; raises ``ProofError`` on any failure.
    """
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(leaf_hash, index, size, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} of {size} does not match the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of the new tree.

    Implements RFC 9162 §2.1.4.2; raises ``ProofError`` on any failure.  Consistency is only
    defined for ``0 < old_size <= new_size`` (RFC 6962 §2.1.2).  For equal sizes the proof must
    be empty and the two roots identical -- nothing is hashed, so the roots are only compared.
    """
    _check_count(old_size, "old tree size")
    _check_count(new_size, "new tree size")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is undefined (RFC 6962 §2.1.2)")
    if old_size == new_size:
        if proof:
            raise ProofError(f"tree sizes are equal but the proof has {len(proof)} hashes")
        if old_root != new_root:
            raise ProofError(f"different roots for the same tree size {old_size}")
        return
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    _check_hashes(proof, "proof")
    # Step 1: a proof between different sizes is never empty.
    if not proof:
        raise ProofError("consistency proof is empty")
    # Step 2: if the old tree is perfect its root is the seed and was left out of the proof.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    sha, prefix = _sha256, _NODE_PREFIX
    # Step 6.
    for c in path[1:]:
        # Step 6a: the path reached the new root before the proof ran out.
        if sn == 0:
            raise ProofError(f"consistency proof has too many hashes ({len(proof)})")
        if fn & 1 or fn == sn:
            # Step 6b: c is a left sibling, shared by both trees.
            fr = sha(prefix + c + fr).digest()
            sr = sha(prefix + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            # c is a right sibling that exists only in the new tree.
            sr = sha(prefix + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError(f"consistency proof has too few hashes ({len(proof)})")
    if fr != old_root:
        raise ProofError(f"consistency proof {old_size} -> {new_size} does not match the old root")
    if sr != new_root:
        raise ProofError(f"consistency proof {old_size} -> {new_size} does not match the new root")
