"""Witness cosignatures on checkpoints (c2sp.org/tlog-cosignature v1, Ed25519).

A cosignature is a signed-note signature line by a witness (a *cosigner*) on a checkpoint::

    — <cosigner name> base64(key ID || u64 timestamp || Ed25519 signature)

It states that, at the POSIX ``timestamp``, the largest consistent tree the witness has seen
for the checkpoint's origin has this root hash.  The key ID is
``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` ("Format"), and the signed message is two
header lines followed by the checkpoint's note text ("Ed25519 signed message")::

    cosignature/v1
    time <timestamp, decimal>
    <origin>
    <size>
    <base64 root>
    [extension lines]

Key strings follow signed-note's ``vkey`` form with type 0x04: the verifier key
``<name>+<hex key ID>+<base64(0x04 || public key)>``, and, in the Go note package's signer-key
form, ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>`` for the private key (no
specification fixes how a witness keeps its key; this is what ``rs witness keygen`` writes).

``CosignatureVerifier`` is a ``note.NoteVerifier``: ``open_note`` checks cosignature lines
alongside the log's own signature, and ``open_cosigned_checkpoint`` does both for a checkpoint.

Public API: ``ALG_COSIGNATURE_V1``, ``COSIGNATURE_SIZE``, ``MAX_TIMESTAMP``, ``CosignatureError``,
``CosignatureVerifier``, ``CosignatureSigner``, ``Cosignature``, ``CosignedCheckpoint``,
``cosignature_message``, ``cosigner_key``, ``parse_cosigner_key``, ``generate_cosigner``,
``cosigner_private_key``, ``parse_cosigner_private_key``, ``cosignature_from_signature``,
``add_cosignatures``, ``open_cosigned_checkpoint``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from resolution.protocol.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_checkpoint,
    parse_checkpoint,
)
from resolution.protocol.note import (
    Note,
    NoteError,
    Signature,
    Verifier,
    key_id,
    key_string,
    open_note,
    parse_key_string,
    parse_note,
    signature_line,
)

ALG_COSIGNATURE_V1: Final = 0x04
"""Signature type byte of Ed25519 cosignatures (tlog-cosignature, "Format")."""

COSIGNATURE_SIZE: Final = 8 + 64
"""Bytes of a ``timestamped_signature``: the u64 timestamp and the Ed25519 signature."""

MAX_TIMESTAMP: Final = (1 << 63) - 1
"""The timestamp "MUST NOT exceed 2^63 - 1" (tlog-cosignature, "Format")."""

_HEADER: Final = b"cosignature/v1\n"
_TIMESTAMP: Final = struct.Struct(">Q")  # RFC 8446 §3.3: big-endian u64


class CosignatureError(ValueError):
    """A cosignature, cosigner key or cosigned checkpoint is malformed or does not verify."""


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CosignatureError(f"cosignature timestamp {timestamp!r} is not an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature timestamp {timestamp} is not in [0, 2**63)")


def cosignature_message(text: str, timestamp: int) -> bytes:
    """Return the signed message ``cosignature/v1\\ntime <t>\\n`` || checkpoint note text.

    The text must be a checkpoint that ``format_checkpoint`` writes back byte for byte, as the
    reference implementation (torchwood) requires: a cosigner vouches for a tree head, not for
    arbitrary text.
    """
    _check_timestamp(timestamp)
    try:
        canonical = format_checkpoint(parse_checkpoint(text))
    except CheckpointError as exc:
        raise CosignatureError(f"cosigned text is not a checkpoint: {exc}") from None
    if canonical != text:
        raise CosignatureError("cosigned text is not a canonical checkpoint")
    return _HEADER + b"time %d\n" % timestamp + text.encode("utf-8")


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's Ed25519 cosignature key: its name and 32-byte public key (ID derived).

    As a ``note.NoteVerifier`` it checks the bytes after the key ID of a cosignature line."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise CosignatureError(f"Ed25519 public key is {len(self.public_key)} bytes, want 32")
        try:
            kid = key_id(self.name, self.public_key, ALG_COSIGNATURE_V1)
        except NoteError as exc:
            raise CosignatureError(str(exc)) from None
        object.__setattr__(self, "key_id", kid)
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        return cosigner_key(self.name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` (timestamp || Ed25519 signature) cosigns the note text
        ``message``; a text that is not a checkpoint is never cosigned."""
        if len(signature) != COSIGNATURE_SIZE:
            return False
        (timestamp,) = _TIMESTAMP.unpack_from(signature)
        try:
            signed = cosignature_message(message.decode("utf-8"), timestamp)
        except (CosignatureError, UnicodeDecodeError):
            return False
        try:
            self._key.verify(signature[8:], signed)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Cosignature:
    """One cosignature line: the cosigner's name and key ID, the timestamp and the signature."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    @property
    def line(self) -> str:
        """The note signature line, ending with a newline."""
        return signature_line(
            self.name, self.key_id, _TIMESTAMP.pack(self.timestamp) + self.signature
        )


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's Ed25519 cosignature key: its name and 32-byte private seed."""

    name: str
    seed: bytes = field(repr=False)
    verifier: CosignatureVerifier = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise CosignatureError(f"Ed25519 seed is {len(self.seed)} bytes, want 32")
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        object.__setattr__(self, "_key", key)
        verifier = CosignatureVerifier(self.name, key.public_key().public_bytes_raw())
        object.__setattr__(self, "verifier", verifier)

    def cosign(self, text: str, timestamp: int | None = None) -> Cosignature:
        """Cosign the checkpoint note ``text`` at ``timestamp`` (default: now)."""
        when = int(time.time()) if timestamp is None else timestamp
        signature = self._key.sign(cosignature_message(text, when))
        return Cosignature(self.name, self.verifier.key_id, when, signature)


