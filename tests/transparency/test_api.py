"""The log's read API: C2SP static endpoints and JSON, checked with the pure verifiers."""

from __future__ import annotations

import base64

import pytest

from resolution.protocol.checkpoint import open_checkpoint
from resolution.protocol.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.tiles import decode_entry_bundle, tile_hashes
from tests.problems import assert_problem
from tests.transparency.logdata import append_entries, log_integrated
from transparency.models import Entry

pytestmark = pytest.mark.django_db

SIZE = 300  # one full level-0 tile and a partial one


@pytest.fixture
def log(settings):
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    append_entries(SIZE)
    return log_integrated()


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_key_and_static_checkpoint_verify(client, log):
    keys = client.get("/log/key").json()
    assert keys["vrf_suite"] == "ECVRF-EDWARDS25519-SHA512-TAI"
    assert len(b64(keys["vrf_public_key"])) == 32
    response = client.get("/log/checkpoint")
    assert response["Content-Type"].startswith("text/plain")
    assert "max-age=1" in response["Cache-Control"]
    head = open_checkpoint(
        response.content, parse_verifier_key(keys["note_verifier_key"]), keys["origin"]
    )
    assert head.size == SIZE and head.root_hash == bytes(log.root_hash)


def test_hash_tiles_and_bundles_rebuild_the_root(client, log):
    full = client.get("/log/tile/0/000")
    assert full["Cache-Control"] == "public, max-age=31536000, immutable"
    partial = client.get(f"/log/tile/0/001.p/{SIZE - 256}")
    assert "immutable" not in partial["Cache-Control"]
    leaves = tile_hashes(full.content) + tile_hashes(partial.content)
    assert root_from_leaf_hashes(leaves) == bytes(log.root_hash)
    level1 = client.get("/log/tile/1/000.p/1")
    assert level1.content == root_from_leaf_hashes(tile_hashes(full.content))
    bundle = decode_entry_bundle(client.get("/log/tile/entries/000").content)
    assert bundle == [
        bytes(e) for e in Entry.objects.order_by("index")[:256].values_list("data", flat=True)
    ]
    assert (
        len(decode_entry_bundle(client.get(f"/log/tile/entries/001.p/{SIZE - 256}").content)) == 44
    )
    # A narrower, older version of a partial tile is still served (clients on old checkpoints).
    assert client.get("/log/tile/0/001.p/3").content == partial.content[:96]


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/002",  # beyond the tree
        "/log/tile/0/001",  # not full yet
        f"/log/tile/0/001.p/{SIZE - 255}",  # wider than the tree
        "/log/tile/entries/001",
        "/log/tile/0/1",  # malformed index
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/64/000",
        "/log/tile/0/x000/000",
        "/log/tile/../../etc/passwd",
    ],
)
def test_bad_or_missing_tiles_are_404_problems(client, log, path):
    assert_problem(client.get(path), 404, "not-found")


def test_empty_log_is_a_clear_404(client, db):
    assert_problem(client.get("/log/checkpoint"), 404, "log-empty")
    assert_problem(client.get("/v1/log/checkpoint"), 404, "log-empty")


def test_json_checkpoint_and_entries_pages(client, log):
    checkpoint = client.get("/v1/log/checkpoint").json()
    assert checkpoint["size"] == SIZE and b64(checkpoint["root_hash"]) == bytes(log.root_hash)
    page = client.get("/v1/log/entries", {"start": 250}).json()
    assert (page["start"], page["end"], page["next"]) == (250, SIZE, None)
    assert [e["index"] for e in page["entries"]] == list(range(250, SIZE))
    first = client.get("/v1/log/entries", {"start": 0, "end": 10}).json()
    assert first["next"] == 10 and len(first["entries"]) == 10


@pytest.mark.parametrize(
    "query",
    [{"start": -1}, {"start": "x"}, {"start": 5, "end": 5}, {"start": 0, "end": 1001}, {}],
)
def test_bad_entry_ranges_are_400(client, log, query):
    assert_problem(client.get("/v1/log/entries", query), 400, "validation-error")


def test_entries_beyond_the_tree_are_400(client, log):
    assert_problem(client.get("/v1/log/entries", {"start": SIZE}), 400, "log-range")


def test_inclusion_proofs_by_index_and_by_leaf_hash_verify(client, log):
    root = bytes(log.root_hash)
    for index in (0, 255, 256, SIZE - 1):
        body = client.get("/v1/log/proofs/inclusion", {"index": index}).json()
        verify_inclusion(b64(body["leaf_hash"]), index, SIZE, [b64(h) for h in body["proof"]], root)
    leaf = client.get("/v1/log/proofs/inclusion", {"index": 7}).json()["leaf_hash"]
    by_hash = client.get("/v1/log/proofs/inclusion", {"leaf_hash": leaf, "size": 100}).json()
    assert by_hash["index"] == 7 and by_hash["size"] == 100


@pytest.mark.parametrize(
    ("query", "status", "slug"),
    [
        ({"index": SIZE}, 400, "log-range"),
        ({"index": 5, "size": SIZE + 1}, 400, "log-range"),
        ({"index": 5, "size": 5}, 400, "log-range"),
        ({"index": 1, "leaf_hash": "AAAA"}, 400, "validation-error"),
        ({"leaf_hash": "not base64!"}, 400, "validation-error"),
        ({"leaf_hash": base64.b64encode(bytes(32)).decode()}, 404, "not-found"),
        ({"index": 2**70}, 400, "validation-error"),
    ],
)
def test_bad_inclusion_queries_are_problems(client, log, query, status, slug):
    assert_problem(client.get("/v1/log/proofs/inclusion", query), status, slug)


def test_consistency_proofs_verify(client, log, settings):
    first_root = bytes(log.root_hash)
    append_entries(100, start=SIZE)
    second = log_integrated()
    assert second is not None
    body = client.get("/v1/log/proofs/consistency", {"from": SIZE}).json()
    assert (body["from"], body["to"]) == (SIZE, SIZE + 100)
    proof = [b64(h) for h in body["proof"]]
    verify_consistency(SIZE, SIZE + 100, first_root, bytes(second.root_hash), proof)


@pytest.mark.parametrize(
    "query", [{"from": 0}, {"from": 10, "to": 5}, {"from": 1, "to": SIZE + 1}, {"to": 3}]
)
def test_bad_consistency_queries_are_400(client, log, query):
    response = client.get("/v1/log/proofs/consistency", query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
