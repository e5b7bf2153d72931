"""Pinning a log's tree: the newest checkpoint a client verified, and the check that every
later one extends it -- split-view detection without gossip (DESIGN §7.3).

A log that shows a victim's callers a fork (a tree holding a rogue handler or certificate)
and auditors the honest tree signs both with its own key.  Witnesses refuse to cosign the
second of two inconsistent trees, but a client only learns of a fork it is shown if it
remembers what it was shown before.  So a holder keeps the newest checkpoint it verified --
cosigned by a quorum of the log's witnesses, or log-signed when the log has none -- and asks
for a consistency proof (RFC 9162 §2.1.4) from it to each newer one.  A tree that does not
extend the one kept, or that is smaller than it, is a *split view*: the log (or whoever
answers in its name) showed two histories. A lookup's answer may come with a checkpoint a
little behind the newest: a smaller tree is then accepted when the one kept is proven to
extend it (``older``).  The two signed checkpoints are then the proof of
it, since both carry the log's signature.

Public API: ``SplitViewError``, ``ConsistencyFetcher``, ``tree_advance``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from resolution.protocol.checkpoint import Checkpoint
from resolution.protocol.merkle import ProofError, verify_consistency

ConsistencyFetcher = Callable[[int, int], Sequence[bytes]]
"""``fetch(old, new)``: the log's consistency proof from its tree of ``old`` leaves to that of
``new`` (``Client.log_consistency_proof``)."""


class SplitViewError(Exception):
    """The log showed a tree that does not extend one it showed before.

    ``pinned`` and ``shown`` are the two signed checkpoints, when known: together they prove
    the log's misbehaviour to anyone holding its key."""

    def __init__(
        self, message: str, *, pinned: bytes | None = None, shown: bytes | None = None
    ) -> None:
        super().__init__(message)
        self.pinned, self.shown = pinned, shown


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def tree_advance(
    pinned: Checkpoint,
    shown: Checkpoint,
    fetch: ConsistencyFetcher,
    *,
    pinned_note: bytes | None = None,
    shown_note: bytes | None = None,
    older: bool = False,
) -> bool:
    """Check that ``shown`` extends ``pinned`` (both verified, of the same log); return whether
    it is newer, i.e. whether the pin is to move to it.

    The same tree again is fine; a larger one must come with a consistency proof from the
    pinned one (fetched with ``fetch``, verified here).  Raises ``SplitViewError`` for a
    smaller tree (unless ``older``: then ``pinned`` must be proven to extend it), another root
    for the same size, or a proof that does not verify; the notes, if given, are carried as
    the evidence.
    """
    if pinned.origin != shown.origin:
        raise ValueError(f"checkpoints of two logs: {pinned.origin!r} and {shown.origin!r}")

    def split(problem: str) -> SplitViewError:
        return SplitViewError(
            f"SPLIT VIEW: the log {shown.origin} {problem}: it shows different histories to "
            f"different clients, or rewrote its own",
            pinned=pinned_note,
            shown=shown_note,
        )

    def unproven(old: Checkpoint, new: Checkpoint) -> str | None:
        """Why ``new`` is not proven to extend ``old``; None when it is."""
        if old.size == 0:
            return None  # every tree extends the empty one (RFC 6962 §2.1.2)
        try:
            proof = fetch(old.size, new.size)
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        except ProofError as exc:
            return str(exc)
        return None

    if shown.size < pinned.size:
        if not older:
            raise split(
                f"now shows a tree of {shown.size} entries, smaller than the {pinned.size} it "
                f"showed before"
            )
        failure = unproven(shown, pinned)
        if failure is not None:
            raise split(
                f"now shows a tree of {shown.size} entries that the one of {pinned.size} "
                f"entries it showed before does not extend ({failure})"
            )
        return False
    if shown.size == pinned.size:
        if shown.root_hash != pinned.root_hash:
            raise split(
                f"signed two roots for its tree of {shown.size} entries: "
                f"{_b64(pinned.root_hash)} before, {_b64(shown.root_hash)} now"
            )
        return False
    failure = unproven(pinned, shown)
    if failure is not None:
        raise split(
            f"now shows a tree of {shown.size} entries that does not extend the one of "
            f"{pinned.size} entries it showed before ({failure})"
        )
    return True  # every tree extends the empty one (RFC 6962 §2.1.2)
    try:
        proof = fetch(pinned.size, shown.size)
        verify_consistency(pinned.size, shown.size, pinned.root_hash, shown.root_hash, proof)
    except ProofError as exc:
        raise split(
            f"now shows a tree of {shown.size} entries that does not extend the one of "
            f"{pinned.size} entries it showed before ({exc})"
        ) from None
    return True
