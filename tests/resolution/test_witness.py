"""Tests for resolution.client.witness: the add-checkpoint checks in the order and with the
statuses of c2sp.org/tlog-witness, the durable state, the HTTP server, and ``rs witness``."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolution.cli.main import main
from resolution.client.witness import (
    InconsistentCheckpointError,
    MalformedRequestError,
    SizeConflictError,
    TreeHead,
    UnknownLogError,
    UntrustedSignatureError,
    Witness,
    WitnessServer,
    WitnessState,
    WitnessStateError,
    keygen,
    load_signer,
    parse_listen,
    witness_server,
)
from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
from resolution.protocol.cosignature import (
    CosignatureSigner,
    add_cosignatures,
    open_cosigned_checkpoint,
    parse_cosigner_key,
)
from resolution.protocol.merkle import EMPTY_ROOT
from resolution.protocol.note import Signer, generate_signer, verifier_key
from resolution.protocol.witness import AddCheckpoint, format_add_checkpoint
from tests.resolution.witnesslog import ToyLog, post

ORIGIN = "log.example.test/resolution"
LOG_KEY = Signer(ORIGIN, bytes(range(32)))
WITNESS_KEY = CosignatureSigner("witness.example.test/w1", bytes(range(1, 33)))


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(WITNESS_KEY, [LOG_KEY.verifier], WitnessState(tmp_path / "state.json"))


def cosigned(witness: Witness, log: ToyLog, old: int, size: int | None = None) -> int:
    """Submit, check the cosignature against the checkpoint, return its timestamp."""
    line = witness.add_checkpoint(log.request(old, size))
    note = add_cosignatures(log.checkpoint(size), [line])
    opened = open_cosigned_checkpoint(note, LOG_KEY.verifier, ORIGIN, [WITNESS_KEY.verifier])
    assert len(opened.cosignatures) == 1
    return opened.cosignatures[0].timestamp


def test_cosigns_a_growing_log(witness: Witness, tmp_path: Path) -> None:
    log = ToyLog(LOG_KEY, 1)
    cosigned(witness, log, 0)
    for size in (2, 3, 8, 9, 100, 257):
        log.grow(size)
        cosigned(witness, log, witness.state.read()[ORIGIN].size)
    assert witness.state.read() == {ORIGIN: TreeHead(257, log.root(257))}
    # The same checkpoint again is cosigned again (a fresh timestamp), nothing is written.
    before = (tmp_path / "state.json").stat().st_mtime_ns
    cosigned(witness, log, 257)
    assert (tmp_path / "state.json").stat().st_mtime_ns == before


def test_first_checkpoint_needs_old_zero(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 10)
    with pytest.raises(SizeConflictError) as conflict:
        witness.add_checkpoint(log.request(5))
    assert conflict.value.size == 0
    cosigned(witness, log, 0)


def test_old_size_must_be_the_one_held(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 10)
    cosigned(witness, log, 0)
    log.grow(20)
    for old in (0, 5, 11):
        with pytest.raises(SizeConflictError) as conflict:
            witness.add_checkpoint(log.request(old))
        assert conflict.value.size == 10


def test_smaller_checkpoint_is_refused(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 10)
    cosigned(witness, log, 0)
    # old (10) larger than the checkpoint (5): 400; any other old: 409.
    body = format_add_checkpoint(AddCheckpoint(10, (), log.checkpoint(5)))
    with pytest.raises(MalformedRequestError, match="larger"):
        witness.add_checkpoint(body)
    with pytest.raises(SizeConflictError):
        witness.add_checkpoint(log.request(4, 5))
    assert witness.state.read()[ORIGIN].size == 10


def test_split_view_is_refused(witness: Witness) -> None:
    honest = ToyLog(LOG_KEY, 10)
    cosigned(witness, honest, 0)
    fork = honest.fork(7, 12)
    # The fork's own proof from 10 does not lead from the honest root: 422.
    with pytest.raises(InconsistentCheckpointError):
        witness.add_checkpoint(fork.request(10))
    # The same size with another root: 409 with the size held.
    same_size = honest.fork(7, 10)
    with pytest.raises(SizeConflictError) as conflict:
        witness.add_checkpoint(same_size.request(10))
    assert conflict.value.size == 10
    # The honest log still grows.
    honest.grow(12)
    cosigned(witness, honest, 10)
    assert witness.state.read()[ORIGIN] == TreeHead(12, honest.root(12))


def test_proof_must_be_right_and_exact(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 5)
    cosigned(witness, log, 0)
    log.grow(13)
    proof = log.proof(5)
    for bad in (proof[:-1], (*proof, proof[0]), (bytes(32), *proof[1:])):
        with pytest.raises(InconsistentCheckpointError):
            witness.add_checkpoint(format_add_checkpoint(AddCheckpoint(5, bad, log.checkpoint())))
    # Equal sizes take no proof.
    with pytest.raises(InconsistentCheckpointError):
        body = format_add_checkpoint(AddCheckpoint(5, proof[:1], log.checkpoint(5)))
        witness.add_checkpoint(body)


def test_unknown_origin_and_untrusted_keys(witness: Witness) -> None:
    other = ToyLog(generate_signer("other.example/log"), 3)
    with pytest.raises(UnknownLogError):
        witness.add_checkpoint(other.request(0))
    impostor = ToyLog(generate_signer(ORIGIN), 3)  # the right origin, another key
    with pytest.raises(UntrustedSignatureError):
        witness.add_checkpoint(impostor.request(0))
    # A bad signature by the trusted key.
    tampered = ToyLog(LOG_KEY, 3).request(0).replace(b"\n3\n", b"\n4\n")
    with pytest.raises(UntrustedSignatureError):
        witness.add_checkpoint(tampered)
    assert witness.state.read() == {}


def test_signatures_of_unknown_keys_are_ignored(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 3)
    stranger = generate_signer("stranger.example")
    cp = Checkpoint(ORIGIN, 3, log.root(3))
    body = format_add_checkpoint(AddCheckpoint(0, (), sign_checkpoint(cp, LOG_KEY, stranger)))
    assert witness.add_checkpoint(body).startswith("\u2014 witness.example.test/w1 ")


def test_malformed_requests(witness: Witness) -> None:
    log = ToyLog(LOG_KEY, 3)
    for body in (b"", b"old 0\n", b"old 0\n\nnot a note", log.request(0).replace(b"old", b"new")):
        with pytest.raises(MalformedRequestError):
            witness.add_checkpoint(body)
    signed_text = sign_checkpoint(Checkpoint(ORIGIN, 3, log.root(3)), LOG_KEY)
    not_a_checkpoint = signed_text.replace(b"\n3\n", b"\n03\n")
    with pytest.raises(UntrustedSignatureError):  # the signature no longer matches
        witness.add_checkpoint(format_add_checkpoint(AddCheckpoint(0, (), not_a_checkpoint)))


def test_empty_tree(witness: Witness) -> None:
    empty = format_add_checkpoint(
        AddCheckpoint(0, (), sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), LOG_KEY))
    )
    witness.add_checkpoint(empty)
    bogus = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG_KEY)
    with pytest.raises(SizeConflictError):
        witness.add_checkpoint(format_add_checkpoint(AddCheckpoint(0, (), bogus)))
    cosigned(witness, ToyLog(LOG_KEY, 4), 0)


def test_empty_tree_with_another_root_is_refused_first(tmp_path: Path) -> None:
    fresh = Witness(WITNESS_KEY, [LOG_KEY.verifier], WitnessState(tmp_path / "s.json"))
    bogus = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG_KEY)
    with pytest.raises(InconsistentCheckpointError):
        fresh.add_checkpoint(format_add_checkpoint(AddCheckpoint(0, (), bogus)))


def test_several_keys_for_one_log(tmp_path: Path) -> None:
    new_key = generate_signer(ORIGIN)
    witness = Witness(
        WITNESS_KEY, [LOG_KEY.verifier, new_key.verifier], WitnessState(tmp_path / "s.json")
    )
    cosigned(witness, ToyLog(LOG_KEY, 3), 0)
    witness.add_checkpoint(ToyLog(new_key, 5).request(3))


def test_state_survives_a_restart_and_is_shared(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = Witness(WITNESS_KEY, [LOG_KEY.verifier], WitnessState(path))
    log = ToyLog(LOG_KEY, 6)
    cosigned(first, log, 0)
    # Another witness process over the same file sees what the first wrote.
    second = Witness(WITNESS_KEY, [LOG_KEY.verifier], WitnessState(path))
    with pytest.raises(SizeConflictError) as conflict:
        second.add_checkpoint(log.request(0))
    assert conflict.value.size == 6
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["logs"][ORIGIN]["size"] == 6


@pytest.mark.parametrize(
    "content", [b"{", b"[]", b'{"version": 2, "logs": {}}', b'{"version": 1, "logs": {"o": 1}}']
)
def test_damaged_state_is_never_started_afresh(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(WitnessStateError):
        WitnessState(path)


def test_concurrent_requests_never_roll_back(witness: Witness) -> None:
    """The spec's race: requests for N and N+K both checked against the same old size must not
    both be cosigned, or the state would roll back K leaves."""
    log = ToyLog(LOG_KEY, 4)
    cosigned(witness, log, 0)
    log.grow(64)
    bodies = [log.request(4, size) for size in range(5, 65)]
    results: list[int] = []

    def submit(body: bytes) -> None:
        try:
            witness.add_checkpoint(body)
            results.append(1)
        except SizeConflictError:
            results.append(0)

    threads = [threading.Thread(target=submit, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1  # all came from 4: exactly one may win
    assert witness.state.read()[ORIGIN].size > 4


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WitnessServer]:
    srv = witness_server(WITNESS_KEY, [LOG_KEY.verifier], tmp_path / "s.json", ("127.0.0.1", 0))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_http_statuses(server: WitnessServer) -> None:
    address = server.address
    log = ToyLog(LOG_KEY, 5)
    status, kind, body = post(address, log.request(0))
    assert status == 200 and kind.startswith("text/plain")
    assert body.decode().startswith("\u2014 witness.example.test/w1 ")
    status, kind, body = post(address, log.request(3))
    assert (status, kind, body) == (409, "text/x.tlog.size", b"5\n")
    assert post(address, log.fork(2, 9).request(5))[0] == 422
    assert post(address, ToyLog(generate_signer("x.example"), 1).request(0))[0] == 404
    assert post(address, ToyLog(generate_signer(ORIGIN), 1).request(0))[0] == 403
    assert post(address, b"old 0\n")[0] == 400


def test_http_limits(server: WitnessServer) -> None:
    import http.client

    connection = http.client.HTTPConnection(*server.address, timeout=5)
    connection.request("POST", "/add-checkpoint", b"x" * 70_000)
    assert connection.getresponse().status == 413
    connection.close()
    connection = http.client.HTTPConnection(*server.address, timeout=5)
    connection.request("POST", "/other", b"")
    assert connection.getresponse().status == 404
    connection.close()
    connection = http.client.HTTPConnection(*server.address, timeout=5)
    connection.putrequest("POST", "/add-checkpoint")
    connection.endheaders()
    assert connection.getresponse().status == 411
    connection.close()


def test_keep_alive(server: WitnessServer) -> None:
    import http.client

    log = ToyLog(LOG_KEY, 2)
    connection = http.client.HTTPConnection(*server.address, timeout=5)
    for old, size in ((0, 1), (1, 2), (2, 2)):
        connection.request("POST", "/add-checkpoint", log.request(old, size))
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(":0") == ("", 0)
    assert parse_listen("[::1]:9") == ("::1", 9)
    for bad in ("8080", "host:", "host:99999", "host:x"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)


def test_keygen_writes_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    signer = keygen("witness.example.test/w9", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(path) == signer
    with pytest.raises(FileExistsError):
        keygen("witness.example.test/w9", path)
    assert load_signer(path) == signer


def test_rs_witness_keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.key"
    old_umask = os.umask(0)
    try:
        assert main(["witness", "keygen", "--name", "w.example", "--key", str(path)]) == 0
    finally:
        os.umask(old_umask)
    vkey = capsys.readouterr().out.strip()
    assert parse_cosigner_key(vkey) == load_signer(path).verifier
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["witness", "keygen", "--name", "w.example", "--key", str(path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert parse_cosigner_key(vkey) == load_signer(path).verifier


def test_rs_witness_serve_refuses_bad_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "w.key"
    keygen("w.example", key)
    state = tmp_path / "state.json"
    state.write_text("{")
    vkey = verifier_key(LOG_KEY.name, LOG_KEY.public_key)
    args = ["witness", "serve", "--listen", "127.0.0.1:0", "--state", str(state), "--log", vkey]
    assert main([*args, "--key", str(key)]) == 2
    assert "damaged" in capsys.readouterr().err
    assert main([*args, "--key", str(tmp_path / "absent")]) == 2
    assert "cannot read the witness key" in capsys.readouterr().err
