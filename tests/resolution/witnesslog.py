"""A small log for the witness's tests: leaves, signed checkpoints and consistency proofs made
with resolution's own functions, forks signed with the same key, and an add-checkpoint client.

``ToyLog(signer, n)`` holds ``n`` leaves; ``fork(at)`` is another history that shares the first
``at`` leaves and then differs, signed by the same log key: the split view a witness must
refuse once it has cosigned the honest one.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from dataclasses import dataclass, field

from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
from resolution.protocol.merkle import (
    NodeId,
    consistency_proof,
    leaf_hash,
    root_from_leaf_hashes,
)
from resolution.protocol.note import Signer
from resolution.protocol.witness import (
    ADD_CHECKPOINT_PATH,
    AddCheckpoint,
    format_add_checkpoint,
)


@dataclass
class ToyLog:
    """A log of ``size`` leaves ``tag-0``, ``tag-1``, ..., signed by ``signer`` (its name is
    the origin)."""

    signer: Signer
    size: int
    tag: str = "honest"
    leaves: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.grow(self.size)

    def grow(self, size: int) -> None:
        while len(self.leaves) < size:
            self.leaves.append(leaf_hash(f"{self.tag}-{len(self.leaves)}".encode()))
        self.size = size

    def fork(self, at: int, size: int, tag: str = "fork") -> ToyLog:
        """Another history with the first ``at`` leaves of this one, then its own."""
        other = ToyLog(self.signer, 0, tag)
        other.leaves = self.leaves[:at]
        other.grow(size)
        return other

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes(self.leaves[:size])

    def checkpoint(self, size: int | None = None) -> bytes:
        """The signed checkpoint of the first ``size`` leaves (default: all)."""
        n = self.size if size is None else size
        return sign_checkpoint(Checkpoint(self.signer.name, n, self.root(n)), self.signer)

    def node(self, ids: Sequence[NodeId]) -> list[bytes]:
        return [
            root_from_leaf_hashes(self.leaves[index << level : (index + 1) << level])
            for level, index in ids
        ]

    def proof(self, old: int, new: int | None = None) -> tuple[bytes, ...]:
        n = self.size if new is None else new
        return () if old == 0 else tuple(consistency_proof(old, n, self.node))

    def request(self, old: int, size: int | None = None) -> bytes:
        """The add-checkpoint body for the tree of ``size`` leaves, from ``old``."""
        n = self.size if size is None else size
        return format_add_checkpoint(AddCheckpoint(old, self.proof(old, n), self.checkpoint(n)))


def post(address: tuple[str, int], body: bytes, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """POST ``body`` to the witness's add-checkpoint; return status, content type and body."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("POST", ADD_CHECKPOINT_PATH, body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()
