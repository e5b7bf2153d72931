"""A write's promise of inclusion: signed by the log's promise key, for the entry's leaf hash,
from the entry's time, with the configured bound; the same promise when the entry is read
again; and the index and proof by leaf hash once sequenced."""

from __future__ import annotations

import base64

import pytest
from django.db import transaction

from resolution.protocol.entries import EntryKind
from resolution.protocol.merkle import verify_inclusion
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.promise import open_promise, promise_key_name
from tests.transparency.logdata import log_integrated
from transparency.keys import log_keys
from transparency.models import Entry
from transparency.selectors import entry_committed
from transparency.services import log_append, log_append_committed

pytestmark = pytest.mark.django_db


def test_the_promise_is_signed_by_the_promise_key_served_for_the_entry(client, settings):
    settings.RS_LOG_MERGE_DELAY_SECONDS = 7
    with transaction.atomic():
        appended = log_append(kind="test", payload={"n": 1})
    keys = client.get("/log/key").json()
    verifier = parse_verifier_key(keys["promise_verifier_key"])
    assert verifier.name == promise_key_name(settings.RS_LOG_ORIGIN)
    assert keys["promise_verifier_key"] != keys["note_verifier_key"]
    promise = open_promise(appended.promise, verifier)
    entry = Entry.objects.get(pk=appended.entry_id)
    assert promise.leaf_hash == appended.leaf_hash == bytes(entry.leaf_hash)
    assert promise.origin == settings.RS_LOG_ORIGIN
    assert promise.time_ms == int(entry.created_at.timestamp() * 1000)
    assert promise.bound_seconds == 7


def test_an_entry_read_again_carries_the_promise_its_writer_got():
    with transaction.atomic():
        written = log_append_committed(
            kind=EntryKind.LOCK,
            label=b"\x01" * 64,
            content={
                "number": "+33612345678",
                "provider": "acme",
                "serial": "0a",
                "locked_at": "2026-12-06T10:00:00Z",
            },
        )
    again = entry_committed(entry_id=written.entry_id)
    assert again is not None and again.promise == written.promise
    assert again.leaf_hash == written.leaf_hash and again.opening == written.opening


def test_the_index_and_proof_come_by_leaf_hash_once_sequenced(client, settings):
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    with transaction.atomic():
        appended = log_append(kind="test", payload={"n": 1})
    leaf = base64.b64encode(appended.leaf_hash).decode()
    before = client.get("/v1/log/proofs/inclusion", {"leaf_hash": leaf})
    assert before.status_code == 404  # recorded, promised, not sequenced yet
    checkpoint = log_integrated()
    assert checkpoint is not None
    body = client.get("/v1/log/proofs/inclusion", {"leaf_hash": leaf}).json()
    assert body["index"] == Entry.objects.get(pk=appended.entry_id).index
    verify_inclusion(
        appended.leaf_hash,
        body["index"],
        body["size"],
        [base64.b64decode(node) for node in body["proof"]],
        bytes(checkpoint.root_hash),
    )
    assert log_keys().promise_signer.public_key != log_keys().signer.public_key
