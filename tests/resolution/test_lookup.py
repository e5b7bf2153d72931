"""Tests for resolution.protocol.lookup: lookup answers built here for real (VRF label, log
entries in a Merkle tree, signed checkpoint) verify, and every alteration of one is caught and
named."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolution.protocol import vrf
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import Checkpoint, format_checkpoint, sign_checkpoint
from resolution.protocol.lookup import (
    COMMITTED_FIELDS,
    LookupVerificationError,
    VerifiedHandler,
    VerifiedLookup,
    handler_commitment,
    handler_fields,
    verify_lookup,
)
from resolution.protocol.merkle import (
    NodeId,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
)
from resolution.protocol.note import Signer, generate_signer, parse_verifier_key, verifier_key

VRF_VECTORS_FILE = (
    Path(__file__).resolve().parents[1] / "vectors" / "vrf" / "rfc9381-edwards25519-sha512-tai.json"
)
VRF_VECTORS: list[dict[str, str]] = json.loads(VRF_VECTORS_FILE.read_text())["vectors"]

ORIGIN = "example.org/log"
SIGNER = generate_signer(ORIGIN)
NOTE_KEY = verifier_key(ORIGIN, SIGNER.public_key)
VRF_SECRET = vrf.generate_secret_key()
VRF_KEY = vrf.public_key(VRF_SECRET)
NUMBER = "+33612345678"
OTHER_NUMBER = "+33698765432"


@dataclass(frozen=True)
class Spec:
    """A handler to publish in the test log."""

    provider: str = "acme-chat"
    service: str = "messaging"
    uri: str = "sip:+33612345678@acme.example"
    priority: int = 10
    expires_at: str = "2026-12-23T13:00:00Z"
    certificate: str = "0f3a" * 8
    pending: bool = False


SEVERAL = (
    Spec(),
    Spec(service="voice", uri="tel:+33612345678", priority=1),
    Spec(provider="other-co", uri="https://other.example/+33612345678", priority=20),
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def flip(text: str, at: int | None = None) -> str:
    """Flip one bit of a base64 value, in its middle byte unless ``at`` says which."""
    raw = bytearray(unb64(text))
    raw[len(raw) // 2 if at is None else at] ^= 0x01
    return b64(bytes(raw))


def label_of(number: str, secret: bytes = VRF_SECRET) -> tuple[str, bytes]:
    proof = vrf.prove(secret, number.encode("ascii"))
    return vrf.proof_to_hash(proof).hex(), proof


class Log:
    """An in-memory log: a list of entries, with proofs and checkpoints over any prefix."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []

    def append(self, record: dict[str, Any]) -> int:
        self.entries.append(canonical_json(record))
        return len(self.entries) - 1

    def reader(self, ids: Sequence[NodeId]) -> list[bytes]:
        hashes = [leaf_hash(entry) for entry in self.entries]
        return [root_from_leaf_hashes(hashes[i << lv : (i + 1) << lv]) for lv, i in ids]

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes([leaf_hash(entry) for entry in self.entries[:size]])

    def proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.reader)

    def checkpoint(self, size: int, signer: Signer = SIGNER, origin: str = ORIGIN) -> str:
        return sign_checkpoint(Checkpoint(origin, size, self.root(size)), signer).decode()


def unrelated(log: Log, n: int) -> None:
    """Entries of other kinds, and handlers of other numbers, around ours."""
    for i in range(n):
        if i % 2:
            log.append({"v": 1, "kind": "certificate", "serial": f"{len(log.entries):032x}"})
        else:
            other_label, _ = label_of(f"+3361111{len(log.entries):04d}")
            log.append(
                {
                    "v": 1,
                    "kind": "handler",
                    "label": other_label,
                    "provider": "acme-chat",
                    "service": "messaging",
                    "commitment": hashlib.sha256(other_label.encode()).hexdigest(),
                }
            )


def handler_object(spec: Spec) -> dict[str, Any]:
    return {
        "provider": spec.provider,
        "service": spec.service,
        "uri": spec.uri,
        "priority": spec.priority,
        "expires_at": spec.expires_at,
        "certificate": spec.certificate,
    }


