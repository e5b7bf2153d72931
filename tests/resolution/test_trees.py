"""Tests for resolution.client.trees: a kept checkpoint, and newer ones proven to extend it
with the log's consistency proofs (built here for real); a fork signed with the same key, a
smaller tree or another root for the same size is a split view."""

from __future__ import annotations

import pytest

from resolution.client.trees import SplitViewError, tree_advance
from resolution.protocol.checkpoint import Checkpoint
from resolution.protocol.note import generate_signer
from tests.resolution.witnesslog import ToyLog

SIGNER = generate_signer("example.org/log")


def head(log: ToyLog, size: int) -> Checkpoint:
    return Checkpoint(SIGNER.name, size, log.root(size))


def test_a_larger_tree_with_a_valid_proof_moves_the_pin() -> None:
    log = ToyLog(SIGNER, 20)
    asked: list[tuple[int, int]] = []

    def fetch(old: int, new: int) -> tuple[bytes, ...]:
        asked.append((old, new))
        return log.proof(old, new)

    assert tree_advance(head(log, 7), head(log, 20), fetch) is True
    assert asked == [(7, 20)]
    assert tree_advance(head(log, 20), head(log, 20), fetch) is False  # the same tree
    assert tree_advance(Checkpoint(SIGNER.name, 0, log.root(0)), head(log, 3), fetch) is True
    assert asked == [(7, 20)]  # neither needed a proof


def test_a_fork_is_a_split_view_and_carries_both_checkpoints() -> None:
    honest = ToyLog(SIGNER, 20)
    fork = honest.fork(at=10, size=25)
    with pytest.raises(SplitViewError, match="does not extend the one of 20 entries") as caught:
        tree_advance(
            head(honest, 20),
            head(fork, 25),
            fork.proof,  # whatever the log answers, no proof links the two
            pinned_note=honest.checkpoint(20),
            shown_note=fork.checkpoint(25),
        )
    assert str(caught.value).startswith("SPLIT VIEW: the log example.org/log now shows")
    assert caught.value.pinned == honest.checkpoint(20)
    assert caught.value.shown == fork.checkpoint(25)


def test_a_smaller_tree_or_another_root_is_a_split_view() -> None:
    honest = ToyLog(SIGNER, 20)
    fork = honest.fork(at=10, size=20)
    with pytest.raises(SplitViewError, match="a tree of 12 entries, smaller than the 20"):
        tree_advance(head(honest, 20), head(honest, 12), honest.proof)
    with pytest.raises(SplitViewError, match="signed two roots for its tree of 20 entries"):
        tree_advance(head(honest, 20), head(fork, 20), honest.proof)


def test_an_older_tree_is_accepted_where_asked_when_the_pinned_one_extends_it() -> None:
    honest = ToyLog(SIGNER, 20)
    fork = honest.fork(at=10, size=12)
    asked: list[tuple[int, int]] = []

    def fetch(old: int, new: int) -> tuple[bytes, ...]:
        asked.append((old, new))
        return honest.proof(old, new)

    # A lookup answered from a checkpoint a little behind: the pin stays, proven to extend it.
    assert tree_advance(head(honest, 20), head(honest, 12), fetch, older=True) is False
    assert asked == [(12, 20)]
    assert tree_advance(head(honest, 20), head(honest, 0), fetch, older=True) is False
    # An older tree the pinned one does not extend is a split view, with both notes.
    with pytest.raises(SplitViewError, match="that the one of 20 entries it showed before") as c:
        tree_advance(
            head(honest, 20),
            head(fork, 12),
            fetch,
            pinned_note=honest.checkpoint(20),
            shown_note=fork.checkpoint(12),
            older=True,
        )
    assert c.value.shown == fork.checkpoint(12)


def test_checkpoints_of_two_logs_are_a_programming_error() -> None:
    log = ToyLog(SIGNER, 3)
    with pytest.raises(ValueError, match="checkpoints of two logs"):
        tree_advance(head(log, 3), Checkpoint("other/log", 3, log.root(3)), log.proof)
