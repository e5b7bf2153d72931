"""What an append gives its writer: which entry it is, and the log's promise to include it; for a
version-2 entry also the opening and content of its commitment (``transparency.services``,
``transparency.selectors``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppendedEntry:
    """An entry appended: ``{leaf_hash, promise}`` in API responses.

    ``entry_id`` is its row (what the change's own rows point at); its index in the log is
    given later by the sequencer, within the promise's bound. ``promise`` is the signed note of
    resolution.protocol.promise.
    """

    entry_id: int
    leaf_hash: bytes
    promise: str


@dataclass(frozen=True)
class CommittedEntry(AppendedEntry):
    """A version-2 entry appended, with its ``opening`` and the ``content`` (canonical JSON)
    its commitment covers."""

    opening: bytes
    content: bytes
