"""The real ``rs witness serve`` as a process on loopback: a log drives it over HTTP, a fork
signed with the log's own key is refused, and ``kill -9`` in the middle of requests never makes
it cosign two inconsistent trees for one origin.

The crash loop runs ``RS_WITNESS_CRASH_ITERATIONS`` rounds (default 12, a few seconds); .ci/run
runs it with 100 (about 30 s).
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from resolution.client.witness import keygen
from resolution.protocol.checkpoint import parse_checkpoint
from resolution.protocol.cosignature import (
    CosignatureError,
    CosignatureSigner,
    add_cosignatures,
    open_cosigned_checkpoint,
)
from resolution.protocol.note import Signer, parse_note, verifier_key
from resolution.protocol.policy import parse_policy
from resolution.protocol.witness import parse_cosignature_lines, parse_tree_size
from tests.resolution.witnesslog import ToyLog, post

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
CRASH_ITERATIONS = int(os.environ.get("RS_WITNESS_CRASH_ITERATIONS", "12"))


@dataclass
class WitnessProcess:
    """``rs witness serve`` on 127.0.0.1, restartable over the same key and state."""

    key: Path
    state: Path
    logs: list[Signer]
    process: subprocess.Popen[str] | None = None
    address: tuple[str, int] = ("127.0.0.1", 0)
    signer: CosignatureSigner | None = field(default=None)

    def start(self) -> None:
        command = [sys.executable, "-m", "resolution.cli", "witness", "serve"]
        command += ["--key", str(self.key), "--state", str(self.state)]
        command += ["--listen", "127.0.0.1:0"]
        for log in self.logs:
            command += ["--log", verifier_key(log.name, log.public_key)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "listening on http://127.0.0.1:PORT"
        assert line.startswith("listening on http://127.0.0.1:"), line
        self.address = ("127.0.0.1", int(line.strip().rsplit(":", 1)[1]))

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            assert self.process.wait(timeout=10) == 0
            self.process = None


@pytest.fixture
def make_witness(tmp_path: Path) -> Iterator[type[WitnessProcess]]:
    started: list[WitnessProcess] = []

    class Tracked(WitnessProcess):
        def start(self) -> None:
            super().start()
            started.append(self)

    yield Tracked
    for witness in started:
        witness.kill()


def new_witness(
    tmp_path: Path, factory: type[WitnessProcess], logs: list[Signer], name: str
) -> tuple[WitnessProcess, CosignatureSigner]:
    key = tmp_path / f"{name}.key"
    signer = keygen(f"{name}.example.test", key)
    witness = factory(key, tmp_path / f"{name}.state", logs, signer=signer)
    witness.start()
    return witness, signer


def submit(address: tuple[str, int], log: ToyLog, old: int) -> tuple[int, bytes]:
    """Submit the log's latest checkpoint as a log does: from ``old``, and on 409 again from
    the size the witness holds."""
    status, kind, body = post(address, log.request(old))
    if status == 409:
        assert kind == "text/x.tlog.size"
        held = parse_tree_size(body)
        if held > log.size:  # the witness is past this tree: nothing to prove
            return status, body
        status, _, body = post(address, log.request(held))
    return status, body


def test_a_log_is_cosigned_over_http(tmp_path: Path, make_witness: type[WitnessProcess]) -> None:
    log_key = Signer("log.example.test/a", bytes(range(32)))
    witness, signer = new_witness(tmp_path, make_witness, [log_key], "w1")
    log = ToyLog(log_key, 0)
    cosigned = 0
    for size in (1, 2, 5, 16, 17, 100):
        log.grow(size)
        status, body = submit(witness.address, log, cosigned)  # the log knows what it last got
        assert status == 200, body
        note = add_cosignatures(log.checkpoint(), parse_cosignature_lines(body))
        opened = open_cosigned_checkpoint(note, log_key.verifier, log_key.name, [signer.verifier])
        assert opened.checkpoint.size == size
        cosigned = size
    # A log that lost track sends old 0 and learns the size from the 409.
    log.grow(120)
    assert submit(witness.address, log, 0)[0] == 200
    # A restart keeps the state.
    witness.stop()
    witness.start()
    status, kind, body = post(witness.address, log.request(0))
    assert (status, kind, body) == (409, "text/x.tlog.size", b"120\n")


def test_split_view_is_refused_by_every_witness(
    tmp_path: Path, make_witness: type[WitnessProcess]
) -> None:
    log_key = Signer("log.example.test/split", bytes(range(32)))
    witnesses = [new_witness(tmp_path, make_witness, [log_key], f"w{i}") for i in range(3)]
    honest = ToyLog(log_key, 20)
    for witness, _ in witnesses:
        assert submit(witness.address, honest, 0)[0] == 200
    # The fork: the same key, the same first 12 entries, then a rogue history the victim sees.
    for fork in (honest.fork(12, 20), honest.fork(12, 25), honest.fork(19, 40)):
        for witness, _ in witnesses:
            assert post(witness.address, fork.request(20))[0] in (409, 422)
            assert post(witness.address, fork.request(0))[0] == 409
            assert submit(witness.address, fork, 0)[0] in (409, 422)
    # A client holding the fork's checkpoint with an honest cosignature pasted on refuses it,
    # and without cosignatures the policy's quorum is not met.
    policy = parse_policy(
        f"log {verifier_key(log_key.name, log_key.public_key)}\n"
        + "".join(f"witness W{i} {s.verifier.vkey}\n" for i, (_, s) in enumerate(witnesses))
        + "group all-of-them 2 W0 W1 W2\nquorum all-of-them\n"
    )
    honest_body = submit(witnesses[0][0].address, honest, 20)[1]
    fork = honest.fork(12, 20)
    pasted = add_cosignatures(fork.checkpoint(), parse_cosignature_lines(honest_body))
    with pytest.raises(CosignatureError, match="invalid signature"):
        open_cosigned_checkpoint(pasted, log_key.verifier, log_key.name, policy.witness_verifiers)
    bare = open_cosigned_checkpoint(
        fork.checkpoint(), log_key.verifier, log_key.name, policy.witness_verifiers
    )
    quorum = policy.evaluate((c.name, c.key_id) for c in bare.cosignatures)
    assert not quorum.satisfied and quorum.missing == ("W0", "W1", "W2")


def test_kill_9_never_cosigns_two_histories(
    tmp_path: Path, make_witness: type[WitnessProcess]
) -> None:
    """Each round grows an honest log and a fork of it (the same key) per origin, submits both
    at once, and kills the witness with SIGKILL at a random moment; then restarts it."""
    rng = random.Random(19)
    logs = [Signer(f"log.example.test/{i}", bytes([i + 1]) * 32) for i in range(4)]
    witness, signer = new_witness(tmp_path, make_witness, logs, "crash")
    honest = {log.name: ToyLog(log, 2) for log in logs}
    forks = {log.name: honest[log.name].fork(2, 2) for log in logs}
    cosigned: list[tuple[str, bytes]] = []  # (origin, cosigned note)
    lock = threading.Lock()
    interrupted = 0

    def drive(log: ToyLog) -> None:
        nonlocal interrupted
        try:
            status, body = submit(witness.address, log, 0)
        except (OSError, http.client.HTTPException):  # killed mid-request or mid-answer
            with lock:
                interrupted += 1
            return
        if status == 200:
            note = add_cosignatures(log.checkpoint(), parse_cosignature_lines(body))
            with lock:
                cosigned.append((log.signer.name, note))

    for _ in range(CRASH_ITERATIONS):
        for name in honest:
            honest[name].grow(honest[name].size + rng.randint(1, 3))
            forks[name].grow(forks[name].size + rng.randint(1, 3))
        threads = [
            threading.Thread(target=drive, args=(log,))
            for log in rng.sample([*honest.values(), *forks.values()], 2 * len(logs))
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0, 0.03))
        witness.kill()
        for thread in threads:
            thread.join()
        witness.start()
    # A last round without a crash: both histories try once more.
    for log in [*honest.values(), *forks.values()]:
        drive(log)

    # Every cosignature verifies, and per origin they all lie on one history.
    histories: dict[str, set[str]] = {name: set() for name in honest}
    for origin, note in cosigned:
        log_key = next(log for log in logs if log.name == origin)
        opened = open_cosigned_checkpoint(note, log_key.verifier, origin, [signer.verifier])
        assert len(opened.cosignatures) == 1
        cp = opened.checkpoint
        on_honest = honest[origin].root(cp.size) == cp.root_hash
        on_fork = forks[origin].root(cp.size) == cp.root_hash
        assert on_honest or on_fork
        if cp.size > 2:  # past the shared prefix, the two histories differ
            histories[origin].add("honest" if on_honest else "fork")
    for origin, seen in histories.items():
        assert len(seen) <= 1, f"{origin}: cosigned both the honest log and its fork"
    # The witness's own state is on the same history, at or past what it cosigned.
    witness.stop()
    for origin, note in cosigned:
        held = _held(witness.state, origin)
        cp = parse_checkpoint(parse_note(note).text)
        history = honest[origin] if honest[origin].root(cp.size) == cp.root_hash else forks[origin]
        assert held[0] >= cp.size and history.root(held[0]) == held[1]
    assert cosigned, "nothing was ever cosigned"
    assert interrupted, "no request was ever interrupted by the kill"


def _held(state: Path, origin: str) -> tuple[int, bytes]:
    import base64
    import json

    head = json.loads(state.read_text())["logs"][origin]
    return head["size"], base64.b64decode(head["root_hash"])
