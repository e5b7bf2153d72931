"""Tests for resolution.protocol.policy: the Sigsum/torchwood witness policy format and quorum
evaluation, and for the add-checkpoint wire format of resolution.protocol.witness."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
from resolution.protocol.cosignature import CosignatureSigner, generate_cosigner
from resolution.protocol.note import generate_signer, verifier_key
from resolution.protocol.policy import PolicyError, format_policy, parse_policy
from resolution.protocol.witness import (
    AddCheckpoint,
    WitnessFormatError,
    format_add_checkpoint,
    format_tree_size,
    parse_add_checkpoint,
    parse_cosignature_lines,
    parse_tree_size,
)

LOG = generate_signer("example.com/log")
LOG_VKEY = verifier_key(LOG.name, LOG.public_key)
W = {name: CosignatureSigner(f"{name.lower()}.example", bytes([i]) * 32) for i, name in
     enumerate(("X1", "X2", "X3", "Y1", "Y2", "Y3"), 1)}  # fmt: skip

# sigsum-go doc/policy.md, the example with two levels of groups, with real keys.
SIGSUM_EXAMPLE = f"""
log {LOG_VKEY} https://log.example
witness X1 {W["X1"].verifier.vkey}
witness X2 {W["X2"].verifier.vkey}
witness X3 {W["X3"].verifier.vkey}
group X-witnesses 2 X1 X2 X3

witness Y1 {W["Y1"].verifier.vkey}   # a comment
witness Y2 {W["Y2"].verifier.vkey} https://y2.example/witness
witness Y3 {W["Y3"].verifier.vkey}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def ids(*names: str) -> list[tuple[str, bytes]]:
    return [(W[n].verifier.name, W[n].verifier.key_id) for n in names]


def test_sigsum_example_parses() -> None:
    policy = parse_policy(SIGSUM_EXAMPLE)
    assert policy.quorum == "X-and-Y"
    assert policy.logs[0].url == "https://log.example"
    assert policy.log_for("example.com/log") == LOG.verifier
    assert policy.log_for("other") is None
    assert policy.witnesses["Y2"].url == "https://y2.example/witness"
    assert policy.groups["Y-witnesses"].threshold == 1
    assert policy.groups["X-and-Y"].threshold == 2
    assert len(policy.witness_verifiers) == 6
    assert parse_policy(format_policy(policy)) == policy


@pytest.mark.parametrize(
    ("cosigners", "satisfied"),
    [
        (("X1", "X2", "Y3"), True),
        (("X1", "X2", "X3", "Y1", "Y2", "Y3"), True),
        (("X1", "Y1", "Y2", "Y3"), False),
        (("X1", "X2", "X3"), False),
        ((), False),
    ],
)
def test_sigsum_example_quorum(cosigners: tuple[str, ...], satisfied: bool) -> None:
    quorum = parse_policy(SIGSUM_EXAMPLE).evaluate(ids(*cosigners))
    assert quorum.satisfied is satisfied
    assert quorum.cosigned == tuple(sorted(cosigners))
    if satisfied:
        assert quorum.missing == ()
    else:
        assert set(quorum.missing) == set(W) - set(cosigners)
        assert quorum.shortfalls


def test_shortfall_names_the_groups() -> None:
    quorum = parse_policy(SIGSUM_EXAMPLE).evaluate(ids("X1", "Y1"))
    assert str(quorum) == (
        "quorum not met: group X-and-Y needs 2 of 2, has 1; group X-witnesses needs 2 of 3, has 1"
    )


def test_unknown_or_mismatched_cosigners_do_not_count() -> None:
    policy = parse_policy(SIGSUM_EXAMPLE)
    stranger = generate_cosigner("x1.example")  # X1's name, another key
    assert not policy.evaluate([(stranger.verifier.name, stranger.verifier.key_id)]).cosigned


def test_single_witness_and_none_quorums() -> None:
    single = parse_policy(f"witness A {W['X1'].verifier.vkey}\nquorum A\n")
    assert single.evaluate(ids("X1")).satisfied
    missing = single.evaluate([])
    assert not missing.satisfied and missing.missing == ("A",)
    assert str(missing) == "quorum not met: witness A has not cosigned"
    assert parse_policy(f"log {LOG_VKEY}\nquorum none\n").evaluate([]).satisfied