def build(
    specs: Sequence[Spec] = SEVERAL,
    *,
    number: str = NUMBER,
    vrf_secret: bytes = VRF_SECRET,
    checkpoint: bool = True,
    versions: Sequence[int] = (1,),
) -> dict[str, Any]:
    """A lookup answer as the server writes it, with ``specs`` published in a real log; the
    handler entries are of ``versions`` in turn (version 1: published before version 2)."""
    label, vrf_proof = label_of(number, vrf_secret)
    log = Log()
    unrelated(log, 3 if checkpoint else 0)
    published = []
    # Handlers in the checkpoint first, with unrelated entries between them; pending ones after.
    for n, spec in enumerate(sorted(specs, key=lambda s: s.pending)):
        opening = hashlib.sha256(f"{spec}".encode()).digest()
        handler = handler_object(spec)
        commitment = handler_commitment(opening, handler_fields(number, handler))
        entry = {"v": 2, "kind": "handler", "label": label, "commitment": commitment.hex()}
        if versions[n % len(versions)] == 1:
            entry |= {"v": 1, "provider": spec.provider, "service": spec.service}
        index = log.append(entry)
        published.append((spec, handler, index, opening))
        if not spec.pending:
            unrelated(log, 2)
    size = max([i + 1 for s, _, i, _ in published if not s.pending] + [3 if checkpoint else 0])
    handlers = []
    for spec, handler, index, opening in sorted(published, key=lambda p: specs.index(p[0])):
        proof = None if spec.pending else [b64(node) for node in log.proof(index, size)]
        handler["log"] = {
            "index": index,
            "entry": b64(log.entries[index]),
            "opening": b64(opening),
            "inclusion_proof": proof,
            "pending": spec.pending,
        }
        handlers.append(handler)
    return {
        "number": number,
        "label": label,
        "vrf_proof": b64(vrf_proof),
        "checkpoint": log.checkpoint(size) if checkpoint else None,
        "handlers": handlers,
    }


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    return build()


