"""Tests for resolution.protocol.witnessed and verify_lookup's witness policy: checkpoints
cosigned here for real (CosignatureSigner) meet a 2-of-3 quorum or are refused, naming the
witnesses missing; forged and unknown cosignature lines never count; a fork signed with the
log's own key but shown with the honest checkpoint's cosignatures is refused."""

from __future__ import annotations

from typing import Any

import pytest

from resolution import LookupQuorumError, verify_lookup
from resolution.protocol.checkpoint import Checkpoint, CheckpointError, sign_checkpoint
from resolution.protocol.cosignature import CosignatureSigner, add_cosignatures, generate_cosigner
from resolution.protocol.note import generate_signer, sign_note, verifier_key
from resolution.protocol.policy import parse_policy
from resolution.protocol.witnessed import (
    UNWITNESSED,
    QuorumError,
    Witnessing,
    open_witnessed_checkpoint,
)
from tests.resolution.test_lookup import NOTE_KEY, ORIGIN, SIGNER, VRF_KEY, Spec, build

WITNESSES = {name: generate_cosigner(f"{name}.witness.example") for name in ("a", "b", "c")}
POLICY_TEXT = "\n".join(
    [
        f"log {NOTE_KEY}",
        *(f"witness {name} {w.verifier.vkey}" for name, w in WITNESSES.items()),
        "group two-of-three 2 a b c",
        "quorum two-of-three",
    ]
)
POLICY = parse_policy(POLICY_TEXT)
NO_QUORUM = parse_policy(f"log {NOTE_KEY}\nwitness a {WITNESSES['a'].verifier.vkey}\nquorum none\n")


def cosigned(note: bytes, *signers: CosignatureSigner) -> bytes:
    """``note`` with the cosignature of each of ``signers`` appended, as the log serves it."""
    text = note.decode().split("\n\n", 1)[0] + "\n"
    return add_cosignatures(note, [s.cosign(text, 1_700_000_000).line for s in signers])


def checkpoint(size: int = 5, root: bytes = bytes(range(32))) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), SIGNER)


def cosignature_lines(note: bytes) -> list[str]:
    """The signature lines after the log's own (the first)."""
    return [line + "\n" for line in note.decode().split("\n\n", 1)[1].splitlines()[1:]]


# --- open_witnessed_checkpoint -----------------------------------------------------------------


@pytest.mark.parametrize("pair", [("a", "b"), ("b", "c"), ("a", "c"), ("a", "b", "c")])
def test_two_of_three_cosignatures_meet_the_quorum(pair: tuple[str, ...]) -> None:
    note = cosigned(checkpoint(), *(WITNESSES[n] for n in pair))
    opened = open_witnessed_checkpoint(note, SIGNER.verifier, POLICY)
    assert opened.checkpoint == Checkpoint(ORIGIN, 5, bytes(range(32)))
    assert opened.note == note
    assert opened.witnessing == Witnessing("two-of-three", tuple(sorted(pair)))
    assert opened.witnessing.witnessed
    by = ", ".join(sorted(pair))
    assert str(opened.witnessing) == f"witnessed: quorum two-of-three met, cosigned by {by}"


def test_one_cosignature_misses_the_quorum_and_the_missing_witnesses_are_named() -> None:
    note = cosigned(checkpoint(), WITNESSES["b"])
    with pytest.raises(QuorumError) as caught:
        open_witnessed_checkpoint(note, SIGNER.verifier, POLICY)
    assert caught.value.missing == ("a", "c")
    assert "group two-of-three needs 2 of 3, has 1" in str(caught.value)
    assert "no valid cosignature from a, c" in str(caught.value)


def test_a_checkpoint_without_cosignatures_misses_the_quorum() -> None:
    with pytest.raises(QuorumError, match=r"from a, b, c$") as caught:
        open_witnessed_checkpoint(checkpoint(), SIGNER.verifier, POLICY)
    assert caught.value.missing == ("a", "b", "c")


def test_a_forged_cosignature_is_named_and_never_counted() -> None:
    # c's line made over another checkpoint: the right key name and ID, a wrong signature.
    other = cosigned(checkpoint(6), WITNESSES["c"])
    note = add_cosignatures(cosigned(checkpoint(), WITNESSES["a"]), cosignature_lines(other))
    with pytest.raises(QuorumError) as caught:
        open_witnessed_checkpoint(note, SIGNER.verifier, POLICY)
    assert (caught.value.missing, caught.value.invalid) == (("b", "c"), ("c",))
    assert str(caught.value).endswith("(the cosignature of c does not verify)")
    # With a second valid cosignature the quorum holds; the forged line is still reported.
    fine = cosigned(note, WITNESSES["b"])
    witnessing = open_witnessed_checkpoint(fine, SIGNER.verifier, POLICY).witnessing
    assert (witnessing.cosigned, witnessing.invalid) == (("a", "b"), ("c",))


def test_cosignatures_of_witnesses_outside_the_policy_are_ignored() -> None:
    # A witness of the same name with another key, and one the policy does not know.
    impostor = generate_cosigner(WITNESSES["a"].name)
    note = cosigned(checkpoint(), impostor, generate_cosigner("d.witness.example"))
    with pytest.raises(QuorumError) as caught:
        open_witnessed_checkpoint(note, SIGNER.verifier, POLICY)
    assert (caught.value.missing, caught.value.invalid) == (("a", "b", "c"), ())


def test_only_a_keys_first_line_counts() -> None:
    # As in signed-note: a forged line of a's first, its valid line after it, and b's.
    forged = cosignature_lines(cosigned(checkpoint(7), WITNESSES["a"]))
    note = cosigned(add_cosignatures(checkpoint(), forged), WITNESSES["a"], WITNESSES["b"])
    with pytest.raises(QuorumError) as caught:
        open_witnessed_checkpoint(note, SIGNER.verifier, POLICY)
    assert (caught.value.missing, caught.value.invalid) == (("a", "c"), ("a",))


