"""Tests for resolution.protocol.checkpoint (c2sp.org/tlog-checkpoint)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from resolution.protocol.note import generate_signer, parse_verifier_key, sign_note

# c2sp.org/tlog-checkpoint, the example note text.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

# A real checkpoint of the Go checksum database, signed by sum.golang.org, with the public
# key that the go command has built in.
GO_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
GO_CHECKPOINT = (
    "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n"
    "\u2014 sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cV"
    "tYspg3dxXABkGZZKdsQ8=\n"
).encode()

ROOT = bytes(range(32))
ORIGIN = "example.com/log"


def test_spec_example_round_trips() -> None:
    cp = parse_checkpoint(SPEC_TEXT)
    assert cp == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert format_checkpoint(cp) == SPEC_TEXT


def test_go_checksum_database_checkpoint() -> None:
    cp = open_checkpoint(GO_CHECKPOINT, parse_verifier_key(GO_VKEY), "go.sum database tree")
    assert cp.size == 65209736
    assert base64.b64encode(cp.root_hash) == b"5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo="
    with pytest.raises(CheckpointError, match="invalid signature"):
        tampered = GO_CHECKPOINT.replace(b"65209736", b"65209737")
        open_checkpoint(tampered, parse_verifier_key(GO_VKEY), "go.sum database tree")


def test_format_with_extensions() -> None:
    cp = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "ext two"))
    text = format_checkpoint(cp)
    assert text == f"{ORIGIN}\n0\n{base64.b64encode(ROOT).decode()}\next one\next two\n"
    assert parse_checkpoint(text) == cp


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "example.com/log\n5\n",
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
        "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # empty origin
        "example.com/log\n05\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n00\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n-5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n+5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n5 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n\u0665\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n1_000\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n9223372036854775808\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",  # 31 bytes
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",  # unpadded
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",  # stray bits
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",  # empty extension
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\next\n",
        "example.com/log\r\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_size_limits() -> None:
    text = f"{ORIGIN}\n{MAX_TREE_SIZE}\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint(text).size == MAX_TREE_SIZE


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT, ()),
        (ORIGIN, True, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("a\nb",)),
    ],
)
def test_checkpoint_rejects_bad_fields(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


@given(
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_round_trip(size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(ORIGIN, size, root, tuple(extensions))
    assert parse_checkpoint(format_checkpoint(cp)) == cp


def test_sign_and_open() -> None:
    log = generate_signer(ORIGIN)
    witness = generate_signer("witness.example/w1")
    cp = Checkpoint(ORIGIN, 42, ROOT)
    data = sign_checkpoint(cp, log, witness)
    assert data.startswith((format_checkpoint(cp) + "\n\u2014 example.com/log ").encode())
    assert open_checkpoint(data, log.verifier, ORIGIN) == cp
    # The witness signature is ignored; a checkpoint only the witness signed is rejected.
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_checkpoint(sign_checkpoint(cp, witness), log.verifier, ORIGIN)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(data, log.verifier, "example.com/other")
    with pytest.raises(CheckpointError, match="invalid signature"):
        open_checkpoint(data.replace(b"\n42\n", b"\n43\n"), log.verifier, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(cp)


def test_open_rejects_a_signed_non_checkpoint() -> None:
    log = generate_signer(ORIGIN)
    data = sign_note(f"{ORIGIN}\n42\nnot a hash\n", log)
    with pytest.raises(CheckpointError, match="root hash"):
        open_checkpoint(data, log.verifier, ORIGIN)