def cosigner_key(name: str, public_key: bytes) -> str:
    """Return the verifier key string ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
    kid = CosignatureVerifier(name, public_key).key_id
    return key_string(name, kid, ALG_COSIGNATURE_V1, public_key)


def parse_cosigner_key(vkey: str) -> CosignatureVerifier:
    """Parse a cosigner verifier key string, checking that its key ID matches its name and key."""
    try:
        name, kid, public_key = parse_key_string(vkey, "cosigner key", ALG_COSIGNATURE_V1)
    except NoteError as exc:
        raise CosignatureError(str(exc)) from None
    verifier = CosignatureVerifier(name, public_key)
    if verifier.key_id != kid:
        raise CosignatureError(f"cosigner key ID {kid.hex()} does not match the key")
    return verifier


def generate_cosigner(name: str) -> CosignatureSigner:
    """Return a cosigner with a fresh random Ed25519 key."""
    return CosignatureSigner(name, Ed25519PrivateKey.generate().private_bytes_raw())


def cosigner_private_key(signer: CosignatureSigner) -> str:
    """Return ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>``."""
    kid = signer.verifier.key_id
    return key_string(signer.name, kid, ALG_COSIGNATURE_V1, signer.seed, private=True)


def parse_cosigner_private_key(skey: str) -> CosignatureSigner:
    """Parse ``cosigner_private_key``'s string, checking the key ID against the derived key."""
    try:
        name, kid, seed = parse_key_string(
            skey.strip(), "cosigner private key", ALG_COSIGNATURE_V1, private=True
        )
    except NoteError as exc:
        raise CosignatureError(str(exc)) from None
    signer = CosignatureSigner(name, seed)
    if signer.verifier.key_id != kid:
        raise CosignatureError(f"cosigner private key ID {kid.hex()} does not match the key")
    return signer


def cosignature_from_signature(signature: Signature) -> Cosignature:
    """Read the timestamp and Ed25519 signature out of a note signature (not verified)."""
    if len(signature.signature) != COSIGNATURE_SIZE:
        raise CosignatureError(
            f"cosignature of {signature.name} is {len(signature.signature)} bytes after its "
            f"key ID, want {COSIGNATURE_SIZE}"
        )
    (timestamp,) = _TIMESTAMP.unpack_from(signature.signature)
    _check_timestamp(timestamp)
    return Cosignature(signature.name, signature.key_id, timestamp, signature.signature[8:])


def add_cosignatures(note: bytes, lines: Iterable[str]) -> bytes:
    """Return the signed ``note`` with signature ``lines`` appended (tlog-witness: a client "MAY
    concatenate" a witness's answer "to the checkpoint"), each line once.

    Only the form is checked: ``open_cosigned_checkpoint`` verifies them.
    """
    present = parse_note(note).unverified
    seen = {signature_line(s.name, s.key_id, s.signature) for s in present}
    added = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            added.append(line)
    combined = note + "".join(added).encode("utf-8")
    try:
        parse_note(combined)
    except NoteError as exc:
        raise CosignatureError(f"cannot add these cosignature lines: {exc}") from None
    return combined


@dataclass(frozen=True)
class CosignedCheckpoint:
    """A checkpoint verified with its log's key, the cosignatures verified with the witness keys
    given (``cosignatures``, one per witness), and every other signature line (``unverified``)."""

    checkpoint: Checkpoint
    text: str
    cosignatures: tuple[Cosignature, ...]
    unverified: tuple[Signature, ...] = ()

    def cosigned_by(self, verifier: CosignatureVerifier) -> Cosignature | None:
        """This witness's verified cosignature, if the checkpoint carries one."""
        for cosignature in self.cosignatures:
            if (cosignature.name, cosignature.key_id) == (verifier.name, verifier.key_id):
                return cosignature
        return None


def open_cosigned_checkpoint(
    data: bytes, log: Verifier, origin: str, witnesses: Iterable[CosignatureVerifier]
) -> CosignedCheckpoint:
    """Verify a checkpoint's log signature and its cosignatures by ``witnesses``.

    The note must carry a valid signature by ``log`` and have the origin line ``origin``;
    every line by a known witness must verify (signed-note: a known key's bad signature rejects
    the note, as Go's ``note.Open`` does).  Lines of unknown keys are returned unverified.
    Whether the cosigners found meet a quorum is ``policy.Policy.evaluate``'s question.
    """
    known = list(witnesses)
    try:
        note: Note = open_note(data, [log, *known])
    except NoteError as exc:
        raise CosignatureError(f"cosigned checkpoint rejected: {exc}") from exc
    if not any((s.name, s.key_id) == (log.name, log.key_id) for s in note.signatures):
        raise CosignatureError(f"checkpoint carries no signature by its log {log.name}")
    try:
        checkpoint = parse_checkpoint(note.text)
    except CheckpointError as exc:
        raise CosignatureError(str(exc)) from None
    if checkpoint.origin != origin:
        raise CosignatureError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    cosignatures = tuple(
        cosignature_from_signature(s)
        for s in note.signatures
        if (s.name, s.key_id) != (log.name, log.key_id)
    )
    return CosignedCheckpoint(checkpoint, note.text, cosignatures, note.unverified)
