"""Transparency log checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint is the text of a signed note (``note.py``)::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    [extension lines]

Parsing is strict: whatever ``parse_checkpoint`` accepts, ``format_checkpoint`` writes back
byte for byte.

Public API: ``CheckpointError``, ``Checkpoint``, ``MAX_TREE_SIZE``, ``format_checkpoint``,
``parse_checkpoint``, ``sign_checkpoint``, ``open_checkpoint``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.note import NoteError, Signer, Verifier, open_note, sign_note

MAX_TREE_SIZE: Final = (1 << 63) - 1
"""Largest tree size accepted: Go's tlog and SQL bigint both hold sizes as int64."""

# tlog-checkpoint, "Note text" 2: ASCII decimal, no leading zeroes unless the size is 0.
_SIZE_RE: Final = re.compile("0|[1-9][0-9]{0,18}")
_CONTROL_RE: Final = re.compile("[\x00-\x1f]")  # no line may hold a newline or other control


class CheckpointError(ValueError):
    """A checkpoint is malformed, badly signed, or from another log."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin line, tree size, RFC 6962 root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # tlog-checkpoint, "Note text": every line non-empty; the origin is the first line.
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty string")
        if _CONTROL_RE.search(self.origin):
            raise CheckpointError(f"checkpoint origin {self.origin!r} has a control character")
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {size!r} is not in [0, 2**63)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("checkpoint extensions must be a tuple of strings")
        for line in self.extensions:
            if not isinstance(line, str) or not line or _CONTROL_RE.search(line):
                raise CheckpointError(f"checkpoint extension line {line!r} is empty or invalid")


def format_checkpoint(cp: Checkpoint) -> str:
    """Return the checkpoint's note text, ending with a newline (tlog-checkpoint, "Note text")."""
    root = base64.b64encode(cp.root_hash).decode()
    return "".join(f"{line}\n" for line in (cp.origin, str(cp.size), root, *cp.extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly, raising ``CheckpointError`` naming the problem."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint has {len(lines)} lines, want at least 3")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE_RE.fullmatch(size_line):
        raise CheckpointError(f"checkpoint tree size {size_line!r} is not canonical decimal")
    try:
        root = base64.b64decode(root_line, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"checkpoint root hash {root_line!r} is not base64") from None
    # Only the canonical encoding: 32 bytes have exactly one padded base64 spelling.
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_line:
        raise CheckpointError(f"checkpoint root hash {root_line!r} is not 32 bytes of base64")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, *signers: Signer) -> bytes:
    """Return the checkpoint as a signed note, signed by each of ``signers``."""
    try:
        return sign_note(format_checkpoint(cp), *signers)
    except NoteError as exc:
        raise CheckpointError(f"cannot sign checkpoint: {exc}") from exc


def open_checkpoint(data: bytes, verifier: Verifier, origin: str) -> Checkpoint:
    """Verify a signed checkpoint with the log's key and return it.

    The note must carry a valid signature by ``verifier`` (other signatures, such as witness
    cosignatures, are ignored) and its origin line must equal ``origin``.
    """
    try:
        note = open_note(data, [verifier])
    except NoteError as exc:
        raise CheckpointError(f"checkpoint note rejected: {exc}") from exc
    cp = parse_checkpoint(note.text)
    if cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp
