"""Tests for resolution.protocol.cosignature (c2sp.org/tlog-cosignature v1) against the spec's
example, a real checkpoint cosigned by four public witnesses, and a check written from the spec
text with nothing but ``cryptography``'s Ed25519."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.checkpoint import Checkpoint, format_checkpoint, sign_checkpoint
from resolution.protocol.cosignature import (
    CosignatureError,
    CosignatureSigner,
    CosignatureVerifier,
    add_cosignatures,
    cosignature_from_signature,
    cosignature_message,
    cosigner_key,
    cosigner_private_key,
    generate_cosigner,
    open_cosigned_checkpoint,
    parse_cosigner_key,
    parse_cosigner_private_key,
)
from resolution.protocol.note import (
    NoteError,
    generate_signer,
    key_id,
    open_note,
    parse_note,
    parse_verifier_key,
)

# c2sp.org/tlog-cosignature, the example checkpoint with a cosignature (no key is published for
# witness.example.com/w1, so only its form can be checked) and the example signed message.
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlr"
    "DJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
).encode()
SPEC_MESSAGE = (
    b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

# A checkpoint of the Tessera staging CT log arche2025h1, cosigned by four witnesses of the
# public witness network, with their published verifier keys.  The log's own two signatures
# are of types this package does not verify.
ARCHE_TEXT = (
    "arche2025h1.staging.ct.transparency.dev\n1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
)
ARCHE_COSIGNED = (
    ARCHE_TEXT + "\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6ho"
    "GREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUk"
    "zbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTz"
    "wZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/i"
    "EcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobW"
    "X9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
    "\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr"
    "+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"
).encode()
ARCHE_WITNESSES = (
    "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
)
ARCHE_TIME = 1779573024
# Tessera's documentation gives the same witness key as a type 0x01 note key: another key ID.
LITTLE_GARDEN_NOTE_VKEY = (
    "transparency.dev/DEV:witness-little-garden+4b7fca75"
    "+AStusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM"
)

ORIGIN = "example.com/log"
ROOT = bytes(range(32))
WITNESS = CosignatureSigner("w.example", bytes(32))


def spec_check(text: bytes, line: str, name: str, public_key: bytes) -> int:
    """Verify one cosignature line from the spec's words alone; return its timestamp."""
    prefix = "\u2014 " + name + " "
    assert line.startswith(prefix) and line.endswith("\n")
    blob = base64.b64decode(line[len(prefix) : -1], validate=True)
    assert len(blob) == 4 + 8 + 64
    kid = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public_key).digest()[:4]
    assert blob[:4] == kid
    timestamp = int.from_bytes(blob[4:12], "big")
    message = b"cosignature/v1\n" + b"time " + str(timestamp).encode() + b"\n" + text
    Ed25519PublicKey.from_public_bytes(public_key).verify(blob[12:], message)
    return timestamp


def test_spec_example_form() -> None:
    note = parse_note(SPEC_COSIGNED)
    cosig = cosignature_from_signature(note.unverified[1])
    assert cosig.name == "witness.example.com/w1"
    assert cosig.key_id == bytes.fromhex("8d66cf3f")
    # The timestamp of the example line is the one of the example message.
    assert cosig.timestamp == 1679315147
    assert cosignature_message(note.text, cosig.timestamp) == SPEC_MESSAGE
    assert cosig.line == SPEC_COSIGNED.decode().splitlines(keepends=True)[-1]


@pytest.mark.parametrize("vkey", ARCHE_WITNESSES)
def test_published_witness_keys(vkey: str) -> None:
    verifier = parse_cosigner_key(vkey)
    assert verifier.vkey == vkey
    assert cosigner_key(verifier.name, verifier.public_key) == vkey


def test_key_id_depends_on_the_type_byte() -> None:
    cosigner = parse_cosigner_key(ARCHE_WITNESSES[0])
    note_key = parse_verifier_key(LITTLE_GARDEN_NOTE_VKEY)
    assert cosigner.public_key == note_key.public_key
    assert cosigner.key_id == bytes.fromhex("d8042a87")
    assert (
        note_key.key_id == key_id(cosigner.name, cosigner.public_key) == bytes.fromhex("4b7fca75")
    )
    with pytest.raises(CosignatureError, match="type 0x04"):
        parse_cosigner_key(LITTLE_GARDEN_NOTE_VKEY)


def test_real_witnesses_cosignatures_verify() -> None:
    verifiers = [parse_cosigner_key(v) for v in ARCHE_WITNESSES]
    note = open_note(ARCHE_COSIGNED, verifiers)
    assert note.text == ARCHE_TEXT
    assert {s.name for s in note.signatures} == {v.name for v in verifiers}
    assert len(note.unverified) == 2  # the log's own signatures, of unknown types
    for signature in note.signatures:
        assert cosignature_from_signature(signature).timestamp == ARCHE_TIME
    # The independent check agrees, line by line.
    lines = ARCHE_COSIGNED.decode().splitlines(keepends=True)[-4:]
    for line, verifier in zip(lines, verifiers, strict=True):
        assert spec_check(ARCHE_TEXT.encode(), line, verifier.name, verifier.public_key) == (
            ARCHE_TIME
        )


def test_real_cosignature_does_not_verify_another_tree() -> None:
    verifier = parse_cosigner_key(ARCHE_WITNESSES[2])
    forged = ARCHE_COSIGNED.replace(b"1432088532", b"1432088533")
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(forged, [verifier])


def test_signature_matches_the_spec_byte_for_byte() -> None:
    seed = bytes(range(32))
    signer = CosignatureSigner("witness.example/w1", seed)
    text = format_checkpoint(Checkpoint(ORIGIN, 7, ROOT, ("ext line",)))
    cosig = signer.cosign(text, timestamp=1_700_000_000)
    # Rebuild the line from the spec's words with the raw library.
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes_raw()
    message = b"cosignature/v1\ntime 1700000000\n" + text.encode()
    kid = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    blob = kid + struct.pack(">Q", 1_700_000_000) + key.sign(message)
    assert cosig.line == "\u2014 witness.example/w1 " + base64.b64encode(blob).decode() + "\n"
    assert spec_check(text.encode(), cosig.line, signer.name, public) == 1_700_000_000


def test_cosigned_checkpoint_opens_with_log_and_witness_keys() -> None:
    log = generate_signer(ORIGIN)
    witnesses = [generate_cosigner(f"w{i}.example") for i in range(3)]
    cp = Checkpoint(ORIGIN, 10, ROOT)
    signed = sign_checkpoint(cp, log)
    text = format_checkpoint(cp)
    lines = [w.cosign(text, 1000 + i).line for i, w in enumerate(witnesses[:2])]
    cosigned = add_cosignatures(signed, lines + lines)  # repeats are added once
    assert cosigned.count("\u2014".encode()) == 3
    opened = open_cosigned_checkpoint(
        cosigned, log.verifier, ORIGIN, [w.verifier for w in witnesses]
    )
    assert opened.checkpoint == cp
    assert [c.name for c in opened.cosignatures] == ["w0.example", "w1.example"]
    assert opened.cosigned_by(witnesses[1].verifier).timestamp == 1001  # type: ignore[union-attr]
    assert opened.cosigned_by(witnesses[2].verifier) is None
    # A witness the reader does not know is carried along unverified.
    partial = open_cosigned_checkpoint(cosigned, log.verifier, ORIGIN, [witnesses[0].verifier])
    assert len(partial.cosignatures) == 1 and len(partial.unverified) == 1


def test_cosignatures_without_the_log_signature_are_refused() -> None:
    log = generate_signer(ORIGIN)
    witness = generate_cosigner("w.example")
    text = format_checkpoint(Checkpoint(ORIGIN, 3, ROOT))
    data = (text + "\n" + witness.cosign(text).line).encode()
    with pytest.raises(CosignatureError, match="no signature by its log"):
        open_cosigned_checkpoint(data, log.verifier, ORIGIN, [witness.verifier])


def test_forged_cosignature_rejects_the_note() -> None:
    log = generate_signer(ORIGIN)
    witness = generate_cosigner("w.example")
    cp = Checkpoint(ORIGIN, 5, ROOT)
    honest = witness.cosign(format_checkpoint(Checkpoint(ORIGIN, 5, bytes(32))))
    cosigned = add_cosignatures(sign_checkpoint(cp, log), [honest.line])
    with pytest.raises(CosignatureError, match="invalid signature"):
        open_cosigned_checkpoint(cosigned, log.verifier, ORIGIN, [witness.verifier])


def test_wrong_origin_is_refused() -> None:
    log = generate_signer("other.example/log")
    signed = sign_checkpoint(Checkpoint("other.example/log", 1, ROOT), log)
    with pytest.raises(CosignatureError, match="origin"):
        open_cosigned_checkpoint(signed, log.verifier, ORIGIN, [])