def test_the_log_signature_is_still_required() -> None:
    text = checkpoint().decode().split("\n\n", 1)[0] + "\n"
    impostor = generate_signer(ORIGIN)  # the log's name, another key
    only_witnesses = cosigned(sign_note(text, impostor), WITNESSES["a"], WITNESSES["b"])
    with pytest.raises(CheckpointError):
        open_witnessed_checkpoint(only_witnesses, SIGNER.verifier, POLICY)


def test_a_policy_for_another_log_is_refused() -> None:
    other_log = verifier_key("other.example/log", generate_signer("x").public_key)
    policy = parse_policy(POLICY_TEXT.replace(f"log {NOTE_KEY}", f"log {other_log}"))
    note = cosigned(checkpoint(), WITNESSES["a"], WITNESSES["b"])
    with pytest.raises(QuorumError, match=r"does not list the log key example\.org/log"):
        open_witnessed_checkpoint(note, SIGNER.verifier, policy)
    # A policy without log lines applies to the log it is used with.
    anonymous = parse_policy(POLICY_TEXT.replace(f"log {NOTE_KEY}", ""))
    assert open_witnessed_checkpoint(note, SIGNER.verifier, anonymous).witnessing.witnessed


def test_without_a_policy_or_a_quorum_the_checkpoint_is_unwitnessed() -> None:
    note = cosigned(checkpoint(), WITNESSES["a"])
    assert open_witnessed_checkpoint(note, SIGNER.verifier).witnessing is UNWITNESSED
    verdict = open_witnessed_checkpoint(note, SIGNER.verifier, NO_QUORUM).witnessing
    assert not verdict.witnessed
    assert str(verdict) == "unwitnessed: no witness quorum is required (cosigned by a)"
    assert str(UNWITNESSED) == "unwitnessed: no witness quorum is required"


# --- verify_lookup -----------------------------------------------------------------------------


def with_cosignatures(answer: dict[str, Any], *signers: CosignatureSigner) -> dict[str, Any]:
    answer["checkpoint"] = cosigned(answer["checkpoint"].encode(), *signers).decode()
    return answer


def test_a_lookup_whose_checkpoint_meets_the_quorum_verifies() -> None:
    answer = with_cosignatures(build(), WITNESSES["a"], WITNESSES["c"])
    verified = verify_lookup(answer, NOTE_KEY, VRF_KEY, policy=POLICY)
    assert verified.witnessing == Witnessing("two-of-three", ("a", "c"))
    assert len(verified.handlers) == 3
    # Without a policy the same answer verifies, and says it is unwitnessed.
    assert verify_lookup(answer, NOTE_KEY, VRF_KEY).witnessing is UNWITNESSED
    assert not verify_lookup(answer, NOTE_KEY, VRF_KEY, policy=NO_QUORUM).witnessing.witnessed


def test_a_lookup_whose_checkpoint_misses_the_quorum_is_refused() -> None:
    answer = with_cosignatures(build(), WITNESSES["c"])
    with pytest.raises(LookupQuorumError, match="no valid cosignature from a, b") as caught:
        verify_lookup(answer, NOTE_KEY, VRF_KEY, policy=POLICY)
    assert isinstance(caught.value, QuorumError) and caught.value.missing == ("a", "b")


def test_a_lookup_without_a_checkpoint_has_nothing_to_witness() -> None:
    answer = build([Spec(pending=True)], checkpoint=False)
    verified = verify_lookup(answer, NOTE_KEY, VRF_KEY, policy=POLICY)
    assert verified.checkpoint is None and verified.witnessing is UNWITNESSED
    assert len(verified.pending) == 1


def test_a_policy_of_the_wrong_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="policy must be a Policy, not str"):
        verify_lookup(build(), NOTE_KEY, VRF_KEY, policy=POLICY_TEXT)  # type: ignore[arg-type]


def test_a_fork_shown_with_the_honest_cosignatures_is_refused() -> None:
    """The split view: the log signs a second tree with its own key, holding a rogue handler
    for the victim's callers, and pastes in the cosignatures of the honest checkpoint."""
    honest = with_cosignatures(build(), WITNESSES["a"], WITNESSES["b"], WITNESSES["c"])
    assert verify_lookup(honest, NOTE_KEY, VRF_KEY, policy=POLICY).witnessing.witnessed
    fork = build([Spec(uri="sip:+33612345678@rogue.example")])
    fork_note = fork["checkpoint"].encode()
    assert fork_note != honest["checkpoint"].encode().split(b"\n\n")[0]
    fork["checkpoint"] = add_cosignatures(
        fork_note, cosignature_lines(honest["checkpoint"].encode())
    ).decode()
    # Signed by the log key, the fork's proofs hold: only the witnesses can tell.
    assert verify_lookup(fork, NOTE_KEY, VRF_KEY).handlers[0].uri.endswith("@rogue.example")
    with pytest.raises(LookupQuorumError) as caught:
        verify_lookup(fork, NOTE_KEY, VRF_KEY, policy=POLICY)
    assert caught.value.missing == ("a", "b", "c")
    assert caught.value.invalid == ("a", "b", "c")
    # Shown with a witness of the log's own making (the honest one's name): refused too.
    fork["checkpoint"] = cosigned(fork_note, generate_cosigner("a.witness.example")).decode()
    with pytest.raises(LookupQuorumError, match=r"no valid cosignature from a, b, c$"):
        verify_lookup(fork, NOTE_KEY, VRF_KEY, policy=POLICY)