@pytest.fixture
def answer(good: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(good)


def verify(answer: object, note_key: Any = NOTE_KEY, vrf_key: bytes = VRF_KEY) -> VerifiedLookup:
    return verify_lookup(answer, note_key, vrf_key)


def rejected(answer: object, match: str, **kwargs: Any) -> None:
    with pytest.raises(LookupVerificationError, match=match):
        verify(answer, **kwargs)


def verified_handler(spec: Spec, index: int) -> VerifiedHandler:
    return VerifiedHandler(
        provider=spec.provider,
        service=spec.service,
        uri=spec.uri,
        priority=spec.priority,
        expires_at=spec.expires_at,
        certificate=spec.certificate,
        log_index=index,
    )


# --- Good answers -----------------------------------------------------------------------------


def test_an_answer_with_several_handlers_verifies(answer: dict[str, Any]) -> None:
    verified = verify(answer)
    assert verified.number == NUMBER
    assert verified.label == bytes.fromhex(answer["label"])
    assert verified.label == vrf.proof_to_hash(vrf.prove(VRF_SECRET, NUMBER.encode()))
    assert verified.checkpoint is not None
    assert verified.checkpoint.origin == ORIGIN
    assert verified.checkpoint.size == 10
    indices = [h["log"]["index"] for h in answer["handlers"]]
    assert verified.handlers == tuple(
        verified_handler(spec, index) for spec, index in zip(SEVERAL, indices, strict=True)
    )
    assert verified.pending == ()


def test_the_note_key_may_be_a_parsed_verifier(answer: dict[str, Any]) -> None:
    assert verify(answer, note_key=parse_verifier_key(NOTE_KEY)) == verify(answer)


def test_an_answer_with_no_handlers_verifies() -> None:
    verified = verify(build([]))
    assert verified.handlers == verified.pending == ()
    assert verified.checkpoint is not None and verified.checkpoint.size == 3


def test_an_empty_log_has_no_checkpoint() -> None:
    answer = build([], checkpoint=False)
    assert answer["checkpoint"] is None
    verified = verify(answer)
    assert verified.checkpoint is None
    assert verified.handlers == verified.pending == ()


def test_a_pending_handler_is_returned_apart() -> None:
    specs = [Spec(), Spec(service="voice", uri="tel:+33612345678", pending=True)]
    answer = build(specs)
    assert answer["handlers"][1]["log"]["inclusion_proof"] is None
    verified = verify(answer)
    assert verified.checkpoint is not None
    pending_index = answer["handlers"][1]["log"]["index"]
    assert pending_index >= verified.checkpoint.size
    assert verified.handlers == (verified_handler(specs[0], answer["handlers"][0]["log"]["index"]),)
    assert verified.pending == (verified_handler(specs[1], pending_index),)


def test_handlers_appended_before_the_first_checkpoint_are_pending() -> None:
    # The server answers with no checkpoint until the integrator has signed one.
    answer = build([Spec(pending=True)], checkpoint=False)
    verified = verify(answer)
    assert verified.checkpoint is None
    assert verified.handlers == ()
    assert [h.service for h in verified.pending] == ["messaging"]


def test_a_proven_handler_needs_a_checkpoint(answer: dict[str, Any]) -> None:
    answer["checkpoint"] = None
    rejected(answer, r"handler 0 \(messaging by acme-chat\): not pending, but the answer has no")


# --- The VRF input is the E.164 string, as ASCII --------------------------------------------

# The label of NUMBER under the secret key of RFC 9381 Appendix B.3 example 16, computed with
# resolution.protocol.vrf (itself checked against that example): pinned, so that neither the
# server's nor the client's choice of alpha can change silently.
VECTOR_LABEL = (
    "af7bfdb02bf78a1f2c7741829549e7e810ed7e1c072457c238f67462220181bb"
    "69770b1bd1161413a6bfa4adee894ad44762849b53c1c1bdf38c206b265d7114"
)


def test_the_label_is_the_vrf_output_of_the_number_in_ascii() -> None:
    vector = VRF_VECTORS[0]
    secret, public = bytes.fromhex(vector["SK"]), bytes.fromhex(vector["PK"])
    # The key is the RFC's: the module reproduces its proof and output.
    pi = vrf.prove(secret, bytes.fromhex(vector["alpha"]))
    assert pi.hex() == vector["pi"]
    assert vrf.verify(public, pi, bytes.fromhex(vector["alpha"])).hex() == vector["beta"]

    answer = build(number=NUMBER, vrf_secret=secret)
    verified = verify(answer, vrf_key=public)
    assert verified.label.hex() == answer["label"] == VECTOR_LABEL
    # Any other spelling of the same number is another VRF input, and fails.
    for alpha in (b"33612345678", b"tel:+33612345678", b"+33612345678\x00", "+33612345678"):
        encoded = alpha.encode("utf-16-be") if isinstance(alpha, str) else alpha
        other = vrf.prove(secret, encoded)
        altered = copy.deepcopy(answer)
        altered.update(vrf_proof=b64(other), label=vrf.proof_to_hash(other).hex())
        rejected(altered, "VRF proof does not verify for", vrf_key=public)


# --- The commitment ---------------------------------------------------------------------------


def test_handler_fields_are_the_seven_committed_fields() -> None:
    handler = {**handler_object(Spec()), "log": {"index": 3}, "extra": 1}
    fields = handler_fields(NUMBER, handler)
    assert set(fields) == COMMITTED_FIELDS
    assert fields == {**handler_object(Spec()), "number": NUMBER}
    del handler["uri"]
    with pytest.raises(KeyError):
        handler_fields(NUMBER, handler)


def test_handler_commitment_is_hmac_sha256_of_canonical_json() -> None:
    opening = bytes(range(32))
    fields = handler_fields(NUMBER, handler_object(Spec(uri="sip:zoë@acme.example")))
    # Written out by hand: sorted keys, no whitespace, UTF-8, numbers as they are.
    message = (
        '{"certificate":"' + "0f3a" * 8 + '","expires_at":"2026-12-23T13:00:00Z",'
        '"number":"+33612345678","priority":10,"provider":"acme-chat","service":"messaging",'
        '"uri":"sip:zoë@acme.example"}'
    ).encode()
    want = hmac.new(opening, message, hashlib.sha256).digest()
    assert handler_commitment(opening, fields) == want


@pytest.mark.parametrize(
    ("opening", "fields"),
    [
        (bytes(31), handler_fields(NUMBER, handler_object(Spec()))),
        ("x" * 32, handler_fields(NUMBER, handler_object(Spec()))),
        (bytes(32), handler_object(Spec())),  # no number
        (bytes(32), {**handler_fields(NUMBER, handler_object(Spec())), "visible_to": "all"}),
    ],
    ids=["short opening", "str opening", "missing field", "extra field"],
)
def test_handler_commitment_refuses_other_inputs(opening: Any, fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="commitment"):
        handler_commitment(opening, fields)


# --- Tampering --------------------------------------------------------------------------------


def first(answer: dict[str, Any]) -> dict[str, Any]:
    handler: dict[str, Any] = answer["handlers"][0]
    return handler


def first_log(answer: dict[str, Any]) -> dict[str, Any]:
    log: dict[str, Any] = first(answer)["log"]
    return log


def change_entry(answer: dict[str, Any], **changes: Any) -> None:
    record = json.loads(unb64(first_log(answer)["entry"]))
    record.update(changes)
    first_log(answer)["entry"] = b64(canonical_json(record))


def replace_entry_bytes(answer: dict[str, Any], old: bytes, new: bytes) -> None:
    entry = unb64(first_log(answer)["entry"])
    assert old in entry
    first_log(answer)["entry"] = b64(entry.replace(old, new, 1))


def change_commitment_digit(answer: dict[str, Any]) -> None:
    entry = unb64(first_log(answer)["entry"])
    at = entry.index(b'"commitment":"') + len(b'"commitment":"') + 10
    digit = b"0" if entry[at : at + 1] != b"0" else b"1"
    first_log(answer)["entry"] = b64(entry[:at] + digit + entry[at + 1 :])


def change_checkpoint_line(answer: dict[str, Any], line: int, value: str) -> None:
    text, _, signatures = answer["checkpoint"].partition("\n\n")
    lines = text.split("\n")
    lines[line] = value
    answer["checkpoint"] = "\n".join(lines) + "\n\n" + signatures


def flip_signature(answer: dict[str, Any], at: int) -> None:
    text, _, signature = answer["checkpoint"].partition("\n\n")
    prefix, _, blob = signature.rstrip("\n").rpartition(" ")
    answer["checkpoint"] = f"{text}\n\n{prefix} {flip(blob, at)}\n"


HANDLER_0 = r"handler 0 \(messaging by acme-chat\): "
COMMITMENT = HANDLER_0 + "commitment does not match its fields"
INCLUSION = HANDLER_0 + "inclusion proof does not verify against the checkpoint"
CHECKPOINT = r"checkpoint does not verify with key example\.org/log\+[0-9a-f]{8}: "

TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "uri": (lambda a: first(a).update(uri="sip:mallory@evil.example"), COMMITMENT),
    "priority": (lambda a: first(a).update(priority=11), COMMITMENT),
    "expires_at": (lambda a: first(a).update(expires_at="2099-12-23T13:00:00Z"), COMMITMENT),
    "certificate": (lambda a: first(a).update(certificate="f" * 32), COMMITMENT),
    "provider": (
        lambda a: first(a).update(provider="mallory"),
        r"handler 0 \(messaging by mallory\): log entry's provider is not the answer's provider",
    ),
    "service": (
        lambda a: first(a).update(service="voice"),
        r"handler 0 \(voice by acme-chat\): log entry's service is not the answer's service",
    ),
    "number": (
        lambda a: a.update(number=OTHER_NUMBER),
        r"VRF proof does not verify for \+33698765432: proof does not verify",
    ),
    "label": (
        lambda a: a.update(label=label_of(OTHER_NUMBER)[0]),
        r"label is not the VRF output for \+33612345678",
    ),
    "vrf proof gamma": (
        lambda a: a.update(vrf_proof=flip(a["vrf_proof"], 3)),
        "VRF proof does not verify for",
    ),
    "vrf proof challenge": (
        lambda a: a.update(vrf_proof=flip(a["vrf_proof"], 40)),
        "VRF proof does not verify for",
    ),
    "vrf proof scalar": (
        lambda a: a.update(vrf_proof=flip(a["vrf_proof"], 60)),
        "VRF proof does not verify for",
    ),
    "opening": (lambda a: first_log(a).update(opening=flip(first_log(a)["opening"])), COMMITMENT),
    "entry commitment digit": (change_commitment_digit, COMMITMENT),
    "entry byte": (
        lambda a: replace_entry_bytes(a, b'"kind":', b'"kind" '),
        HANDLER_0 + "log entry is not a canonical JSON object",
    ),
    "entry not canonical": (
        lambda a: replace_entry_bytes(a, b'"v":1}', b'"v": 1}'),
        HANDLER_0 + "log entry is not a canonical JSON object: JSON is not in canonical form",
    ),
    "entry label": (
        lambda a: change_entry(a, label=label_of(OTHER_NUMBER)[0]),
        HANDLER_0 + "log entry's label is not the answer's label",
    ),
    "entry kind": (
        lambda a: change_entry(a, kind="handler_removed"),
        HANDLER_0 + "log entry is of kind \"handler_removed\", not 'handler'",
    ),
    "entry version": (
        lambda a: change_entry(a, v=3),
        HANDLER_0 + "log entry has v=3, want 1 or 2",
    ),
    "entry version 2 of version 1's shape": (
        lambda a: change_entry(a, v=2),
        HANDLER_0 + "log entry has the keys",
    ),
    "entry version true": (
        lambda a: change_entry(a, v=True),
        HANDLER_0 + "log entry has v=true, want 1 or 2",
    ),
    "entry extra key": (
        lambda a: change_entry(a, uri="sip:x@y"),
        HANDLER_0 + "log entry has the keys",
    ),
    "entry commitment form": (
        lambda a: change_entry(a, commitment="AB" * 32),
        HANDLER_0 + "log entry's commitment is not 64 lowercase hex digits",
    ),
    "inclusion proof hash": (
        lambda a: first_log(a)["inclusion_proof"].__setitem__(
            1, flip(first_log(a)["inclusion_proof"][1])
        ),
        INCLUSION + ": inclusion proof for leaf 3 of 10 does not match the root",
    ),
    "inclusion proof too short": (
        lambda a: first_log(a)["inclusion_proof"].pop(),
        INCLUSION + ": inclusion proof has too few hashes",
    ),
    "inclusion proof too long": (
        lambda a: first_log(a)["inclusion_proof"].append(b64(bytes(32))),
        INCLUSION + ": inclusion proof has too many hashes",
    ),
    "index": (lambda a: first_log(a).update(index=4), INCLUSION),
    "index beyond the checkpoint": (
        lambda a: first_log(a).update(index=10),
        HANDLER_0 + "log index 10 is not in the checkpoint of size 10",
    ),
    "checkpoint root": (
        lambda a: change_checkpoint_line(a, 2, b64(bytes(32))),
        CHECKPOINT + "invalid signature",
    ),
    "checkpoint size": (
        lambda a: change_checkpoint_line(a, 1, "11"),
        CHECKPOINT + "invalid signature",
    ),
    "checkpoint signature byte": (
        lambda a: flip_signature(a, 20),
        CHECKPOINT + "invalid signature",
    ),
    "checkpoint key id byte": (
        lambda a: flip_signature(a, 0),
        CHECKPOINT + "note has no signature from a known key",
    ),
    "checkpoint extra line": (
        lambda a: a.update(checkpoint=a["checkpoint"].replace("\n", "\n\n", 1)),
        CHECKPOINT + "invalid signature",
    ),
    "pending with a proof": (
        lambda a: first_log(a).update(pending=True),
        HANDLER_0 + "a pending handler must not carry an inclusion proof",
    ),
    "pending inside the checkpoint": (
        lambda a: first_log(a).update(pending=True, inclusion_proof=None),
        HANDLER_0 + "pending, but log index 3 is in the checkpoint of size 10",
    ),
    "proof left out": (
        lambda a: first_log(a).update(inclusion_proof=None),
        HANDLER_0 + "not pending, but no inclusion proof is given",
    ),
    "duplicate handler": (
        lambda a: a["handlers"].append(copy.deepcopy(a["handlers"][0])),
        r"handler 3 \(messaging by acme-chat\): handler 0 already has this provider and service",
    ),
}


