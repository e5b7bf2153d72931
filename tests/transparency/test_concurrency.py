"""Real parallel writers in separate processes: indices stay gapless, unique and ordered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.subprocesses import child_env
from tests.transparency.logdata import recomputed_root
from transparency.models import Checkpoint, Entry
from transparency.services import log_integrate

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
APPENDS_EACH = 400


# Real commits: the writers are other processes, each with its own database connection.
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_get_gapless_indices_and_a_matching_root():
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.transparency.writer", str(w), str(APPENDS_EACH)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    committed = {}
    for writer, process in enumerate(processes):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        committed[writer] = json.loads(out)

    total = sum(len(numbers) for numbers in committed.values())
    assert total > 1300  # over a thousand appends, a seventh of them rolled back
    indices = list(Entry.objects.order_by("index").values_list("index", flat=True))
    assert indices == list(range(total))  # exactly 0..N-1: no gap, no duplicate

    payloads = [json.loads(bytes(d)) for d in Entry.objects.values_list("data", flat=True)]
    logged = {(p["writer"], p["n"]) for p in payloads}
    assert logged == {(w, n) for w, numbers in committed.items() for n in numbers}
    assert all(n % 7 != 3 for _, n in logged)  # rolled-back appends left nothing

    # The writers integrated after their commits, racing each other; finish and compare.
    log_integrate()
    latest = Checkpoint.objects.latest()
    assert latest.size == total
    assert bytes(latest.root_hash) == recomputed_root(total)
