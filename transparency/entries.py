"""What an append gives its writer: where the entry went, and for a version-2 entry the opening
and content of its commitment (``transparency.services``, ``transparency.selectors``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppendedEntry:
    """Where an entry went: ``{index, leaf_hash}`` in API responses."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class CommittedEntry(AppendedEntry):
    """A version-2 entry appended, with its ``opening`` and the ``content`` (canonical JSON)
    its commitment covers."""

    opening: bytes
    content: bytes
