"""Tests for resolution.protocol.note against the c2sp.org/signed-note example and the vectors of
golang.org/x/mod/sumdb/note (note.go's package documentation and note_test.go)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.note import (
    MAX_NOTE_SIZE,
    Note,
    NoteError,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    generate_key,
    generate_signer,
    key_id,
    open_note,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signer_key,
    verifier_key,
)

# golang.org/x/mod/sumdb/note: the PeterNeumann example of note.go and note_test.go.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGw"
    "nWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = (TEXT + "\n" + PETER_SIG).encode()

# c2sp.org/signed-note (v1.x), the example verifier key and note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppz"
    "i2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()


def peter() -> Verifier:
    return parse_verifier_key(PETER_VKEY)


def enoch() -> Verifier:
    return parse_verifier_key(ENOCH_VKEY)


# --- keys ------------------------------------------------------------------------------------


def test_peter_keys() -> None:
    v = peter()
    assert v.name == "PeterNeumann"
    assert v.key_id == bytes.fromhex("c74f20a3")
    assert key_id(v.name, v.public_key) == v.key_id
    assert verifier_key(v.name, v.public_key) == PETER_VKEY
    s = parse_signer_key(PETER_SKEY)
    assert s.verifier == v
    assert signer_key(s) == PETER_SKEY
    assert "seed" not in repr(s)


def test_spec_key() -> None:
    v = parse_verifier_key(SPEC_VKEY)
    assert (v.name, v.key_id.hex()) == ("example.com/foo", "530d903a")
    assert verifier_key(v.name, v.public_key) == SPEC_VKEY


def test_upper_case_key_id_is_accepted_like_go() -> None:
    assert parse_verifier_key(PETER_VKEY.replace("c74f20a3", "C74F20A3")) == peter()


def _manglings(key: str) -> list[str]:
    # note_test.go TestNewVerifier/TestNewSigner: every proper substring and every single
    # byte incremented must be rejected.
    raw = key.encode()
    out = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)}
    out.discard(raw)
    for i in range(len(raw)):
        out.add(raw[:i] + bytes([(raw[i] + 1) % 256]) + raw[i + 1 :])
    return [m.decode("utf-8", "replace") for m in sorted(out)]


def test_mangled_verifier_keys_are_rejected() -> None:
    for bad in _manglings(PETER_VKEY):
        with pytest.raises(NoteError):
            parse_verifier_key(bad)
    # From note_test.go: wrong key length and unknown algorithm, each with a matching ID.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(NoteError):
            parse_verifier_key(bad)


def test_mangled_signer_keys_are_rejected() -> None:
    for bad in _manglings(PETER_SKEY):
        with pytest.raises(NoteError):
            parse_signer_key(bad)


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "a\u3000b", "a\tb", "a\x01b"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(NoteError):
        generate_signer(name)
    with pytest.raises(NoteError):
        key_id(name, b"\x00" * 32)


def test_generate_key() -> None:
    skey, vkey = generate_key("example.com/log")
    signer, verifier = parse_signer_key(skey), parse_verifier_key(vkey)
    assert signer.verifier == verifier
    assert open_note(sign_note("hello\n", signer), [verifier]).text == "hello\n"
    with pytest.raises(NoteError):
        Signer("x", b"\x00" * 31)
    with pytest.raises(NoteError):
        Verifier("x", b"\x00" * 33)


# --- the published notes, byte for byte ---------------------------------------------------------


def test_peter_note_signs_byte_for_byte() -> None:
    # Ed25519 is deterministic (RFC 8032), so signing must reproduce Go's output exactly.
    assert sign_note(TEXT, parse_signer_key(PETER_SKEY)) == PETER_NOTE


def test_peter_note_opens() -> None:
    note = open_note(PETER_NOTE, [peter()])
    assert note.text == TEXT
    blob = base64.b64decode(PETER_SIG.split()[-1])
    assert note.signatures == (Signature("PeterNeumann", blob[:4], blob[4:]),)
    assert note.unverified == ()


def test_spec_note_opens() -> None:
    note = open_note(SPEC_NOTE, [parse_verifier_key(SPEC_VKEY)])
    assert note.text == "This is an example message.\n"
    assert [s.name for s in note.signatures] == ["example.com/foo"]


@pytest.mark.parametrize(
    "tampered",
    [
        PETER_NOTE.replace(b"cryptography", b"cryptoGraphy"),
        PETER_NOTE.replace(b"is.\n\n", b"is!\n\n"),
        PETER_NOTE.replace(b"x08go/ZJ", b"x08go/ZK"),  # signature bytes
        PETER_NOTE.replace(b"AM=\n", b"AQ=\n"),  # last signature byte
        (TEXT + "extra line\n\n" + PETER_SIG).encode(),
    ],
)
def test_tampered_peter_note_fails(tampered: bytes) -> None:
    assert tampered != PETER_NOTE
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(tampered, [peter()])


def test_tampered_key_id_makes_signature_unknown() -> None:
    # Changing the first base64 characters changes the key ID: the signature is now from an
    # unknown key, which must be ignored -- leaving no verified signature at all.
    tampered = PETER_NOTE.replace(b"x08go/", b"y08go/")
    with pytest.raises(UnverifiedNoteError):
        open_note(tampered, [peter()])


# --- note_test.go TestOpen -------------------------------------------------------------------


def test_open_one_verified_one_unknown() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter()])
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    assert [s.name for s in note.unverified] == ["EnochRoot"]
    assert note.unverified[0].key_id.hex() == "af0cfe78"


def test_open_both_verified() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter(), enoch()])
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.unverified == ()


def test_open_with_no_known_key() -> None:
    data = (TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    with pytest.raises(UnverifiedNoteError, match="PeterNeumann\\+c74f20a3, EnochRoot") as info:
        open_note(data, [])
    assert isinstance(info.value.note, Note)
    assert len(info.value.note.unverified) == 2
    # A key with the right name but another ID is a different, unknown key.
    other = generate_signer("PeterNeumann").verifier
    with pytest.raises(UnverifiedNoteError):
        open_note(data[: len(TEXT) + 1] + PETER_SIG.encode(), [other])


def test_duplicate_verifiers() -> None:
    data = (TEXT + "\n" + ENOCH_SIG).encode()
    assert open_note(data, [enoch(), peter(), enoch()]).text == TEXT  # identical: harmless
    impostor = Verifier("EnochRoot", generate_signer("x").public_key)
    object.__setattr__(impostor, "key_id", enoch().key_id)  # force a name+ID collision
    with pytest.raises(NoteError, match="two verifiers"):
        open_note(data, [enoch(), impostor])


def test_too_many_signatures() -> None:
    assert open_note((TEXT + "\n" + PETER_SIG * 100).encode(), [peter()]).text == TEXT
    for verifiers in ([peter()], []):
        with pytest.raises(NoteError, match="over the 100 limit"):
            open_note((TEXT + "\n" + PETER_SIG * 101).encode(), verifiers)


def test_invalid_signature_in_long_form() -> None:
    raw = PETER_SIG.encode()
    bad = raw[:60] + b"ABCD" + raw[60:]  # byte offsets, as in note_test.go
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(TEXT.encode() + b"\n" + bad, [peter()])


def test_duplicated_verified_and_unverified_signatures() -> None:
    raw_enoch = ENOCH_SIG.encode()
    enoch_abcd = raw_enoch[:60] + b"ABCD" + raw_enoch[60:]
    data = (TEXT + "\n" + PETER_SIG * 2 + ENOCH_SIG * 2).encode() + enoch_abcd
    note = open_note(data, [peter()])
    assert len(note.signatures) == 1
    assert [len(s.signature) for s in note.unverified] == [64, 67]


@pytest.mark.parametrize(
    "msg",
    [
        TEXT.encode(),
        (TEXT + "\n").encode(),
        (TEXT + "\n" + PETER_SIG[:-1]).encode(),
        ("\x01" + TEXT + "\n" + PETER_SIG).encode(),
        b"\xff" + PETER_NOTE,
        (TEXT + "\n\u2014 Bad Name " + PETER_SIG.split()[-1]).encode(),
        (TEXT + "\n\u2014 Bad Name " + PETER_SIG.split()[-1] + "\n").encode(),
        (TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
        (TEXT + "\n" + PETER_SIG + "\n").encode(),
        (TEXT + "\n- PeterNeumann " + PETER_SIG.split()[-1] + "\n").encode(),
        (TEXT + "\n\u2014 PeterNeumann\n").encode(),
        (TEXT + "\n\u2014 PeterNeumann \n").encode(),
        (TEXT + "\n\u2014 PeterNeumann AAAA\n").encode(),  # 3 bytes: no room for a signature
        (TEXT + "\n\u2014 PeterNeumann x08go/ZJ*uBS9U\n").encode(),
        (TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/Sff\n").encode(),  # missing padding
        (TEXT + "\n\u2014 Peter+Neumann " + PETER_SIG.split()[-1] + "\n").encode(),
        (TEXT.replace("\n", "\r\n") + "\n" + PETER_SIG).encode(),
        b"\xed\xa0\x80" + PETER_NOTE,  # an encoded surrogate is not UTF-8
        PETER_NOTE + b" " * MAX_NOTE_SIZE,
    ],
)
def test_malformed_notes(msg: bytes) -> None:
    with pytest.raises(NoteError) as info:
        open_note(msg, [peter()])
    assert not isinstance(info.value, UnverifiedNoteError)
    assert str(info.value)


def test_parse_note_keeps_everything_unverified() -> None:
    note = parse_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG + PETER_SIG).encode())
    assert note.text == TEXT
    assert note.signatures == ()
    assert [s.name for s in note.unverified] == ["PeterNeumann", "EnochRoot"]


# --- signing -----------------------------------------------------------------------------------


def test_sign_rejects_bad_text() -> None:
    s = parse_signer_key(PETER_SKEY)
    for bad in ["abc", "", "a\x00b\n", "tab\there\n", "a\rb\n", "\ud800\n"]:
        with pytest.raises(NoteError):
            sign_note(bad, s)
    with pytest.raises(NoteError):
        sign_note(TEXT)


def test_sign_with_several_signers() -> None:
    a, b = generate_signer("a.example/log"), generate_signer("b.example/witness")
    data = sign_note(TEXT, a, b, a)
    assert data.count("\u2014".encode()) == 2
    note = open_note(data, [b.verifier])
    assert [s.name for s in note.signatures] == ["b.example/witness"]
    assert [s.name for s in note.unverified] == ["a.example/log"]


def test_texts_with_blank_lines_and_dashes_round_trip() -> None:
    s = generate_signer("example.com/log")
    text = "\u2014 not a signature\n\n\n\u2014 x AAAAAAAA\nend\n\n"
    assert open_note(sign_note(text, s), [s.verifier]).text == text


@given(
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r\t\x0b\x0c"),
        max_size=200,
    ).filter(lambda t: not any(ord(c) < 0x20 and c != "\n" for c in t))
)
def test_sign_open_round_trip(body: str) -> None:
    text = body + "\n"
    note = open_note(sign_note(text, _SIGNER), [_SIGNER.verifier])
    assert note.text == text


_SIGNER = generate_signer("example.com/roundtrip")
