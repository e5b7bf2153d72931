"""``rs lookup`` and ``rs monitor`` hold the log to a witness policy and pin its tree, against
the real service (pytest-django's live server), driven in-process as test_cli_commands does.

The service in these tests has no witnesses: its checkpoints carry the log's signature only.
A policy asking for cosignatures is given with ``--witness-policy``, or pinned as if the
service had served it before; a fork of the log is signed with the log's own key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from resolution.client import Client
from resolution.client.store import server_id
from resolution.protocol.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from resolution.protocol.cosignature import generate_cosigner
from resolution.protocol.note import parse_verifier_key
from tests.ca.flow import NUMBER
from tests.resolution.test_cli_commands import Rs, register

pytestmark = pytest.mark.django_db(transaction=True)

WITNESSES = {name: generate_cosigner(f"{name}.witness.example") for name in ("a", "b", "c")}


@pytest.fixture
def holder(capsys, monkeypatch, live_server, issued_key, tmp_path) -> Rs:
    return Rs(capsys, monkeypatch, str(live_server.url), issued_key.secret, tmp_path / "holder")


def pinned_file(rs: Rs, folder: str) -> Path:
    return rs.folder / folder / quote(server_id(rs.url), safe="")


def two_of_three(rs: Rs) -> str:
    """A 2-of-3 policy for the service's log, with witnesses that never cosigned it."""
    log_key = (rs.folder / "known_logs").read_text().split()[1]
    lines = [f"log {log_key}"]
    lines += [f"witness {name} {w.verifier.vkey}" for name, w in WITNESSES.items()]
    return "\n".join([*lines, "group two-of-three 2 a b c", "quorum two-of-three"]) + "\n"


def log_signer() -> Any:
    from transparency.keys import log_keys

    return log_keys().signer


def test_an_unwitnessed_log_is_said_to_be_and_a_missed_quorum_is_refused(
    holder, sms_outbox, tmp_path
):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    plain = holder("lookup", NUMBER)
    assert plain.code == 0, plain.err
    assert "(unwitnessed: no witness quorum is required)" in plain.out
    as_json = json.loads(holder("lookup", NUMBER, "--json").out)
    assert as_json["checkpoint"]["witnessed"] is False
    assert as_json["checkpoint"]["quorum"] == "none"
    # The service had no witnesses on first use: that is what is pinned.
    assert pinned_file(holder, "witness_policies").read_text().endswith("quorum none\n")

    policy = tmp_path / "policy.txt"
    policy.write_text(two_of_three(holder))
    refused = holder("lookup", NUMBER, "--witness-policy", str(policy))
    assert refused.code == 6, refused.out + refused.err
    assert "misses its witness quorum 'two-of-three'" in refused.err
    assert "no valid cosignature from a, b, c" in refused.err
    assert "sip:alice" not in refused.out
    in_json = holder("lookup", NUMBER, "--witness-policy", str(policy), "--json")
    assert in_json.code == 6 and json.loads(in_json.out)["verified"] is False
    # The same from the environment; the monitor refuses the checkpoint too.
    holder.monkeypatch.setenv("RS_WITNESS_POLICY", str(policy))
    monitored = holder("monitor", NUMBER)
    assert monitored.code == 6, monitored.out + monitored.err
    assert "no valid cosignature from a, b, c" in monitored.err
    holder.monkeypatch.delenv("RS_WITNESS_POLICY")
    # A policy given for a run is not pinned.
    assert pinned_file(holder, "witness_policies").read_text().endswith("quorum none\n")

    policy.write_text("quorum two\n")
    unreadable = holder("lookup", NUMBER, "--witness-policy", str(policy))
    assert unreadable.code == 2 and "is not a witness policy" in unreadable.err