def test_the_good_answer_is_as_the_tamperings_expect(good: dict[str, Any]) -> None:
    assert [h["log"]["index"] for h in good["handlers"]] == [3, 6, 9]
    assert good["checkpoint"].split("\n")[1] == "10"
    verify(good)


@pytest.mark.parametrize("what", TAMPERINGS)
def test_any_alteration_fails_and_is_named(answer: dict[str, Any], what: str) -> None:
    tamper, match = TAMPERINGS[what]
    tamper(answer)
    rejected(answer, match)


def test_a_later_handler_is_named(answer: dict[str, Any]) -> None:
    answer["handlers"][2]["uri"] = "sip:mallory@evil.example"
    rejected(answer, r"^handler 2 \(messaging by other-co\): commitment does not match its fields$")


def test_a_duplicate_entry_with_its_own_proof_is_refused() -> None:
    # Two real log entries for the same provider and service: still one handler each.
    answer = build([Spec(), Spec(uri="sip:other@acme.example")])
    rejected(answer, r"handler 1 \(messaging by acme-chat\): handler 0 already has this")


# --- Checkpoints and keys ----------------------------------------------------------------------


def resigned(answer: dict[str, Any], cp: Checkpoint, signer: Signer = SIGNER) -> dict[str, Any]:
    answer["checkpoint"] = sign_checkpoint(cp, signer).decode()
    return answer


