"""Checkpoints checked against a witness policy: the log's own signature first, then the
witnesses' cosignatures, counted towards the policy's quorum (DESIGN §7.3).

A log alone can sign two trees, the honest one for auditors and a fork for a victim.  A
witness cosigns only trees consistent with those it cosigned before (c2sp.org/tlog-witness),
so a checkpoint cosigned by a quorum of independent witnesses is the one everybody is shown.
A client holding a ``policy.Policy`` therefore refuses a checkpoint that misses the quorum,
naming the witnesses whose cosignatures are missing (``QuorumError``).

Counting is strict about what counts and lenient about the rest:

* the log's signature is required, and must verify (``checkpoint.open_checkpoint``);
* a cosignature line counts only if its key name and key ID are a policy witness's and it
  verifies with that witness's key (c2sp.org/tlog-cosignature), over this very checkpoint;
* any other line is ignored: a key the policy does not know, or a line that claims a policy
  witness but does not verify.  Unlike ``cosignature.open_cosigned_checkpoint``, which rejects
  the whole note in that case (signed-note's rule for known keys), a client here only refuses
  to *count* such a line: a checkpoint that meets the quorum with valid cosignatures is good
  whatever else it carries, and one that does not is refused anyway.  The lines that failed
  are named (``Witnessing.invalid``), so that a forged cosignature is reported as one.

With no policy, or a policy whose quorum is ``none``, a checkpoint needs only the log's
signature, and the verdict says it is *unwitnessed*: nothing shows that others saw the same
tree, which a client should say to its user.

Public API: ``QuorumError``, ``Witnessing``, ``WitnessedCheckpoint``, ``UNWITNESSED``,
``NO_WITNESSES``, ``open_witnessed_checkpoint``, ``policy_summary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from resolution.protocol.checkpoint import Checkpoint, open_checkpoint
from resolution.protocol.note import Verifier, parse_note
from resolution.protocol.policy import NONE, Policy


class QuorumError(ValueError):
    """A checkpoint does not meet a witness policy: too few valid cosignatures for its
    quorum, or the policy does not list the log's key.  ``missing`` names the policy's
    witnesses whose cosignature is missing, ``invalid`` those whose line did not verify."""

    def __init__(
        self, message: str, *, missing: tuple[str, ...] = (), invalid: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.missing, self.invalid = missing, invalid


@dataclass(frozen=True)
class Witnessing:
    """What a checkpoint's cosignatures showed under a policy.

    ``quorum`` is the policy's quorum (``"none"`` when it asks for none, or there was no
    policy); ``cosigned`` the policy's witnesses (by their policy names) whose cosignatures
    verified; ``invalid`` those whose cosignature line did not verify (never counted).
    """

    quorum: str
    cosigned: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()

    @property
    def witnessed(self) -> bool:
        """Whether a quorum of witnesses vouched for the checkpoint (``False``: unwitnessed)."""
        return self.quorum != NONE

    def __str__(self) -> str:
        by = ", ".join(self.cosigned)
        if not self.witnessed:
            extra = f" (cosigned by {by})" if by else ""
            return f"unwitnessed: no witness quorum is required{extra}"
        return f"witnessed: quorum {self.quorum} met, cosigned by {by}"


UNWITNESSED: Final = Witnessing(NONE)
"""The verdict on a checkpoint checked without a policy."""

NO_WITNESSES: Final = "quorum none\n"
"""The policy of a log that has no witnesses (a server that serves no policy has none)."""


def policy_summary(policy: Policy) -> str:
    """A policy on one line, for messages: its quorum and its witnesses' keys."""
    witnesses = ", ".join(f"{w.name} {w.verifier.vkey}" for w in policy.witnesses.values())
    return f"quorum {policy.quorum} (witnesses: {witnesses or 'none'})"


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint verified with the log's key and, under a policy, its witnesses' verdict;
    ``note`` is the signed note as served, cosignatures included."""

    checkpoint: Checkpoint
    note: bytes
    witnessing: Witnessing = UNWITNESSED


def _key_label(verifier: Verifier) -> str:
    return f"{verifier.name}+{verifier.key_id.hex()}"


def _cosigners(note: bytes, policy: Policy) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The ``(key name, key ID)`` of each policy witness whose cosignature verifies, and the
    policy names of those whose line does not.  As in ``note.open_note``, only a key's first
    line counts."""
    parsed = parse_note(note)
    message = parsed.text.encode("utf-8")
    by_key = {(w.verifier.name, w.verifier.key_id): w for w in policy.witnesses.values()}
    seen: set[tuple[str, bytes]] = set()
    verified: list[tuple[str, bytes]] = []
    invalid: list[str] = []
    for signature in parsed.unverified:
        ident = (signature.name, signature.key_id)
        witness = by_key.get(ident)
        if witness is None or ident in seen:
            continue
        seen.add(ident)
        if witness.verifier.verify(message, signature.signature):
            verified.append(ident)
        else:
            invalid.append(witness.name)
    return verified, sorted(invalid)


def open_witnessed_checkpoint(
    note: bytes, log: Verifier, policy: Policy | None = None
) -> WitnessedCheckpoint:
    """Verify a signed checkpoint with the log's key, then its cosignatures under ``policy``.

    The origin must be the log key's name (c2sp.org/tlog-checkpoint).  Raises
    ``checkpoint.CheckpointError`` when the log's signature or the checkpoint is bad, and
    ``QuorumError`` when the policy lists logs but not this key, or when the cosignatures that
    verify miss its quorum; the message names the missing witnesses.
    """
    if policy is not None and policy.logs:
        listed = policy.log_for(log.name)
        if listed is None or listed.public_key != log.public_key:
            raise QuorumError(f"the witness policy does not list the log key {_key_label(log)}")
    checkpoint = open_checkpoint(note, log, log.name)
    if policy is None:
        return WitnessedCheckpoint(checkpoint, note)
    cosigners, invalid = _cosigners(note, policy)
    quorum = policy.evaluate(cosigners)
    if not quorum.satisfied:
        missing = quorum.missing
        message = (
            f"the checkpoint of size {checkpoint.size} misses its witness quorum "
            f"{policy.quorum!r} ({'; '.join(quorum.shortfalls)}): no valid cosignature from "
            f"{', '.join(missing)}"
        )
        if invalid:
            message += f" (the cosignature of {', '.join(invalid)} does not verify)"
        raise QuorumError(message, missing=missing, invalid=tuple(invalid))
    witnessing = Witnessing(policy.quorum, quorum.cosigned, tuple(invalid))
    return WitnessedCheckpoint(checkpoint, note, witnessing)