def test_policy_of_any_size_matches_a_brute_force_count() -> None:
    text = "".join(f"witness {n} {W[n].verifier.vkey}\n" for n in W) + "group G 4 " + " ".join(W)
    policy = parse_policy(text + "\nquorum G\n")
    for count in range(len(W) + 1):
        for chosen in itertools.combinations(W, count):
            assert policy.evaluate(ids(*chosen)).satisfied is (count >= 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no quorum"),
        ("quorum none\nquorum none\n", "second quorum"),
        ("quorum A\n", "not defined above"),
        ("witness A {x1}\nquorum A extra\n", "want 'quorum"),
        ("frobnicate x\nquorum none\n", "unknown keyword"),
        ("witness A\nquorum none\n", "want 'witness"),
        ("witness A {x1}\nwitness A {x2}\nquorum A\n", "already defined"),
        ("witness none {x1}\nquorum none\n", "already defined"),
        ("witness A {x1}\nwitness B {x1}\nquorum A\n", "also A's"),
        ("witness A {log}\nquorum A\n", "witness key"),
        ("log {x1}\nquorum none\n", "log key"),
        ("witness A {x1}\ngroup G 2 A\nquorum G\n", "needs 2 of 1"),
        ("witness A {x1}\ngroup G 0 A\nquorum G\n", "threshold"),
        ("witness A {x1}\ngroup G -1 A\nquorum G\n", "threshold"),
        ("witness A {x1}\ngroup G any A A\nquorum G\n", "twice"),
        ("group G any A\nwitness A {x1}\nquorum G\n", "not defined above"),
        ("witness A {x1}\ngroup G any\nquorum G\n", "want 'group"),
        ("log {log}\nlog {log}\nquorum none\n", "twice"),
    ],
)
def test_malformed_policies(text: str, message: str) -> None:
    filled = text.format(x1=W["X1"].verifier.vkey, x2=W["X2"].verifier.vkey, log=LOG_VKEY)
    with pytest.raises(PolicyError, match=message):
        parse_policy(filled)


# tlog-witness: the example request body.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+"
    "49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()
# tlog-witness: the example response body.
SPEC_RESPONSE = (
    "\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTS"
    "vVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
    "\u2014 witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt6"
    "4vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
    "\u2014 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrK"
    "bYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
).encode()


def test_spec_request_round_trips() -> None:
    request = parse_add_checkpoint(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.checkpoint.startswith(b"example.com/behind-the-sofa\n")
    assert format_add_checkpoint(request) == SPEC_REQUEST


def test_spec_response_lines() -> None:
    lines = parse_cosignature_lines(SPEC_RESPONSE)
    assert len(lines) == 3 and all(line.startswith("\u2014 witness.example/w") for line in lines)
    assert "".join(lines).encode() == SPEC_RESPONSE


def test_tree_size_answer() -> None:
    assert format_tree_size(20852014) == b"20852014\n"
    assert parse_tree_size(b"20852014\n") == 20852014
    for bad in (b"20852014", b"012\n", b"-1\n", b"x\n", b"\xff\n", b"9223372036854775808\n"):
        with pytest.raises(WitnessFormatError):
            parse_tree_size(bad)


NOTE = sign_checkpoint(Checkpoint("example.com/log", 2, bytes(32)), LOG)
HASH = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "body",
    [
        b"old 1\n" + NOTE,  # no blank line
        b"new 1\n\n" + NOTE,
        b"old 01\n\n" + NOTE,
        b"old -1\n\n" + NOTE,
        b"old 1 \n\n" + NOTE,
        b"old 9223372036854775808\n\n" + NOTE,
        f"old 0\n{HASH}\n\n".encode() + NOTE,  # proof from the empty tree
        b"old 1\nnot base64!\n\n" + NOTE,
        b"old 1\nAAAA\n\n" + NOTE,  # not 32 bytes
        f"old 1\n{HASH}\n".encode() * 1 + f"{HASH}\n".encode() * 63 + b"\n" + NOTE,  # 64 lines
        b"old 1\n\nnot a note\n",
        b"old 1\n\xff\n\n" + NOTE,
        b"old 1\n\n" + b"x" * 70000,
    ],
)
def test_malformed_requests(body: bytes) -> None:
    with pytest.raises(WitnessFormatError):
        parse_add_checkpoint(body)


@pytest.mark.parametrize("body", [b"", b"no dash\n", "\u2014 w AAAAAAAA".encode(), b"\xff"])
def test_malformed_responses(body: bytes) -> None:
    with pytest.raises(WitnessFormatError):
        parse_cosignature_lines(body)


@given(
    old=st.integers(min_value=1, max_value=(1 << 63) - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=63),
)
def test_property_request_round_trip(old: int, proof: list[bytes]) -> None:
    request = AddCheckpoint(old, tuple(proof), NOTE)
    assert parse_add_checkpoint(format_add_checkpoint(request)) == request
