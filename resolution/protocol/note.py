"""Signed notes with Ed25519 signatures (c2sp.org/signed-note), compatible with Go's
golang.org/x/mod/sumdb/note.

A signed note is a text ending in a newline, a blank line, and one or more signature lines
``— <key name> <base64(key ID || signature)>``.  Only signature type 0x01, Ed25519 over the
note text (signed-note, "Ed25519 signatures"), is supported; signatures of any other key are
carried along as unverified, as the spec requires (signed-note, "Signatures").

Key strings use the Go formats: a verifier key is ``<name>+<hex key ID>+<base64(0x01 || public
key)>`` and a signer key ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.

Other signature types plug in through ``NoteVerifier``: ``open_note`` verifies a signature with
whatever verifier has its key name and ID, as Go's ``note.Verifiers`` does, which is how the
witness cosignatures of ``cosignature.py`` (type 0x04) are checked.

Public API: ``NoteError``, ``UnverifiedNoteError``, ``NoteVerifier``, ``Verifier``, ``Signer``,
``Signature``, ``Note``, ``key_id``, ``verifier_key``, ``key_string``, ``parse_key_string``,
``parse_verifier_key``,
``generate_signer``, ``generate_key``, ``signer_key``, ``parse_signer_key``,
``signature_line``, ``sign_note``, ``parse_note``, ``open_note``, plus the limits
``MAX_NOTE_SIZE`` and ``MAX_SIGNATURES``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519: Final = 0x01
"""Signature type byte of Ed25519 (signed-note, "Signature types")."""

MAX_NOTE_SIZE: Final = 1 << 20
"""Largest note ``open_note`` reads, in bytes (the spec asks verifiers to set some limit)."""

MAX_SIGNATURES: Final = 100
"""Most signature lines ``open_note`` reads; the spec's floor is 16, Go's limit is 100."""

_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"  # Go's signer keys
_SIG_PREFIX: Final = "\u2014 "  # em dash, space: the start of every signature line
_CONTROL: Final = re.compile("[\x00-\x09\x0b-\x1f]")  # controls other than newline are banned
_HEX_ID: Final = re.compile("[0-9a-fA-F]{8}")  # Go parses it with ParseUint(s, 16, 32)


class NoteError(ValueError):
    """A note, key string or signature is malformed, or a signature does not verify."""


class UnverifiedNoteError(NoteError):
    """A well-formed note carries no signature from any of the given verifiers.

    ``note`` holds the parsed note, with every signature in ``unverified``.
    """

    def __init__(self, message: str, note: Note) -> None:
        super().__init__(message)
        self.note = note


def _check_name(name: str) -> bytes:
    # signed-note, "Format": key names are non-empty, without Unicode spaces or "+"; control
    # characters are banned anywhere in a note, so a name holding one could never be opened.
    if not isinstance(name, str) or not name:
        raise NoteError("key name must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise NoteError(f"key name {name!r} contains a space, '+' or control character")
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"key name {name!r} is not encodable as UTF-8") from None


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    """Return the 4-byte key ID SHA-256(name || 0x0A || alg || public key)[:4].

    signed-note, "Ed25519 signatures" (alg 0x01); tlog-cosignature uses the same construction
    with its own type byte.
    """
    encoded = _check_name(name)
    return hashlib.sha256(encoded + b"\n" + bytes([alg]) + public_key).digest()[:4]


class NoteVerifier(Protocol):
    """What ``open_note`` needs of a verifier: a key name and ID, the key, and a check of one
    signature (the bytes after the key ID) over the note text."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    @property
    def public_key(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: a key name and a 32-byte public key (its ID is derived)."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise NoteError(f"Ed25519 public key is {len(self.public_key)} bytes, want 32")
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 note signer: a key name and a 32-byte private key seed (RFC 8032 §5.1.5)."""

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: bytes = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise NoteError(f"Ed25519 seed is {len(self.seed)} bytes, want 32")
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        public_key = key.public_key().public_bytes_raw()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_id", key_id(self.name, public_key))

    @property
    def verifier(self) -> Verifier:
        """The verifier for this signer's signatures."""
        return Verifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, 4-byte key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """An opened note: its text (with the final newline), the signatures verified by known
    keys, and the signatures of unknown keys (not verified)."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


def _b64decode(value: str, what: str) -> bytes:
    # Standard, padded base64 (signed-note, "Conventions"); validate=True rejects everything
    # outside the alphabet instead of skipping it.
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


def verifier_key(name: str, public_key: bytes) -> str:
    """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
    return key_string(name, Verifier(name, public_key).key_id, ALG_ED25519, public_key)


def key_string(name: str, kid: bytes, alg: int, key: bytes, *, private: bool = False) -> str:
    """Return ``<name>+<hex key ID>+<base64(alg || key)>``, signed-note's verifier key form; with
    ``private``, Go's signer key form: the same after ``PRIVATE+KEY+``, the seed as the key."""
    encoded = base64.b64encode(bytes([alg]) + key).decode()
    return f"{_PRIVATE_PREFIX if private else ''}{name}+{kid.hex()}+{encoded}"


def parse_key_string(
    text: str, what: str, alg: int = ALG_ED25519, *, private: bool = False
) -> tuple[str, bytes, bytes]:
    """Check a ``key_string`` of type ``alg`` and return its name, key ID and raw 32-byte key
    (the key ID is not checked against the key: the caller derives it); ``what`` names the key
    string in errors."""
    if private:
        if not text.startswith(_PRIVATE_PREFIX):
            raise NoteError(f"{what} must start with {_PRIVATE_PREFIX}")
        text = text[len(_PRIVATE_PREFIX) :]
    # The name cannot contain "+", so the first two "+" end the name and the ID; the base64
    # key after them may itself contain "+".
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"{what} must have the form <name>+<hex key id>+<base64 key>")
    name, hex_id, b64 = parts
    _check_name(name)
    if not _HEX_ID.fullmatch(hex_id):
        raise NoteError(f"{what} key ID {hex_id!r} is not 8 hex digits")
    raw = _b64decode(b64, f"{what} key")
    if len(raw) != 33 or raw[0] != alg:
        found = raw[0] if raw else None
        raise NoteError(
            f"{what} is not an Ed25519 key of type {alg:#04x} (type {found!r}, {len(raw)} bytes)"
        )
    return name, bytes.fromhex(hex_id), raw[1:]


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse a verifier key string, checking that its key ID matches its name and key."""
    name, kid, public_key = parse_key_string(vkey, "verifier key")
    verifier = Verifier(name, public_key)
    if verifier.key_id != kid:
        raise NoteError(f"verifier key ID {kid.hex()} does not match the key")
    return verifier


def generate_signer(name: str) -> Signer:
    """Return a signer with a fresh random Ed25519 key."""
    return Signer(name, Ed25519PrivateKey.generate().private_bytes_raw())


def signer_key(signer: Signer) -> str:
    """Return the Go signer key string ``PRIVATE+KEY+<name>+<hex ID>+<base64(0x01 || seed)>``."""
    return key_string(signer.name, signer.key_id, ALG_ED25519, signer.seed, private=True)


def parse_signer_key(skey: str) -> Signer:
    """Parse a Go signer key string, checking that its key ID matches the derived public key."""
    name, kid, seed = parse_key_string(skey, "signer key", private=True)
    signer = Signer(name, seed)
    if signer.key_id != kid:
        raise NoteError(f"signer key ID {kid.hex()} does not match the key")
    return signer


def generate_key(name: str) -> tuple[str, str]:
    """Return a fresh ``(signer key, verifier key)`` pair of strings, like Go's GenerateKey."""
    signer = generate_signer(name)
    return signer_key(signer), verifier_key(name, signer.public_key)


