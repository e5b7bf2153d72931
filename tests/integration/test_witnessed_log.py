"""The witnessed log in the production shape: three real ``rs witness serve`` processes on
loopback, a 2-of-3 quorum, a real Celery worker and beat integrating the log and submitting each
checkpoint to the witnesses.

Checkpoints are cosigned within the merge delay target plus one second of their entries'
append; with one witness killed they still are; with two killed appends and signatures go on
but no newer checkpoint is served; a witness back on its port (same key and state) lets the
quorum catch up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from resolution.client.witness import keygen
from transparency.keys import log_keys
from transparency.models import Entry
from transparency.selectors import cache_clear, checkpoint_latest, checkpoint_served
from transparency.services import log_append

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
GOAL = 2.0  # seconds from an append to a cosigned checkpoint: the 1 s merge target, plus 1 s
POLICY = "group g 2 w1 w2 w3; quorum g"


@dataclass
class WitnessProcess:
    """``rs witness serve`` on a fixed loopback port, restartable with the same key and state."""

    name: str
    key: Path
    state: Path
    port: int
    vkey: str
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "resolution.cli", "witness", "serve"]
        command += ["--key", str(self.key), "--state", str(self.state)]
        command += ["--listen", f"127.0.0.1:{self.port}", "--log", log_keys().note_verifier_key]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == f"listening on http://127.0.0.1:{self.port}", line

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    @property
    def entry(self) -> str:
        return f"{self.name} {self.vkey} http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    made = []
    for name in ("w1", "w2", "w3"):
        signer = keygen(f"{name}.example.test", tmp_path / f"{name}.key")
        witness = WitnessProcess(
            name, tmp_path / f"{name}.key", tmp_path / f"{name}.state", _free_port(),
            signer.verifier.vkey,
        )  # fmt: skip
        witness.start()
        made.append(witness)
    yield made
    for witness in made:
        witness.kill()


def _served() -> int:
    cache_clear()
    served = checkpoint_served()
    return served.size if served else 0


def _append(n: int) -> int:
    """Append an entry, committed; its id (the sequencer gives its index later)."""
    with transaction.atomic():
        return log_append(kind="test", payload={"n": n}).entry_id


def _cosigned_within(entry_id: int, seconds: float, worker: Any) -> float:
    """Seconds until a served (cosigned) checkpoint covers entry ``entry_id``."""
    started = time.monotonic()
    while (index := Entry.objects.get(pk=entry_id).index) is None or _served() <= index:
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        waited = time.monotonic() - started
        assert waited < seconds, f"entry {entry_id} not cosigned within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_two_of_three_quorum_through_witness_outages(
    settings: Any,
    witnesses: list[WitnessProcess],
    start_worker: Callable[..., Any],
    beat: tuple[subprocess.Popen[bytes], Path],
) -> None:
    configured = {
        "RS_WITNESSES": "\n".join(w.entry for w in witnesses),
        "RS_WITNESS_POLICY": POLICY,
        "RS_WITNESS_PERMITTED_NETWORKS": "127.0.0.0/8",
    }
    settings.RS_WITNESSES = configured["RS_WITNESSES"]
    settings.RS_WITNESS_POLICY = POLICY
    settings.RS_WITNESS_PERMITTED_NETWORKS = ["127.0.0.0/8"]
    worker = start_worker(**configured)
    _cosigned_within(_append(-1), 30, worker)  # worker and beat both at work

    delays = []
    for n in range(5):
        delays.append(_cosigned_within(_append(n), GOAL, worker))
        time.sleep(0.2)

    witnesses[0].kill()  # 2 of 3 remain: still cosigned in time
    for n in range(5, 8):
        delays.append(_cosigned_within(_append(n), GOAL, worker))

    witnesses[1].kill()  # 1 of 3: appends and signatures go on, nothing newer is served
    stuck = _served()
    last = 0
    for n in range(8, 14):
        last = _append(n)
        time.sleep(0.25)
    deadline = time.monotonic() + 10
    while (
        (index := Entry.objects.get(pk=last).index) is None
        or (latest := checkpoint_latest()) is None
        or latest.size <= index
    ):
        assert time.monotonic() < deadline, "the log stopped integrating"
        time.sleep(0.05)
    time.sleep(1.0)  # a submission of the newest checkpoint has had its time
    assert _served() == stuck < latest.size

    witnesses[1].start()  # back on its port with its key and state: the quorum catches up
    delays_after = _cosigned_within(_append(14), GOAL + 1.0, worker)
    assert _served() >= latest.size + 1
    print(f"append -> cosigned: {sorted(round(d, 3) for d in delays)}; after: {delays_after:.3f}")
    connection.close()
