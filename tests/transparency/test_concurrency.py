"""Appends from many processes at once, with real commits, some rolled back and some committing
long after later ones began, while an integrator sequences and signs: every committed entry gets
exactly one index, the indices are exactly 0..N-1, and the root is the one recomputed from the
entries alone. And the sequencing rule itself, step by step, with a transaction held open.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from tests.subprocesses import child_env
from tests.transparency.logdata import indices, recomputed_root
from tests.transparency.writer import ROLLED_BACK, SLOW
from transparency.models import Checkpoint, Entry
from transparency.services import log_append, log_integrate

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 6
APPENDS_EACH = 120


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.transparency.writer", *args],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output(process: subprocess.Popen[str]) -> Any:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out)


# Real commits: the writers and the integrator are other processes, each with its connection.
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_a_running_sequencer_give_each_entry_one_index(tmp_path):
    stop = tmp_path / "stop"
    integrator = _start("integrate", str(stop))
    writers = [_start(str(w), str(APPENDS_EACH)) for w in range(WRITERS)]
    committed = {w: _output(process) for w, process in enumerate(writers)}
    stop.touch()
    assert _output(integrator)["checkpoints"] > 1  # it sequenced while they wrote
    log_integrate()  # whatever committed after its last run

    rows = list(Entry.objects.values_list("id", "index", "data"))
    total = sum(len(entries) for entries in committed.values())
    assert total > 500  # hundreds of appends, a seventh of them rolled back
    # Exactly the committed entries are in the log, each once, none rolled back.
    assert sorted(row[0] for row in rows) == sorted(
        e["entry"] for entries in committed.values() for e in entries
    )
    logged = {(p["writer"], p["n"]) for p in (json.loads(bytes(row[2])) for row in rows)}
    assert logged == {(w, e["n"]) for w, entries in committed.items() for e in entries}
    assert all(n % 7 != ROLLED_BACK for _, n in logged)
    # Every one sequenced, the indices exactly 0..N-1.
    assert indices(row[1] for row in rows) == list(range(total))

    # Slow transactions committed after others that began later, and none was passed over:
    # some got an index above that of an entry whose transaction began after theirs.
    began = dict(Entry.objects.values_list("id", "created_at"))
    index_of = {row[0]: int(row[1]) for row in rows if row[1] is not None}
    slow = [e["entry"] for es in committed.values() for e in es if e["n"] % 5 == SLOW]
    assert any(
        began[other] > began[late] and index_of[other] < index_of[late]
        for late in slow
        for other in index_of
    )

    latest = Checkpoint.objects.latest()
    assert latest.size == total
    assert bytes(latest.root_hash) == recomputed_root(total)


def _other_session() -> psycopg.Connection[Any]:
    return psycopg.connect(**connection.get_connection_params())


def _insert_uncommitted(other: psycopg.Connection[Any], n: int) -> int:
    """An entry appended by another session whose transaction stays open (the same INSERT as
    ``log_append``'s)."""
    data = json.dumps({"kind": "test", "n": n, "v": 1}, separators=(",", ":")).encode()
    leaf = hashlib.sha256(b"\0" + data).digest()
    row = other.execute(
        "INSERT INTO transparency_entry (kind, data, leaf_hash) VALUES ('test', %s, %s) "
        "RETURNING id",
        [data, leaf],
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_an_entry_committed_late_is_never_passed_over(outcome):
    other = _other_session()
    try:
        early = _insert_uncommitted(other, 0)  # the older transaction, still open
        with transaction.atomic():  # a later one: it does not wait for the other
            connection.cursor().execute("SET LOCAL lock_timeout = '200ms'")
            late = log_append(kind="test", payload={"n": 1}).entry_id
        log_integrate()
        # The later transaction committed: sequenced, whatever else is open.
        assert dict(Entry.objects.values_list("id", "index")) == {late: 0}
        getattr(other, outcome)()
    finally:
        other.close()
    log_integrate()
    indices = dict(Entry.objects.values_list("id", "index"))
    if outcome == "commit":
        assert indices == {late: 0, early: 1}  # committed late, still sequenced, once
    else:
        assert indices == {late: 0}  # the rolled-back entry never appears
    assert Checkpoint.objects.latest().size == len(indices)
    assert bytes(Checkpoint.objects.latest().root_hash) == recomputed_root(len(indices))


@pytest.mark.django_db
def test_an_entry_is_sequenced_once_and_never_changed():
    with transaction.atomic():
        appended = log_append(kind="test", payload={"n": 1})
    log_integrate()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=appended.entry_id).update(index=5)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=appended.entry_id).update(kind="forged")