def signature_line(name: str, kid: bytes, signature: bytes) -> str:
    """Return the signature line ``— <name> <base64(key ID || signature)>`` with its newline."""
    return f"{_SIG_PREFIX}{name} {base64.b64encode(kid + signature).decode()}\n"


def sign_note(text: str, *signers: Signer) -> bytes:
    """Sign ``text`` with each signer and return the encoded note.

    The text must end with a newline and contain no control characters other than newline
    (signed-note, "Format").  The output is the text, a blank line, and one signature line per
    distinct signer.
    """
    if not signers:
        raise NoteError("sign_note needs at least one signer")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("note text contains a control character other than newline")
    try:
        message = text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note text is not encodable as UTF-8") from None
    lines = [text, "\n"]
    seen: set[tuple[str, bytes]] = set()
    for signer in signers:
        if (signer.name, signer.key_id) in seen:
            continue
        seen.add((signer.name, signer.key_id))
        lines.append(signature_line(signer.name, signer.key_id, signer.sign(message)))
    return "".join(lines).encode("utf-8")


def parse_note(data: bytes) -> Note:
    """Parse a signed note without verifying it: every signature lands in ``unverified``.

    Raises ``NoteError`` naming what is malformed.  Identical repeated lines are kept once.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise NoteError(f"note is {len(data)} bytes, over the {MAX_NOTE_SIZE}-byte limit")
    try:
        msg = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if _CONTROL.search(msg):
        raise NoteError("note contains a control character other than newline")
    # signed-note, "Format": the text is separated from the signatures by the last empty line.
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note does not end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signature lines, over the {MAX_SIGNATURES} limit")
    signatures: dict[str, Signature] = {}
    for number, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and space")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            _check_name(name)
        except NoteError as exc:
            raise NoteError(f"signature line {number}: {exc}") from None
        blob = _b64decode(b64, f"signature line {number}") if sep and b64 else b""
        if len(blob) < 5:
            raise NoteError(f"signature line {number} has no key ID and signature")
        if line not in signatures:
            signatures[line] = Signature(name, blob[:4], blob[4:])
    return Note(text, (), tuple(signatures.values()))


def open_note(data: bytes, verifiers: Iterable[NoteVerifier]) -> Note:
    """Parse a signed note and verify it against known keys (signed-note, "Signatures").

    Signatures whose key name and ID match a verifier must verify, or the note is rejected;
    signatures of unknown keys are returned in ``unverified``.  At least one known key must
    have signed, otherwise ``UnverifiedNoteError`` is raised.  Any malformation raises
    ``NoteError`` naming it.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if type(other) is not type(v) or other.public_key != v.public_key:
            raise NoteError(f"two verifiers share the key name and ID {v.name}+{v.key_id.hex()}")
    parsed = parse_note(data)
    message = parsed.text.encode("utf-8")
    verified: dict[tuple[str, bytes], Signature] = {}
    unverified: list[Signature] = []
    for sig in parsed.unverified:
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None:
            unverified.append(sig)
        elif ident not in verified:  # as in Go, only a key's first signature line counts
            if not verifier.verify(message, sig.signature):
                raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id.hex()}")
            verified[ident] = sig
    note = Note(parsed.text, tuple(verified.values()), tuple(unverified))
    if not verified:
        keys = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in unverified)
        raise UnverifiedNoteError(
            f"note has no signature from a known key (signed by {keys})", note
        )
    return note