def test_a_service_that_stops_serving_its_pinned_policy_is_refused(holder, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    assert holder("lookup", NUMBER).code == 0
    # As if the service had served a 2-of-3 policy on first use, and now serves none: an
    # attacker dropping the witnesses that would expose a fork.
    pinned = pinned_file(holder, "witness_policies")
    pinned.write_text(two_of_three(holder))
    for command in (("lookup", NUMBER), ("monitor", NUMBER)):
        refused = holder(*command)
        assert refused.code == 1, refused.out + refused.err
        assert "THE WITNESS POLICY OF" in refused.err and "HAS CHANGED" in refused.err
        assert f"delete {pinned} to pin it" in refused.err
        assert "sip:alice" not in refused.out
    # Re-pinned by hand, as the message says.
    pinned.unlink()
    assert holder("lookup", NUMBER).code == 0
    assert pinned.read_text().endswith("quorum none\n")


def test_monitor_pins_the_tree_and_refuses_a_split_view(holder, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    first = holder("monitor", NUMBER, "--json")
    assert first.code == 0, first.err
    # The tree registering pinned: the certificate's entry alone.
    assert json.loads(first.out)["consistent_with"] == 1
    kept = pinned_file(holder, "trees")
    verifier = parse_verifier_key((holder.folder / "known_logs").read_text().split()[1])
    size = open_checkpoint(kept.read_bytes(), verifier, verifier.name).size
    assert size == json.loads(first.out)["size"]

    # The log grows: the new tree is proven to extend the one kept, which moves.
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    grown = holder("monitor", NUMBER)
    assert grown.code == 0, grown.err
    assert f"the log's tree extends the one of size {size} seen before" in grown.out
    assert "checkpoint unwitnessed" in grown.out
    honest = kept.read_bytes()
    grown_size = open_checkpoint(honest, verifier, verifier.name).size
    assert grown_size > size

    # Forks signed with the log's own key, as if shown to this holder before.
    signer = log_signer()
    forks = {
        "another root for the same size": Checkpoint(signer.name, grown_size, os.urandom(32)),
        "a larger tree than the log now shows": Checkpoint(
            signer.name, grown_size + 5, os.urandom(32)
        ),
        "a smaller tree the log's does not extend": Checkpoint(signer.name, size, os.urandom(32)),
    }
    messages = {
        "another root for the same size": f"signed two roots for its tree of {grown_size}",
        "a larger tree than the log now shows": "smaller than the",
        "a smaller tree the log's does not extend": f"does not extend the one of {size} entries",
    }
    for what, fork in forks.items():
        note = sign_checkpoint(fork, signer)
        kept.write_bytes(note)
        split = holder("monitor", NUMBER)
        assert split.code == 7, (what, split.out + split.err)
        assert "rs monitor: SPLIT VIEW: the log testserver/log" in split.err, what
        assert messages[what] in split.err, what
        evidence = kept.with_name(kept.name + ".split-view")
        assert f"kept in {evidence}" in split.err
        assert note in evidence.read_bytes()
        assert kept.read_bytes() == note  # the pin stays where it was
    kept.write_bytes(honest)
    assert holder("monitor", NUMBER).code == 0


def test_register_and_lookup_pin_the_tree_and_refuse_a_split_view(holder, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    # Registering pinned the tree that includes the certificate's entry.
    kept = pinned_file(holder, "trees")
    verifier = parse_verifier_key((holder.folder / "known_logs").read_text().split()[1])
    registered = open_checkpoint(kept.read_bytes(), verifier, verifier.name)
    assert registered.size >= 1

    # A lookup in a larger tree moves the pin, proven to extend it.
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    assert holder("lookup", NUMBER).code == 0
    honest = kept.read_bytes()
    assert open_checkpoint(honest, verifier, verifier.name).size > registered.size

    # Shown a fork before (signed with the log's own key): the lookup is refused, the two
    # checkpoints kept as the evidence.
    signer = log_signer()
    fork = sign_checkpoint(Checkpoint(signer.name, registered.size, os.urandom(32)), signer)
    kept.write_bytes(fork)
    split = holder("lookup", NUMBER)
    assert split.code == 7, split.out + split.err
    assert "rs lookup: SPLIT VIEW: the log testserver/log" in split.err
    assert "sip:alice" not in split.out
    assert fork in kept.with_name(kept.name + ".split-view").read_bytes()
    kept.write_bytes(honest)
    assert holder("lookup", NUMBER).code == 0


def test_witnesses_added_to_a_service_that_had_none_are_pinned_and_enforced(
    holder, sms_outbox, monkeypatch
):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    assert holder("lookup", NUMBER).code == 0  # "quorum none" pinned
    # The operator configures witnesses: the service now serves a 2-of-3 policy (its
    # checkpoints here are still the log's alone, so they miss it).
    served = two_of_three(holder)
    monkeypatch.setattr(Client, "log_witness_policy", lambda self: served)
    upgraded = holder("lookup", NUMBER)
    assert "pinned the witness policy of" in upgraded.err
    assert "quorum two-of-three (witnesses: a a.witness.example+" in upgraded.err
    assert pinned_file(holder, "witness_policies").read_text() == served
    assert upgraded.code == 6 and "no valid cosignature from a, b, c" in upgraded.err
    # From then on, dropping them again is a change, refused.
    monkeypatch.setattr(Client, "log_witness_policy", lambda self: None)
    assert holder("lookup", NUMBER).code == 1
