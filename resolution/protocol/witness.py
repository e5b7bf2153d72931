"""The wire format of c2sp.org/tlog-witness v1: the ``add-checkpoint`` request and answers.

A log (or monitor) asks a witness to cosign a checkpoint with::

    POST <submission prefix>/add-checkpoint

    old <size of the checkpoint the witness last cosigned, decimal>
    <base64 consistency proof hash>        (0 to 63 lines; none when old is 0)
    <blank line>
    <the signed checkpoint note>

The witness answers 200 with one or more cosignature lines (``cosignature.py``), or 409 with
``Content-Type: text/x.tlog.size`` and the size it holds followed by a newline, or 400, 403,
404 or 422 (see ``resolution.client.witness``, which implements the witness).  Both sides
build and read these bodies here, so the format has one home.

Public API: ``ADD_CHECKPOINT_PATH``, ``SIZE_CONTENT_TYPE``, ``MAX_PROOF_LINES``,
``MAX_REQUEST_SIZE``, ``WitnessFormatError``, ``AddCheckpoint``, ``format_add_checkpoint``,
``parse_add_checkpoint``, ``format_tree_size``, ``parse_tree_size``,
``parse_cosignature_lines``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from resolution.protocol.checkpoint import MAX_TREE_SIZE
from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.note import MAX_NOTE_SIZE, MAX_SIGNATURES, NoteError, parse_note

ADD_CHECKPOINT_PATH: Final = "/add-checkpoint"
"""The path of the call under a witness's submission prefix."""

SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
"""Content type of a 409 answer: the witness's latest cosigned size."""

MAX_PROOF_LINES: Final = 63
"""A client "MUST NOT send more than 63 consistency proof lines" (a proof of trees below 2**63)."""

MAX_REQUEST_SIZE: Final = 64 * 1024
"""Largest ``add-checkpoint`` body a witness here reads: 63 proof lines are under 3 KiB, and a
checkpoint with its signatures a few hundred bytes; the limit leaves room for many signatures."""

# tlog-witness: "ASCII decimal with no leading zeroes (unless the size is zero ...)".
_SIZE: Final = re.compile("0|[1-9][0-9]{0,18}")


class WitnessFormatError(ValueError):
    """An ``add-checkpoint`` body or answer is malformed (a witness answers 400)."""


@dataclass(frozen=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request: the old size, the consistency proof from it, and the signed
    checkpoint note exactly as sent."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def _size(text: str, what: str) -> int:
    if not _SIZE.fullmatch(text) or int(text) > MAX_TREE_SIZE:
        raise WitnessFormatError(f"{what} {text[:40]!r} is not a canonical decimal tree size")
    return int(text)


def format_add_checkpoint(request: AddCheckpoint) -> bytes:
    """Return the body of an ``add-checkpoint`` request."""
    lines = [f"old {request.old_size}\n"]
    lines += [base64.b64encode(h).decode() + "\n" for h in request.proof]
    return "".join(lines).encode() + b"\n" + request.checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` body strictly; ``WitnessFormatError`` names what is wrong.

    The checkpoint is only checked to be a well-formed signed note here: its signatures and
    contents are the witness's to check.
    """
    if len(body) > MAX_REQUEST_SIZE:
        raise WitnessFormatError(f"request is {len(body)} bytes, over {MAX_REQUEST_SIZE}")
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise WitnessFormatError("request has no blank line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise WitnessFormatError("old size and proof lines are not ASCII") from None
    first, *proof_lines = lines
    if not first.startswith("old "):
        raise WitnessFormatError("request does not start with an 'old <size>' line")
    old_size = _size(first[4:], "old size")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessFormatError(f"{len(proof_lines)} proof lines, over {MAX_PROOF_LINES}")
    if old_size == 0 and proof_lines:
        raise WitnessFormatError("the consistency proof must be empty when the old size is 0")
    proof = []
    for number, line in enumerate(proof_lines, 1):
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise WitnessFormatError(f"proof line {number} is not base64") from None
        if len(value) != HASH_SIZE or base64.b64encode(value).decode() != line:
            raise WitnessFormatError(f"proof line {number} is not a {HASH_SIZE}-byte hash")
        proof.append(value)
    if len(note) > MAX_NOTE_SIZE:
        raise WitnessFormatError("checkpoint note is too large")
    try:
        parse_note(note)
    except NoteError as exc:
        raise WitnessFormatError(f"checkpoint is not a signed note: {exc}") from None
    return AddCheckpoint(old_size, tuple(proof), note)


def format_tree_size(size: int) -> bytes:
    """The body of a 409 answer: the size in decimal and a newline."""
    return b"%d\n" % size


def parse_tree_size(body: bytes) -> int:
    """Read the size out of a 409 answer's body."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise WitnessFormatError("tree size answer is not ASCII") from None
    if not text.endswith("\n"):
        raise WitnessFormatError("tree size answer does not end with a newline")
    return _size(text[:-1], "tree size answer")


def parse_cosignature_lines(body: bytes) -> tuple[str, ...]:
    """Split a 200 answer into its signature lines (each ending with a newline).

    The lines are checked to be well-formed note signature lines; which of them are valid
    cosignatures by known witnesses is for ``cosignature.open_cosigned_checkpoint`` to say once
    they are added to the checkpoint (``cosignature.add_cosignatures``).
    """
    if not body or len(body) > MAX_REQUEST_SIZE:
        raise WitnessFormatError("cosignature answer is empty or too large")
    try:
        # A placeholder text makes the lines a note that parse_note can check.
        parse_note(b"x\n\n" + body)
        text = body.decode("utf-8")
    except (NoteError, UnicodeDecodeError) as exc:
        raise WitnessFormatError(f"cosignature answer is malformed: {exc}") from None
    lines = tuple(line + "\n" for line in text[:-1].split("\n"))
    if len(lines) > MAX_SIGNATURES:
        raise WitnessFormatError("cosignature answer has too many lines")
    return lines