def test_a_checkpoint_signed_over_another_root_fails_the_proofs(answer: dict[str, Any]) -> None:
    resigned(answer, Checkpoint(ORIGIN, 10, bytes(32)))
    rejected(answer, INCLUSION + ": inclusion proof for leaf 3 of 10 does not match the root")


def test_a_checkpoint_signed_over_a_smaller_tree_fails(answer: dict[str, Any]) -> None:
    resigned(answer, Checkpoint(ORIGIN, 2, bytes(32)))
    rejected(answer, HANDLER_0 + "log index 3 is not in the checkpoint of size 2")


def test_a_checkpoint_signed_over_a_larger_tree_fails(answer: dict[str, Any]) -> None:
    # Same entries, but a proof for size 10 cannot prove anything about size 11.
    resigned(answer, Checkpoint(ORIGIN, 11, bytes(32)))
    rejected(answer, INCLUSION)


def test_a_checkpoint_of_another_log_fails(answer: dict[str, Any]) -> None:
    cp = Checkpoint("other.example/log", 10, bytes(32))
    resigned(answer, cp)
    rejected(answer, CHECKPOINT + "checkpoint origin 'other.example/log' is not the expected")


def test_a_checkpoint_that_is_not_a_signed_note_fails(answer: dict[str, Any]) -> None:
    answer["checkpoint"] = format_checkpoint(Checkpoint(ORIGIN, 10, bytes(32)))
    rejected(answer, CHECKPOINT + "note has no blank line")


