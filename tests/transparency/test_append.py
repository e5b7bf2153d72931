"""log_append: entries commit or roll back with the caller's change; the tables only grow."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, connection, transaction

from resolution.protocol.entries import EntryError
from resolution.protocol.merkle import leaf_hash
from tests.api_client import committed
from tests.transparency.logdata import append_entries, sequenced
from transparency.models import Checkpoint, Entry
from transparency.services import log_append

pytestmark = pytest.mark.django_db


def test_entry_is_canonical_json_with_version_and_kind():
    with transaction.atomic():
        appended = log_append(kind="certificate", payload={"serial": "0a", "b": [1, "é"]})
    entry = Entry.objects.get(pk=appended.entry_id)
    data = bytes(entry.data)
    assert data == '{"b":[1,"é"],"kind":"certificate","serial":"0a","v":2}'.encode()
    assert bytes(entry.leaf_hash) == appended.leaf_hash == leaf_hash(data)
    assert json.loads(data)["v"] == 2


def test_an_entry_of_version_1_can_still_be_written():
    with transaction.atomic():
        appended = log_append(kind="test", payload={"n": 1}, version=1)
    assert bytes(Entry.objects.get(pk=appended.entry_id).data) == b'{"kind":"test","n":1,"v":1}'


def test_indices_are_consecutive_and_a_rollback_leaves_no_gap():
    first = append_entries(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        log_append(kind="test", payload={"n": "rolled back"})
        raise RuntimeError("the change failed after its entry was appended")
    after = append_entries(1, start=2)
    assert [sequenced(e) for e in first + after] == [0, 1, 2]
    assert all(
        b"rolled back" not in bytes(data) for data in Entry.objects.values_list("data", flat=True)
    )
    assert Entry.objects.count() == 3


# Real commits: outside any transaction is what is tested, and a test's own would hide it.
@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        log_append(kind="test", payload={})
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("Bad Kind", {}, "lowercase"),
        ("test", {"v": 2}, "set by the log"),
        ("test", {"v": 3}, "set by the log"),
        ("test", {"kind": "other"}, "set by the log"),
        ("test", {"blob": "x" * 70_000}, "at most 65535"),
    ],
)
def test_invalid_entries_are_refused(kind, payload, reason):
    with pytest.raises(EntryError, match=reason), transaction.atomic():
        log_append(kind=kind, payload=payload)
    assert not Entry.objects.exists()


def test_embedded_default_integrates_right_after_commit():
    append_entries(3)
    latest = Checkpoint.objects.order_by("-size").first()
    assert latest is not None and latest.size == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transparency_entry SET kind = 'forged'",
        "DELETE FROM transparency_entry",
        "TRUNCATE transparency_entry CASCADE",  # with its openings, which refer to it
        "UPDATE transparency_tile SET data = data",
        "DELETE FROM transparency_tile",
        "TRUNCATE transparency_tile",
        "UPDATE transparency_checkpoint SET note = 'forged'",
        "DELETE FROM transparency_checkpoint",
        "TRUNCATE transparency_checkpoint",
    ],
)
def test_raw_sql_cannot_change_or_erase_the_log(statement):
    # 300 entries fill a level-0 tile: a level-1 tile row exists once they are integrated.
    with committed(), transaction.atomic():
        for n in range(300):
            log_append(kind="test", payload={"n": n})
    assert Checkpoint.objects.get().size == 300
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Turn off the test suite's allowance, as every production session has it.
        cursor.execute("SET LOCAL rs.allow_test_truncate = 'off'")
        cursor.execute(statement)
    assert Entry.objects.count() == 300
