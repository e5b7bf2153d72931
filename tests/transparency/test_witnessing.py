"""The log and its witnesses: each checkpoint submitted to real witnesses (C2SP tlog-witness)
on loopback, their cosignatures verified and kept, and the newest checkpoint meeting the
policy's quorum served everywhere (notes, JSON, lookups, proofs, tiles)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from resolution.client.witness import Witness
from resolution.protocol.checkpoint import Checkpoint as TreeHead
from resolution.protocol.checkpoint import sign_checkpoint
from resolution.protocol.cosignature import generate_cosigner, open_cosigned_checkpoint
from resolution.protocol.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.policy import parse_policy
from resolution.protocol.witness import AddCheckpoint, format_add_checkpoint
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import handler_published, lookup
from tests.problems import assert_problem
from tests.subprocesses import child_env
from tests.transparency.logdata import append_entries, log_integrated
from tests.transparency.witnesses import LocalWitness, local_witness, witnesses_configure
from transparency import services
from transparency.keys import log_keys
from transparency.models import Checkpoint, Cosignature
from transparency.models import Witness as WitnessRow
from transparency.selectors import cache_clear, checkpoint_served
from transparency.services import witnesses_submit
from transparency.witnesses import WitnessConfigError, witnesses_parse, witnesses_validate

ROOT = Path(__file__).resolve().parents[2]
KEY_A = generate_cosigner("a.example.test").verifier.vkey
KEY_B = generate_cosigner("b.example.test").verifier.vkey


@pytest.fixture(autouse=True)
def submissions_joined() -> Iterator[None]:
    """Each submission thread a test kicked (no broker) has ended when the test ends: none goes
    on into the next test's database, or logs after its process closed its output."""
    yield
    deadline = time.monotonic() + 30
    while running := [t for t in threading.enumerate() if t.name == "witness-submit"]:
        for thread in running:  # a round may start the next thread before it ends
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert time.monotonic() < deadline, "a witness submission thread outlived its test"