def test_another_note_key_fails(answer: dict[str, Any]) -> None:
    impostor = generate_signer(ORIGIN)
    rejected(
        answer,
        CHECKPOINT + "note has no signature from a known key",
        note_key=verifier_key(ORIGIN, impostor.public_key),
    )


def test_a_checkpoint_signed_by_another_key_fails(answer: dict[str, Any]) -> None:
    impostor = generate_signer(ORIGIN)
    cp = verify(answer).checkpoint
    assert cp is not None
    resigned(answer, cp, impostor)
    rejected(answer, CHECKPOINT + "note has no signature from a known key")


def test_a_note_key_of_another_name_fails(answer: dict[str, Any]) -> None:
    rejected(
        answer,
        r"checkpoint does not verify with key example\.net/log\+",
        note_key=verifier_key("example.net/log", SIGNER.public_key),
    )


def test_a_malformed_note_key_fails(answer: dict[str, Any]) -> None:
    rejected(answer, "note key is invalid", note_key="example.org/log+00000000+AAAA")


def test_another_vrf_key_fails(answer: dict[str, Any]) -> None:
    other = vrf.public_key(vrf.generate_secret_key())
    rejected(answer, r"VRF proof does not verify for \+33612345678", vrf_key=other)


def test_a_vrf_key_of_the_wrong_size_fails(answer: dict[str, Any]) -> None:
    rejected(answer, "public key must be 32 bytes", vrf_key=VRF_KEY[:31])


def test_keys_of_the_wrong_type_are_programming_errors(answer: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="note_key"):
        verify(answer, note_key=SIGNER.public_key)
    with pytest.raises(TypeError, match="vrf_key"):
        verify(answer, vrf_key=VRF_KEY.hex())  # type: ignore[arg-type]


# --- Shape ------------------------------------------------------------------------------------

MISSING = object()

