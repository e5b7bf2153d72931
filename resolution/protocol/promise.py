"""Promises of inclusion: a log's signed word that an entry will be in a checkpoint by a deadline.

A write that appends an entry is answered before the sequencer has given the entry its index,
so instead of an index the answer carries a promise, like Certificate Transparency's signed
certificate timestamp. A promise is a signed note (``note.py``, c2sp.org/signed-note) whose
text is exactly five lines::

    rs-promise/v1
    <origin>
    <base64 leaf hash>
    <time: milliseconds since the Unix epoch, decimal>
    <merge delay bound: whole seconds, decimal>

and whose one signature is by the log's promise key: an Ed25519 note key of its own, named
``<origin>/promise``, never the checkpoint key, so that no promise can pass for a checkpoint
nor a checkpoint for a promise. It says: the entry whose RFC 6962 leaf hash is given was
recorded at ``time`` and will be in a checkpoint of ``origin`` signed no later than
``time + bound`` seconds. A verifier that holds a promise whose deadline has passed and finds
no inclusion proof for its leaf hash holds the log's signed proof of a broken promise.

Parsing is strict: whatever ``parse_promise`` accepts, ``format_promise`` writes back byte for
byte. Public API: ``PromiseError``, ``Promise``, ``PROMISE_HEADER``, ``promise_key_name``,
``format_promise``, ``parse_promise``, ``sign_promise``, ``open_promise``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.note import NoteError, Signer, Verifier, open_note, sign_note

PROMISE_HEADER: Final = "rs-promise/v1"
MAX_PROMISE_SIZE: Final = 1024
"""Largest promise ``open_promise`` reads, in bytes (one is about 300)."""

_DECIMAL: Final = re.compile("0|[1-9][0-9]{0,15}")
_CONTROL: Final = re.compile("[\x00-\x1f]")


class PromiseError(ValueError):
    """A promise that is malformed, or not signed by the expected key."""


def promise_key_name(origin: str) -> str:
    """The promise key's name for the log ``origin``: ``<origin>/promise``."""
    return f"{origin}/promise"


@dataclass(frozen=True)
class Promise:
    """What a promise says: ``leaf_hash`` will be in a checkpoint of ``origin`` by
    :attr:`deadline_ms`."""

    origin: str
    leaf_hash: bytes
    time_ms: int
    bound_seconds: int

    def __post_init__(self) -> None:
        if not self.origin or _CONTROL.search(self.origin):
            raise PromiseError("promise origin is empty or holds a control character")
        if len(self.leaf_hash) != HASH_SIZE:
            raise PromiseError(f"promise leaf hash is {len(self.leaf_hash)} bytes, want 32")
        if not 0 <= self.time_ms < 1 << 53 or not 0 <= self.bound_seconds < 1 << 31:
            raise PromiseError("promise time or bound out of range")

    @property
    def deadline_ms(self) -> int:
        """When the entry must be in a signed checkpoint, in Unix milliseconds."""
        return self.time_ms + self.bound_seconds * 1000


def format_promise(promise: Promise) -> str:
    """The note text of ``promise``."""
    return (
        f"{PROMISE_HEADER}\n{promise.origin}\n"
        f"{base64.b64encode(promise.leaf_hash).decode()}\n"
        f"{promise.time_ms}\n{promise.bound_seconds}\n"
    )


def parse_promise(text: str) -> Promise:
    """Parse a promise's note text, strictly: ``PromiseError`` naming what is wrong."""
    lines = text.split("\n")
    if len(lines) != 6 or lines[5] != "":
        raise PromiseError("a promise is five lines, each ending in a newline")
    header, origin, leaf_b64, time_ms, bound = lines[:5]
    if header != PROMISE_HEADER:
        raise PromiseError(f"not a promise: the first line is not {PROMISE_HEADER!r}")
    try:
        leaf_hash = base64.b64decode(leaf_b64, validate=True)
    except (binascii.Error, ValueError):
        raise PromiseError("the promise's leaf hash is not base64") from None
    if base64.b64encode(leaf_hash).decode() != leaf_b64:
        raise PromiseError("the promise's leaf hash is not canonical base64")
    if not _DECIMAL.fullmatch(time_ms) or not _DECIMAL.fullmatch(bound):
        raise PromiseError("the promise's time and bound must be decimal numbers")
    return Promise(
        origin=origin, leaf_hash=leaf_hash, time_ms=int(time_ms), bound_seconds=int(bound)
    )


def sign_promise(promise: Promise, signer: Signer) -> str:
    """The signed note of ``promise`` (text, as served in a write's ``log.promise``)."""
    if signer.name != promise_key_name(promise.origin):
        raise PromiseError(f"a promise of {promise.origin!r} is signed by its promise key")
    return sign_note(format_promise(promise), signer).decode("utf-8")


def open_promise(note: str | bytes, verifier: Verifier) -> Promise:
    """Verify a promise against the log's promise key and parse it.

    The key must be named ``<origin>/promise`` for the promise's own origin. Raises
    ``PromiseError`` for anything wrong: size, format, signature, key.
    """
    data = note.encode("utf-8") if isinstance(note, str) else note
    if len(data) > MAX_PROMISE_SIZE:
        raise PromiseError(f"promise is {len(data)} bytes, over {MAX_PROMISE_SIZE}")
    try:
        opened = open_note(data, [verifier])
    except NoteError as error:
        raise PromiseError(f"promise does not verify: {error}") from None
    promise = parse_promise(opened.text)
    if verifier.name != promise_key_name(promise.origin):
        raise PromiseError(
            f"the promise names the log {promise.origin!r}, the key is {verifier.name!r}"
        )
    return promise