@pytest.fixture
def deferred(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Appends only: the test integrates and submits when it chooses, as with a broker whose
    tasks nobody runs (the test settings run tasks eagerly: the kick is left out)."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(services, "witnesses_kick", lambda: None)


@pytest.fixture
def three(tmp_path: Path) -> Any:
    witnesses = [local_witness(tmp_path, f"w{n}").start() for n in (1, 2, 3)]
    yield witnesses
    for witness in witnesses:
        witness.stop()


def _log_verifier() -> Any:
    return parse_verifier_key(log_keys().note_verifier_key)


def _grow(count: int, start: int) -> Checkpoint:
    append_entries(count, start=start)
    checkpoint = log_integrated()
    assert checkpoint is not None
    return checkpoint


def _served_size() -> int | None:
    cache_clear()
    served = checkpoint_served()
    return served.size if served else None


# --- Submission and storage -------------------------------------------------------------------


@pytest.mark.django_db
def test_each_witness_cosigns_and_the_note_carries_the_verified_lines(
    settings, deferred, three, client
):
    witnesses_configure(settings, three)
    _grow(5, 0)
    assert witnesses_submit() == 3
    assert witnesses_submit() == 0  # nothing new: no request
    checkpoint = _grow(4, 5)
    assert witnesses_submit() == 3  # from 5, with the consistency proof to 9
    assert [w.holds() for w in three] == [9, 9, 9]
    assert Cosignature.objects.filter(size=9).count() == 3
    rows = WitnessRow.objects.order_by("pk")
    assert [(r.held_size, r.cosigned_size, r.error) for r in rows] == [(9, 9, "")] * 3

    note = client.get("/log/checkpoint").content
    policy = parse_policy(client.get("/log/witness-policy").content.decode())
    opened = open_cosigned_checkpoint(
        note, _log_verifier(), log_keys().signer.name, policy.witness_verifiers
    )
    assert opened.checkpoint.size == 9 and opened.checkpoint.root_hash == bytes(
        checkpoint.root_hash
    )
    assert policy.evaluate((c.name, c.key_id) for c in opened.cosignatures).satisfied
    body = client.get("/v1/log/checkpoint").json()
    assert body["note"] == note.decode() and body["size"] == 9
    assert [c["witness"] for c in body["cosignatures"]] == ["w1", "w2", "w3"]
    assert all(c["line"] in body["note"] for c in body["cosignatures"])


@pytest.mark.django_db
def test_a_409_is_answered_from_the_size_the_witness_holds(settings, deferred, three):
    witnesses_configure(settings, three[:1])
    _grow(6, 0)
    witnesses_submit()
    # The log lost track: it believes the witness holds 2 (a restored backup, a lost answer).
    WitnessRow.objects.update(held_size=2, cosigned_size=None)
    _grow(5, 6)
    assert witnesses_submit() == 1  # 409 "6", then from 6 with the proof 6 -> 11
    row = WitnessRow.objects.get()
    assert (row.held_size, row.cosigned_size, row.error) == (11, 11, "")
    assert three[0].holds() == 11


class ForgingWitness(Witness):
    """A witness whose cosignatures are altered: right key name and ID, wrong signature."""

    def add_checkpoint(self, body: bytes) -> str:
        line = super().add_checkpoint(body)
        prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
        altered = encoded[:20] + ("A" if encoded[20] != "A" else "B") + encoded[21:]
        return f"{prefix} {altered}\n"


@pytest.mark.django_db
def test_a_forged_cosignature_is_not_kept_and_is_recorded(settings, deferred, tmp_path, client):
    forger = local_witness(tmp_path, "forger", ForgingWitness).start()
    try:
        witnesses_configure(settings, [forger])
        _grow(3, 0)
        assert witnesses_submit() == 0
    finally:
        forger.stop()
    assert not Cosignature.objects.exists()
    row = WitnessRow.objects.get()
    assert "no cosignature kept" in row.error and row.failed_at is not None
    assert row.cosigned_size is None
    # The quorum (1 of 1) is not met: nothing is served, and the problem says why.
    assert_problem(client.get("/log/checkpoint"), 404, "log-empty")


# --- The quorum -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_newest_checkpoint_meeting_two_of_three_is_served_everywhere(
    settings, deferred, three, client, api_client, provider, tmp_path
):
    witnesses_configure(settings, three, "group g 2 w1 w2 w3\nquorum g")
    holder = certificate_issued(provider)
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    first = log_integrated()
    assert first is not None
    assert witnesses_submit() == 3
    small = first.size

    three[1].stop()
    three[2].stop()
    handler_published(provider, holder, service="messaging", uri="sip:alice@chat.example")
    append_entries(300, start=1000)  # fills a level-0 tile
    latest = log_integrated()
    assert latest is not None and latest.size > 256
    assert witnesses_submit() == 1  # w1 only: 1 of the 2 needed
    assert _served_size() == small
    errors = WitnessRow.objects.exclude(error="").values_list("error", flat=True)
    assert len(errors) == 2 and all(e.startswith("not reached") for e in errors)

    # Everything is served at the cosigned size; newer entries are pending.
    note = client.get("/log/checkpoint").content.decode()
    assert note.split("\n")[1] == str(small)
    assert client.get("/v1/log/checkpoint").json()["size"] == small
    answer = lookup(api_client)
    assert answer["checkpoint"].split("\n")[1] == str(small)
    by_service = {h["service"]: h["log"] for h in answer["handlers"]}
    assert by_service["messaging"]["pending"] and not by_service["voice"]["pending"]
    voice = by_service["voice"]
    root = bytes(Checkpoint.objects.get(size=small).root_hash)
    verify_inclusion(
        _leaf(voice["index"]),
        voice["index"],
        small,
        [_b64(h) for h in voice["inclusion_proof"]],
        root,
    )
    assert client.get("/v1/log/proofs/inclusion", {"index": 0}).json()["size"] == small
    assert_problem(client.get("/v1/log/proofs/inclusion", {"index": small + 1}), 400, "log-range")
    assert client.get("/v1/log/proofs/consistency", {"from": 1}).json()["to"] == small
    assert client.get("/log/tile/0/000").status_code == 404  # full only in the newer tree
    assert client.get(f"/log/tile/0/000.p/{small}").status_code == 200

    # w2 comes back (same key and state, another port): 2 of 3 cosign the latest.
    three[1].start()
    witnesses_configure(settings, three, "group g 2 w1 w2 w3\nquorum g")
    assert witnesses_submit() == 1
    assert _served_size() == latest.size
    assert client.get("/log/tile/0/000").status_code == 200
    proof = client.get("/v1/log/proofs/consistency", {"from": small}).json()
    assert proof["to"] == latest.size
    verify_consistency(
        small, latest.size, root, bytes(latest.root_hash), [_b64(h) for h in proof["proof"]]
    )
    assert lookup(api_client)["checkpoint"].split("\n")[1] == str(latest.size)
    assert NUMBER not in client.get("/log/witness-policy").content.decode()


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _leaf(index: int) -> bytes:
    from transparency.selectors import leaf_hash_at

    return leaf_hash_at(index=index)