# (path into the answer, value to put there or MISSING to delete it, expected message)
MALFORMED: list[tuple[tuple[Any, ...], object, str]] = [
    ((), [], "the answer must be a JSON object, not list"),
    (("number",), MISSING, "'number' is missing"),
    (("number",), 33612345678, "'number' must be a non-empty string, not int"),
    (("number",), "33612345678", "'number' is not in the expected form"),
    (("number",), "+03612345678", "'number' is not in the expected form"),
    (("number",), "+1", "'number' is not in the expected form"),
    (("number",), "+1234567890123456", "'number' is not in the expected form"),
    (("number",), "+\uff13\uff13612345678", "'number' is not in the expected form"),
    (("number",), "+33612345678\n", "'number' is not in the expected form"),
    (("label",), MISSING, "'label' is missing"),
    (("label",), None, "'label' must be a non-empty string, not null"),
    (("label",), "AB" * 64, "'label' is not in the expected form"),
    (("label",), "ab" * 63, "'label' is not in the expected form"),
    (("vrf_proof",), MISSING, "'vrf_proof' is missing"),
    (("vrf_proof",), 5, "VRF proof must be a base64 string, not int"),
    (("vrf_proof",), "not base64!", "VRF proof is not base64"),
    (("vrf_proof",), b64(bytes(79)), "VRF proof is 79 bytes, want 80"),
    (("vrf_proof",), b64(bytes(80)).rstrip("="), "VRF proof is not base64"),
    (("checkpoint",), MISSING, "'checkpoint' is missing"),
    (("checkpoint",), 10, "'checkpoint' must be a string or null, not int"),
    (("checkpoint",), "\ud800", "checkpoint is not encodable as UTF-8"),
    (("handlers",), MISSING, "'handlers' is missing"),
    (("handlers",), None, "'handlers' must be an array, not null"),
    (("handlers",), {"0": {}}, "'handlers' must be an array, not dict"),
    (("handlers", 0), "acme-chat", "handler 0: must be an object, not str"),
    (("handlers", 0, "provider"), MISSING, "handler 0: 'provider' is missing"),
    (("handlers", 0, "provider"), "", "handler 0: 'provider' must be a non-empty string"),
    (("handlers", 0, "service"), ["messaging"], "handler 0: 'service' must be a non-empty string"),
    (("handlers", 0, "uri"), MISSING, HANDLER_0 + "'uri' is missing"),
    (("handlers", 0, "uri"), None, HANDLER_0 + "'uri' must be a non-empty string, not null"),
    (("handlers", 0, "priority"), MISSING, HANDLER_0 + "'priority' is missing"),
    (("handlers", 0, "priority"), True, HANDLER_0 + "'priority' must be an integer, not bool"),
    (("handlers", 0, "priority"), "10", HANDLER_0 + "'priority' must be an integer, not str"),
    (("handlers", 0, "priority"), 10.0, HANDLER_0 + "'priority' must be an integer, not float"),
    (
        ("handlers", 0, "uri"),
        "sip:\udc00@acme.example",
        HANDLER_0 + "its fields cannot be committed to: value has no canonical JSON encoding",
    ),
    (
        ("handlers", 0, "priority"),
        10**5000,
        HANDLER_0 + "its fields cannot be committed to: value has no canonical JSON encoding",
    ),
    (("handlers", 0, "expires_at"), MISSING, HANDLER_0 + "'expires_at' is missing"),
    (("handlers", 0, "expires_at"), 1798030800, HANDLER_0 + "'expires_at' must be a non-empty"),
    (("handlers", 0, "expires_at"), "2026-12-23", HANDLER_0 + "'expires_at' is not in the"),
    (("handlers", 0, "certificate"), MISSING, HANDLER_0 + "'certificate' is missing"),
    (("handlers", 0, "certificate"), "0F3A" * 8, HANDLER_0 + "'certificate' is not in the"),
    (("handlers", 0, "certificate"), 12345, HANDLER_0 + "'certificate' must be a non-empty"),
    (("handlers", 0, "log"), MISSING, HANDLER_0 + "'log' is missing"),
    (("handlers", 0, "log"), [], HANDLER_0 + "'log' must be an object, not list"),
    (("handlers", 0, "log", "index"), MISSING, HANDLER_0 + "'index' is missing"),
    (("handlers", 0, "log", "index"), -1, HANDLER_0 + "'index' must be at least 0, not -1"),
    (("handlers", 0, "log", "index"), False, HANDLER_0 + "'index' must be an integer, not bool"),
    (("handlers", 0, "log", "index"), "3", HANDLER_0 + "'index' must be an integer, not str"),
    (("handlers", 0, "log", "entry"), MISSING, HANDLER_0 + "'entry' is missing"),
    (("handlers", 0, "log", "entry"), None, HANDLER_0 + "log entry must be a base64 string"),
    (("handlers", 0, "log", "entry"), "e30", HANDLER_0 + "log entry is not base64"),
    (("handlers", 0, "log", "entry"), "e3 0=", HANDLER_0 + "log entry is not base64"),
    (("handlers", 0, "log", "entry"), "e31=", HANDLER_0 + "log entry is not in canonical base64"),
    (("handlers", 0, "log", "entry"), b64(b"[]"), HANDLER_0 + "log entry is not a canonical JSON"),
    (
        ("handlers", 0, "log", "entry"),
        b64(b"\xff"),
        HANDLER_0 + "log entry is not a canonical JSON",
    ),
    (("handlers", 0, "log", "opening"), MISSING, HANDLER_0 + "'opening' is missing"),
    (("handlers", 0, "log", "opening"), b64(bytes(31)), HANDLER_0 + "opening is 31 bytes, want 32"),
    (("handlers", 0, "log", "opening"), 0, HANDLER_0 + "opening must be a base64 string, not int"),
    (("handlers", 0, "log", "pending"), MISSING, HANDLER_0 + "'pending' is missing"),
    (("handlers", 0, "log", "pending"), 0, HANDLER_0 + "'pending' must be true or false, not int"),
    (("handlers", 0, "log", "pending"), None, HANDLER_0 + "'pending' must be true or false"),
    (("handlers", 0, "log", "inclusion_proof"), MISSING, HANDLER_0 + "'inclusion_proof' is"),
    (("handlers", 0, "log", "inclusion_proof"), "", HANDLER_0 + "'inclusion_proof' must be an"),
    (("handlers", 0, "log", "inclusion_proof", 0), None, HANDLER_0 + "inclusion proof hash 0 must"),
    (
        ("handlers", 0, "log", "inclusion_proof", 1),
        b64(bytes(31)),
        HANDLER_0 + "inclusion proof hash 1 is 31 bytes, want 32",
    ),
]