def test_only_canonical_checkpoints_are_cosigned() -> None:
    signer = generate_cosigner("w.example")
    with pytest.raises(CosignatureError, match="not a checkpoint"):
        signer.cosign("just a note\n")
    with pytest.raises(CosignatureError, match="timestamp"):
        signer.cosign(format_checkpoint(Checkpoint(ORIGIN, 1, ROOT)), 1 << 63)
    # A cosignature over a non-checkpoint text never verifies, even if the signature is right.
    message = b"cosignature/v1\ntime 1\nnot a checkpoint\n"
    signature = struct.pack(">Q", 1) + Ed25519PrivateKey.from_private_bytes(signer.seed).sign(
        message
    )
    assert not signer.verifier.verify(b"not a checkpoint\n", signature)


def test_timestamp_over_2_63_is_refused() -> None:
    signer = generate_cosigner("w.example")
    text = format_checkpoint(Checkpoint(ORIGIN, 1, ROOT))
    huge = 1 << 63
    message = b"cosignature/v1\ntime %d\n" % huge + text.encode()
    key = Ed25519PrivateKey.from_private_bytes(signer.seed)
    signature = struct.pack(">Q", huge) + key.sign(message)
    assert not signer.verifier.verify(text.encode(), signature)


def test_private_key_round_trip_and_checks() -> None:
    signer = generate_cosigner("witness.example/w1")
    encoded = cosigner_private_key(signer)
    assert encoded.startswith("PRIVATE+KEY+witness.example/w1+" + signer.verifier.key_id.hex())
    assert parse_cosigner_private_key(encoded + "\n") == signer
    with pytest.raises(CosignatureError):
        parse_cosigner_private_key(encoded.replace("witness.example/w1", "w2"))
    with pytest.raises(CosignatureError):
        parse_cosigner_private_key(encoded[len("PRIVATE+KEY+") :])


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name",
        "name+00000000",
        "name+zzzzzzzz+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
        "name+00000000+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",  # wrong key ID
        "name with space+00000000+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
        "n+d8042a87+BCtus",
    ],
)
def test_malformed_cosigner_keys(vkey: str) -> None:
    with pytest.raises(CosignatureError):
        parse_cosigner_key(vkey)


def test_malformed_cosignature_blob() -> None:
    note = parse_note(
        (format_checkpoint(Checkpoint(ORIGIN, 1, ROOT)) + "\n\u2014 w AAAAAAAA\n").encode()
    )
    with pytest.raises(CosignatureError, match="want 72"):
        cosignature_from_signature(note.unverified[0])


@given(
    seed=st.binary(min_size=32, max_size=32),
    name=st.from_regex(r"[a-z0-9./:-]{1,40}", fullmatch=True),
    size=st.integers(min_value=0, max_value=(1 << 63) - 1),
    root=st.binary(min_size=32, max_size=32),
    timestamp=st.integers(min_value=0, max_value=(1 << 63) - 1),
    extensions=st.lists(st.from_regex(r"[ -~]{1,20}", fullmatch=True), max_size=2),
)
def test_property_sign_verify_and_spec_check_agree(
    seed: bytes, name: str, size: int, root: bytes, timestamp: int, extensions: list[str]
) -> None:
    signer = CosignatureSigner(name, seed)
    text = format_checkpoint(Checkpoint(ORIGIN, size, root, tuple(extensions)))
    cosig = signer.cosign(text, timestamp)
    blob = base64.b64decode(cosig.line.split(" ")[-1])
    assert signer.verifier.verify(text.encode(), blob[4:])
    assert spec_check(text.encode(), cosig.line, name, signer.verifier.public_key) == timestamp
    # Any other tree size is another statement.
    other = format_checkpoint(Checkpoint(ORIGIN, size ^ 1, root, tuple(extensions)))
    assert not signer.verifier.verify(other.encode(), blob[4:])
    assert parse_cosigner_key(signer.verifier.vkey) == signer.verifier


@given(data=st.binary(max_size=100))
def test_property_verify_never_raises(data: bytes) -> None:
    verifier = CosignatureVerifier("w.example", WITNESS.verifier.public_key)
    assert verifier.verify(data, data) is False
    assert verifier.verify(format_checkpoint(Checkpoint(ORIGIN, 1, ROOT)).encode(), data) is False