@pytest.mark.django_db
def test_without_a_quorum_the_latest_is_served_with_what_was_gathered(
    settings, deferred, three, client
):
    witnesses_configure(settings, three, "quorum none")
    _grow(4, 0)
    three[0].stop()
    witnesses_submit()
    note = client.get("/log/checkpoint").content.decode()
    assert note.split("\n")[1] == "4"
    assert note.count("\u2014 ") == 3  # the log's signature and two cosignatures
    _grow(2, 4)  # not submitted: served at once, with the log's signature alone
    assert client.get("/log/checkpoint").content.decode().count("\u2014 ") == 1
    policy = client.get("/log/witness-policy").content.decode()
    assert policy.rstrip().endswith("quorum none")


@pytest.mark.django_db
def test_with_no_witness_the_policy_is_quorum_none_and_all_is_as_before(deferred, client):
    _grow(3, 0)
    assert witnesses_submit() == 0
    policy = client.get("/log/witness-policy")
    assert policy["Content-Type"].startswith("text/plain")
    parsed = parse_policy(policy.content.decode())
    assert parsed.quorum == "none" and not parsed.witnesses
    assert parsed.log_for(log_keys().signer.name) == _log_verifier()
    note = client.get("/log/checkpoint").content.decode()
    assert note == Checkpoint.objects.get(size=3).note


# --- Split view ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fork_signed_with_the_log_key_is_refused_by_witnesses_that_saw_the_log(
    settings, deferred, three
):
    witnesses_configure(settings, three)
    _grow(8, 0)
    witnesses_submit()
    signer = log_keys().signer
    fork_leaves = [bytes([n]) * 32 for n in range(12)]

    def fork_checkpoint(size: int) -> bytes:
        root = root_from_leaf_hashes(fork_leaves[:size])
        return sign_checkpoint(TreeHead(signer.name, size, root), signer)

    for witness in three:
        # From nothing: the witness holds 8, so 409 with its size.
        status, body = _post(witness, AddCheckpoint(0, (), fork_checkpoint(12)))
        assert (status, body) == (409, b"8\n")
        # From 8 with a proof that cannot join the honest tree of 8 to the fork's 12.
        proof = tuple(bytes(32) for _ in range(3))
        status, _ = _post(witness, AddCheckpoint(8, proof, fork_checkpoint(12)))
        assert status == 422
        # Another tree of the same size as the honest one.
        status, body = _post(witness, AddCheckpoint(8, (), fork_checkpoint(8)))
        assert (status, body) == (409, b"8\n")
        assert witness.holds() == 8

    # The same fork, signed and slipped into the log's own table, is refused to the log too.
    append_entries(4, start=8)
    Checkpoint.objects.create(
        size=12,
        root_hash=root_from_leaf_hashes(fork_leaves),
        note=fork_checkpoint(12).decode(),
        compact_range=root_from_leaf_hashes(fork_leaves[:8])
        + root_from_leaf_hashes(fork_leaves[8:]),
    )
    assert witnesses_submit() == 0
    errors = list(WitnessRow.objects.values_list("error", flat=True))
    assert all(e.startswith("HTTP 422") for e in errors), errors
    assert _served_size() == 8