def put(answer: Any, path: tuple[Any, ...], value: object) -> Any:
    """Return ``answer`` with ``value`` at ``path`` (deleted when ``value`` is MISSING)."""
    if not path:
        return value
    parent = answer
    for step in path[:-1]:
        parent = parent[step]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return answer


def case_id(path: tuple[Any, ...], value: object) -> str:
    where = ".".join(map(str, path)) or "answer"
    if value is MISSING:
        return f"{where}=missing"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"{where}=huge int"
    return f"{where}={value!r:.20}"


@pytest.mark.parametrize(
    ("path", "value", "match"),
    MALFORMED,
    ids=[case_id(path, value) for path, value, _ in MALFORMED],
)
def test_a_malformed_answer_fails_and_is_named(
    answer: dict[str, Any], path: tuple[Any, ...], value: object, match: str
) -> None:
    rejected(put(answer, path, value), "^" + match)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters() | st.sampled_from("\ud800\udfff"), max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or element of ``value``."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        found.append((*prefix, key))
        if isinstance(child, (dict, list)):
            found.extend(paths(child, (*prefix, key)))
    return found


@functools.cache
def two_handlers() -> dict[str, Any]:
    return build(SEVERAL[:2])


@settings(database=None, deadline=None, max_examples=150)
@given(data=st.data())
def test_any_value_anywhere_verifies_or_fails_cleanly(data: st.DataObject) -> None:
    good = two_handlers()
    answer = copy.deepcopy(good)
    path = data.draw(st.sampled_from(paths(answer)))
    value = data.draw(st.just(MISSING) | JSON_VALUES)
    put(answer, path, value)
    try:
        verified = verify(answer)
    except LookupVerificationError:
        return
    # A server may leave handlers out (a hidden handler looks like none), but cannot add,
    # change or move one.
    expected = verify(good)
    assert (verified.number, verified.label) == (expected.number, expected.label)
    assert verified.checkpoint == expected.checkpoint
    assert set(verified.handlers) <= set(expected.handlers)
    assert verified.pending == ()


# --- Version-2 handler entries: label and commitment ---------------------------------------------


def test_an_answer_of_version_2_entries_verifies() -> None:
    answer = build(versions=(2,))
    for handler in answer["handlers"]:
        assert set(json.loads(unb64(handler["log"]["entry"]))) == {
            "v",
            "kind",
            "label",
            "commitment",
        }
    verified = verify(answer)
    assert [(h.provider, h.service) for h in verified.handlers] == [
        ("acme-chat", "messaging"),
        ("acme-chat", "voice"),
        ("other-co", "messaging"),
    ]


def test_an_answer_of_version_1_and_version_2_entries_verifies() -> None:
    answer = build(versions=(1, 2))
    versions = [json.loads(unb64(h["log"]["entry"]))["v"] for h in answer["handlers"]]
    assert sorted(versions) == [1, 1, 2]
    assert len(verify(answer).handlers) == 3


V2_COMMITMENT = r"handler 0 \((\w+) by ([\w-]+)\): commitment does not match its fields"


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        (lambda a: first(a).update(provider="mallory"), V2_COMMITMENT),
        (lambda a: first(a).update(service="voice"), V2_COMMITMENT),
        (lambda a: first(a).update(uri="sip:mallory@evil.example"), V2_COMMITMENT),
        (lambda a: first(a).update(certificate="f" * 32), V2_COMMITMENT),
        (change_commitment_digit, V2_COMMITMENT),
        (lambda a: change_entry(a, provider="acme-chat"), HANDLER_0 + "log entry has the keys"),
        (lambda a: change_entry(a, reason="removed"), HANDLER_0 + "log entry has the keys"),
        (
            lambda a: change_entry(a, label=label_of(OTHER_NUMBER)[0]),
            HANDLER_0 + "log entry's label is not the answer's label",
        ),
        (
            lambda a: change_entry(a, kind="certificate"),
            HANDLER_0 + "log entry is of kind \"certificate\", not 'handler'",
        ),
    ],
)
def test_a_version_2_answer_altered_fails(tamper: Callable[[Any], object], match: str) -> None:
    answer = build(versions=(2,))
    tamper(answer)
    rejected(answer, match)
