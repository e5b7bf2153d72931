"""log_append_committed and entry_openings: version-2 entries show a label and a commitment; the
server keeps the opening and content, in the transaction of the change, and finds a number's
entries (of either version) by label."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

import pytest
from django.db import connection, transaction

from resolution.protocol.canonical import canonical_json
from resolution.protocol.entries import (
    CONTENT_FIELDS,
    EntryError,
    EntryKind,
    PrivateEntry,
    entry_parse,
)
from tests.transparency.logdata import sequenced
from transparency.models import Entry, EntryOpening
from transparency.selectors import EntryHistoryRow, entry_openings
from transparency.services import log_append, log_append_committed, log_integrate

pytestmark = pytest.mark.django_db

SERIAL = "0123456789abcdef0123456789abcdef"
SHA = "ab" * 32
AT = "2026-11-23T10:00:00Z"
NUMBER = "+33612345678"
REQUEST = "0f9b5e1c-8a8e-4f43-9d43-3d0c3f6f1a11"

CONTENTS: dict[EntryKind, dict[str, Any]] = {
    EntryKind.CERTIFICATE: {
        "number": NUMBER,
        "provider": "acme-chat",
        "serial": SERIAL,
        "certificate_sha256": SHA,
        "public_key_sha256": SHA,
        "not_before": AT,
        "not_after": AT,
    },
    EntryKind.REVOCATION: {
        "number": NUMBER,
        "provider": "acme-chat",
        "serial": SERIAL,
        "revoked_at": AT,
    },
    EntryKind.HANDLER: {
        "number": NUMBER,
        "provider": "acme-chat",
        "service": "voice",
        "uri": "sip:alice@example.com",
        "priority": 10,
        "expires_at": AT,
        "certificate": SERIAL,
    },
    EntryKind.HANDLER_REMOVED: {
        "number": NUMBER,
        "provider": "acme-chat",
        "service": "voice",
        "certificate": SERIAL,
    },
    EntryKind.LOCK: {"number": NUMBER, "provider": "acme-chat", "serial": SERIAL, "locked_at": AT},
    EntryKind.UNLOCK: {
        "number": NUMBER,
        "provider": "acme-chat",
        "serial": SERIAL,
        "unlocked_at": AT,
    },
    EntryKind.REQUEST: {
        "number": NUMBER,
        "provider": "other-chat",
        "request": REQUEST,
        "public_key_sha256": SHA,
        "requested_at": AT,
        "issues_at": AT,
    },
    EntryKind.REQUEST_CLOSED: {"number": NUMBER, "request": REQUEST, "closed_at": AT},
    EntryKind.DISPUTE: {
        "number": NUMBER,
        "provider": "acme-chat",
        "serial": SERIAL,
        "disputed": SERIAL,
        "dispute": REQUEST,
        "opened_at": AT,
    },
    EntryKind.DISPUTE_CLOSED: {
        "number": NUMBER,
        "dispute": REQUEST,
        "disputed": SERIAL,
        "closed_at": AT,
    },
    EntryKind.INVITATION: {
        "number": NUMBER,
        "provider": "acme-chat",
        "inviter": "+33698765432",
        "serial": SERIAL,
        "service": "messaging",
        "invitation": REQUEST,
        "invited_at": AT,
    },
}
REASONS = {
    EntryKind.REVOCATION: "keyCompromise",
    EntryKind.HANDLER_REMOVED: "removed",
    EntryKind.REQUEST_CLOSED: "refused",
    EntryKind.DISPUTE_CLOSED: "dismissed",
}


def test_contents_here_are_every_kinds_fields():
    assert {kind: set(content) for kind, content in CONTENTS.items()} == {
        kind: set(fields) for kind, fields in CONTENT_FIELDS.items()
    }


@pytest.mark.parametrize("kind", list(EntryKind))
def test_a_committed_entry_shows_label_commitment_and_reason_only(kind):
    label = secrets.token_bytes(64)
    with transaction.atomic():
        appended = log_append_committed(
            kind=kind, label=label, content=CONTENTS[kind], reason=REASONS.get(kind)
        )
    data = bytes(Entry.objects.get(pk=appended.entry_id).data)
    record = json.loads(data)
    public = {"v", "kind", "label", "commitment"} | ({"reason"} if kind in REASONS else set())
    assert set(record) == public
    assert record["v"] == 2 and record["kind"] == kind.value and record["label"] == label.hex()
    assert record.get("reason") == REASONS.get(kind)
    assert entry_parse(data) == PrivateEntry(
        kind=kind, label=label.hex(), commitment=record["commitment"], reason=REASONS.get(kind)
    )
    assert NUMBER.encode() not in data and b"acme-chat" not in data

    kept = EntryOpening.objects.get(entry_id=appended.entry_id)
    assert bytes(kept.label) == label
    assert bytes(kept.opening) == appended.opening and len(appended.opening) == 32
    assert bytes(kept.content) == appended.content == canonical_json(CONTENTS[kind])
    want = hmac.new(appended.opening, appended.content, hashlib.sha256).hexdigest()
    assert record["commitment"] == want


@pytest.mark.parametrize(
    ("kind", "content", "reason", "message"),
    [
        (EntryKind.CERTIFICATE, {**CONTENTS[EntryKind.CERTIFICATE], "x": "y"}, None, "keys"),
        (EntryKind.REVOCATION, CONTENTS[EntryKind.REVOCATION], None, "reason"),
        (EntryKind.HANDLER, CONTENTS[EntryKind.HANDLER], "removed", "no reason"),
        (EntryKind.HANDLER, {**CONTENTS[EntryKind.HANDLER], "priority": "10"}, None, "integer"),
        (
            EntryKind.HANDLER_REMOVED,
            {**CONTENTS[EntryKind.HANDLER_REMOVED], "number": "33"},
            "removed",
            "E.164",
        ),
    ],
)
def test_a_malformed_committed_entry_is_refused(kind, content, reason, message):
    with pytest.raises(EntryError, match=message), transaction.atomic():
        log_append_committed(kind=kind, label=bytes(64), content=content, reason=reason)
    assert not Entry.objects.exists() and not EntryOpening.objects.exists()


def test_a_crash_after_the_append_leaves_neither_entry_nor_opening():
    with pytest.raises(RuntimeError, match="crash"), transaction.atomic():
        log_append_committed(
            kind=EntryKind.HANDLER, label=bytes(64), content=CONTENTS[EntryKind.HANDLER]
        )
        raise RuntimeError("crash after the entry, in the caller's transaction")
    assert not Entry.objects.exists() and not EntryOpening.objects.exists()


def test_entry_openings_lists_a_labels_entries_of_both_versions_oldest_first():
    label, other = secrets.token_bytes(64), secrets.token_bytes(64)
    with transaction.atomic():
        v1 = log_append(
            kind="handler_removed",
            payload={"label": label.hex(), "provider": "p", "service": "voice", "reason": "r"},
            version=1,
        )
        log_append(kind="test", payload={"a": {"label": label.hex()}})  # nests it: not its label
        log_append_committed(
            kind=EntryKind.CERTIFICATE, label=other, content=CONTENTS[EntryKind.CERTIFICATE]
        )
        cert = log_append_committed(
            kind=EntryKind.CERTIFICATE, label=label, content=CONTENTS[EntryKind.CERTIFICATE]
        )
        erased = log_append_committed(
            kind=EntryKind.HANDLER, label=label, content=CONTENTS[EntryKind.HANDLER]
        )
    EntryOpening.objects.filter(entry_id=erased.entry_id).delete()  # erased for good
    log_integrate()

    rows = entry_openings(label=label)

    data = {i: bytes(d) for i, d in Entry.objects.values_list("index", "data")}
    v1_at, cert_at, erased_at = (sequenced(e) for e in (v1, cert, erased))
    assert rows == [
        EntryHistoryRow(index=v1_at, data=data[v1_at], opening=None, content=None),
        EntryHistoryRow(
            index=cert_at, data=data[cert_at], opening=cert.opening, content=cert.content
        ),
        EntryHistoryRow(index=erased_at, data=data[erased_at], opening=None, content=None),
    ]
    assert entry_openings(label=bytes(64)) == []


def test_entry_openings_reads_the_label_index():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT 1 FROM transparency_entry WHERE transparency_entry_label(data) = %s",
            [b"0" * 128],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "transparency_entry_label" in plan and "Index" in plan
