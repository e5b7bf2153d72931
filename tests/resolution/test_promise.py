"""Promises of inclusion (resolution.protocol.promise): the signed-note format, strictly."""

from __future__ import annotations

import base64
import hashlib

import pytest

from resolution.protocol.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from resolution.protocol.note import generate_signer, parse_note
from resolution.protocol.promise import (
    Promise,
    PromiseError,
    format_promise,
    open_promise,
    parse_promise,
    promise_key_name,
    sign_promise,
)

ORIGIN = "rs.example.net/log"
LEAF = hashlib.sha256(b"\0entry").digest()
PROMISE = Promise(origin=ORIGIN, leaf_hash=LEAF, time_ms=1_796_000_000_123, bound_seconds=10)


@pytest.fixture(scope="module")
def signer():
    return generate_signer(promise_key_name(ORIGIN))


def test_a_promise_is_five_lines_signed_by_the_promise_key(signer):
    note = sign_promise(PROMISE, signer)
    text = parse_note(note.encode()).text
    assert text == (
        f"rs-promise/v1\n{ORIGIN}\n{base64.b64encode(LEAF).decode()}\n1796000000123\n10\n"
    )
    assert text == format_promise(PROMISE)
    assert open_promise(note, signer.verifier) == PROMISE
    assert PROMISE.deadline_ms == 1_796_000_010_123


def test_what_parses_formats_back_byte_for_byte():
    text = format_promise(PROMISE)
    assert format_promise(parse_promise(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "rs-promise/v2\n{o}\n{h}\n1\n10\n",  # another version
        "{o}\n{h}\n1\n10\n",  # no header
        "rs-promise/v1\n{o}\n{h}\n1\n10",  # no final newline
        "rs-promise/v1\n{o}\n{h}\n1\n10\nextra\n",  # a sixth line
        "rs-promise/v1\n{o}\n{h}\n01\n10\n",  # a leading zero
        "rs-promise/v1\n{o}\n{h}\n-1\n10\n",  # negative
        "rs-promise/v1\n{o}\n{h}\n1\n1e3\n",  # not decimal
        "rs-promise/v1\n{o}\nAAAA\n1\n10\n",  # a hash of 3 bytes
        "rs-promise/v1\n{o}\n{h}=\n1\n10\n",  # not canonical base64
        "rs-promise/v1\n\n{h}\n1\n10\n",  # no origin
    ],
)
def test_malformed_promises_are_refused(text):
    h = base64.b64encode(LEAF).decode()
    with pytest.raises(PromiseError):
        parse_promise(text.format(o=ORIGIN, h=h))


def test_only_the_promise_key_of_the_promises_own_log_opens_it(signer):
    note = sign_promise(PROMISE, signer)
    with pytest.raises(PromiseError):
        open_promise(note, generate_signer(promise_key_name(ORIGIN)).verifier)  # another key
    other_log = generate_signer(promise_key_name("other.example/log"))
    forged = Promise(origin=ORIGIN, leaf_hash=LEAF, time_ms=1, bound_seconds=10)
    with pytest.raises(PromiseError, match="signed by its promise key"):
        sign_promise(forged, other_log)
    tampered = note.replace("\n10\n", "\n99\n", 1)
    with pytest.raises(PromiseError):
        open_promise(tampered, signer.verifier)
    with pytest.raises(PromiseError, match="over"):
        open_promise(note + "x" * 2000, signer.verifier)


def test_a_promise_and_a_checkpoint_never_pass_for_each_other(signer):
    checkpoint_signer = generate_signer(ORIGIN)
    # The checkpoint key cannot sign a promise, and its signature on promise text is refused.
    with pytest.raises(PromiseError):
        sign_promise(PROMISE, checkpoint_signer)
    head = sign_checkpoint(Checkpoint(origin=ORIGIN, size=1, root_hash=LEAF), checkpoint_signer)
    with pytest.raises(PromiseError):
        open_promise(head, signer.verifier)
    with pytest.raises(PromiseError):
        open_promise(head, checkpoint_signer.verifier)  # checkpoint text is no promise
    note = sign_promise(PROMISE, signer).encode()
    with pytest.raises(CheckpointError):
        open_checkpoint(note, signer.verifier, ORIGIN)