def _post(witness: LocalWitness, request: AddCheckpoint) -> tuple[int, bytes]:
    import http.client

    assert witness.server is not None
    host, port = witness.server.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/add-checkpoint", body=format_add_checkpoint(request))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- Outages ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_witness_that_never_answers_slows_no_append(settings, tmp_path):
    """No broker: each commit integrates in this process and kicks a submission thread, which
    waits on a witness that accepts connections and never answers. Appends do not wait."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    host, port = silent.getsockname()
    try:
        witness = local_witness(tmp_path, "silent")
        witness.url = f"http://{host}:{port}"
        witnesses_configure(settings, [witness])
        settings.RS_WITNESS_TIMEOUT_SECONDS = 1.0
        started = time.monotonic()
        append_entries(20)
        assert time.monotonic() - started < 2.0
        assert Checkpoint.objects.order_by("-size").first().size == 20  # type: ignore[union-attr]
        assert _served_size() is None  # 1 of 1 needed, never given
        deadline = time.monotonic() + 10
        while not WitnessRow.objects.exclude(error="").exists():
            assert time.monotonic() < deadline, "the submission thread recorded no failure"
            time.sleep(0.1)
        assert "timeout" in WitnessRow.objects.get().error
    finally:
        silent.close()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_each_checkpoint_is_cosigned_in_the_background(settings, tmp_path):
    witness = local_witness(tmp_path, "w1").start()
    try:
        witnesses_configure(settings, [witness])
        append_entries(3)
        deadline = time.monotonic() + 10
        while _served_size() != 3:
            assert time.monotonic() < deadline, "not cosigned within 10 s"
            time.sleep(0.05)
    finally:
        witness.stop()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_submitters_ask_each_witness_once(settings, tmp_path, monkeypatch):
    """Four submitters at once (beat's run, kicks of several checkpoints): each witness is
    talked to by one of them, cosigns once, and its state is the one it holds."""
    monkeypatch.setattr(services, "witnesses_kick", lambda: None)
    witnesses = [local_witness(tmp_path, f"w{n}").start() for n in (1, 2, 3)]
    try:
        witnesses_configure(settings, witnesses)
        append_entries(5)
        log_integrated()
        results: list[int] = []

        def submit() -> None:
            try:
                results.append(witnesses_submit())
            finally:
                connection.close()

        threads = [threading.Thread(target=submit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(results) == 3 and len(results) == 4
        assert Cosignature.objects.filter(size=5).count() == 3
        rows = WitnessRow.objects.values_list("held_size", "cosigned_size", "error")
        assert sorted(rows) == [(5, 5, "")] * 3
        assert [w.holds() for w in witnesses] == [5, 5, 5]
    finally:
        for witness in witnesses:
            witness.stop()
        connection.close()


# --- Configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("witnesses", "policy", "message"),
    [
        ("w1 not-a-key http://127.0.0.1:1", "", "RS_WITNESSES item 1: not a witness verifier"),
        (f"{KEY_A}", "", "want '[NAME] VKEY URL'"),
        (f"a {KEY_A} ftp://w.example", "", "is not an http(s) URL"),
        (f"a {KEY_A} https://user@w.example", "", "is not an http(s) URL"),
        (f"a {KEY_A} https://w.example", "witness b x", "only 'group' and 'quorum'"),
        (f"a {KEY_A} https://w.example", "quorum b", "quorum 'b' is not defined"),
        (f"a {KEY_A} https://w.example", "group g 2 a; quorum g", "needs 2 of 1"),
        ("", "quorum a", "quorum 'a' is not defined"),
        (f"a {KEY_A} https://w.example\nb {KEY_A} https://x.example", "", "also a's"),
    ],
    ids=[
        "bad key",
        "no url",
        "ftp",
        "userinfo",
        "witness line in policy",
        "unknown quorum",
        "threshold too high",
        "quorum without witnesses",
        "same key twice",
    ],
)
def test_bad_configuration_is_refused_with_its_reason(witnesses, policy, message):
    with pytest.raises(WitnessConfigError, match=re.escape(message)):
        witnesses_parse(witnesses, policy)


def test_defaults_a_majority_of_the_witnesses_or_quorum_none():
    keys = [KEY_A, KEY_B]
    config = witnesses_parse(
        f"{keys[0]} https://a.example/w/; named {keys[1]} http://10.0.0.2:7380", ""
    )
    assert [w.name for w in config.witnesses] == ["a.example.test", "named"]
    assert config.witnesses[0].add_checkpoint_url == "https://a.example/w/add-checkpoint"
    assert config.policy.quorum == "majority"
    assert config.policy.groups["majority"].threshold == 2
    assert config.quorum_required
    assert not witnesses_parse("", "").quorum_required


@pytest.mark.process
def test_a_process_with_a_bad_witness_setting_does_not_start(settings):
    settings.RS_WITNESSES = "w1 not-a-key https://w.example"
    with pytest.raises(ImproperlyConfigured, match="RS_WITNESSES item 1"):
        witnesses_validate()
    env = child_env() | {"RS_WITNESSES": "w1 not-a-key https://w.example"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "RS_WITNESSES item 1: not a witness verifier key" in done.stderr


# --- The operator's dashboard ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_shows_each_witness_lag_and_the_quorum_alarm(
    settings, deferred, three, admin_client
):
    witnesses_configure(settings, three, "group g 2 w1 w2 w3\nquorum g")
    _grow(4, 0)
    witnesses_submit()
    three[1].stop()
    three[2].stop()
    _grow(3, 4)
    witnesses_submit()
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "<h3>Witnesses</h3>" in page
    row = r'w2 <small>http://127\.0\.0\.1:\d+</small></td>\s*<td class="num">4</td>\s*'
    assert re.search(row + r'<td class="num">3</td>', page)  # cosigned 4, 3 entries behind
    assert "not reached: connect" in page
    assert "waited" not in page  # the newest checkpoint has not waited 10 s yet
    # Eleven seconds after the checkpoint that waits was signed, the quorum's lag is an alarm.
    waiting = Checkpoint.objects.get(size=7).created_at
    with time_machine.travel(waiting + timedelta(seconds=11)):
        page = admin_client.get("/admin/dashboard/").content.decode()
    assert re.search(r"waited 1\d\.\d s for the\s+witnesses' quorum \(g\)", page)
    assert re.search(r"the log serves size\s+4 while it has signed 7", page)
