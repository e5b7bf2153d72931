"""The integrator: tiles, signed checkpoints consistent with the last, refusal on tampering."""

from __future__ import annotations

import pytest
from django.db import transaction

from resolution.protocol.checkpoint import open_checkpoint
from resolution.protocol.merkle import consistency_proof, verify_consistency
from resolution.protocol.note import parse_verifier_key
from tests.transparency.logdata import append_entries, log_integrated, recomputed_root
from transparency.keys import log_keys
from transparency.models import Checkpoint, Tile
from transparency.selectors import node_reader
from transparency.services import IntegrationError, log_append, log_integrate

pytestmark = pytest.mark.django_db


@pytest.fixture
def deferred_integration(settings):
    """Appends only; the test integrates when it chooses (as with a broker)."""
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"


def test_checkpoint_is_signed_and_roots_match_a_recomputation(deferred_integration):
    append_entries(700)
    checkpoint = log_integrated()
    assert checkpoint is not None and checkpoint.size == 700
    verifier = parse_verifier_key(log_keys().note_verifier_key)
    head = open_checkpoint(checkpoint.note.encode(), verifier, "testserver/log")
    assert head.size == 700
    assert head.root_hash == bytes(checkpoint.root_hash) == recomputed_root(700)
    # Full level-0 tiles, and the level-1 tile holding their two roots (partial tiles of
    # level 0 are not stored: they are the entries' leaf hashes).
    assert sorted(Tile.objects.values_list("level", "index", "width")) == [
        (0, 0, 256),
        (0, 1, 256),
        (1, 0, 2),
    ]


def test_large_backlog_is_integrated_in_batches_each_consistent(deferred_integration):
    append_entries(600)
    log_integrated(batch=256)
    sizes = list(Checkpoint.objects.order_by("size").values_list("size", flat=True))
    assert sizes == [256, 512, 600]
    reader = node_reader(600)
    for old, new in [(256, 512), (512, 600), (256, 600)]:
        old_root = bytes(Checkpoint.objects.get(size=old).root_hash)
        new_root = bytes(Checkpoint.objects.get(size=new).root_hash)
        verify_consistency(old, new, old_root, new_root, consistency_proof(old, new, reader))
    assert bytes(Checkpoint.objects.get(size=600).root_hash) == recomputed_root(600)


def test_nothing_new_makes_no_checkpoint(deferred_integration):
    append_entries(5)
    assert log_integrated() is not None
    assert log_integrated() is None
    assert Checkpoint.objects.count() == 1


def test_a_forged_tile_stops_the_integrator_from_signing(deferred_integration):
    append_entries(512)
    log_integrated()
    # Someone with database access adds a wider level-1 tile that rewrites history.
    Tile.objects.create(level=1, index=0, width=3, data=bytes(96))
    append_entries(300, start=512)
    with pytest.raises(IntegrationError, match="inconsistent with checkpoint 512"):
        log_integrated()
    assert Checkpoint.objects.latest().size == 512


def test_a_process_configured_for_another_origin_signs_nothing(deferred_integration, settings):
    # A command run beside `serve 127.0.0.1:8001` without its RS_PUBLIC_URL, say.
    append_entries(3)
    first = log_integrated()
    settings.RS_LOG_ORIGIN = "127.0.0.1:8000/log"
    append_entries(2, start=3)

    with pytest.raises(IntegrationError, match="named 'testserver/log'"):
        log_integrate()

    assert Checkpoint.objects.get() == first  # the entries wait for the service's own origin
    settings.RS_LOG_ORIGIN = "testserver/log"
    integrated = log_integrate()
    assert integrated is not None and integrated.size == 5


def test_rolled_back_integration_leaves_no_checkpoint(deferred_integration):
    append_entries(3)
    with pytest.raises(RuntimeError), transaction.atomic():
        log_integrate()
        raise RuntimeError("crash after signing, before commit")
    assert not Checkpoint.objects.exists()
    with transaction.atomic():
        log_append(kind="test", payload={"n": 3})
    assert log_integrated() is not None
    assert Checkpoint.objects.latest().size == 4


def test_batched_proofs_verify_with_given_tiles_and_remembered_nodes(deferred_integration):
    from resolution.protocol.merkle import ProofError, leaf_hash, verify_inclusion
    from transparency.models import Entry
    from transparency.selectors import cache_clear, inclusion_proofs, signed_head

    append_entries(700)  # full level-0 tiles and a partial one
    log_integrated()
    head = signed_head()
    assert head is not None and head.size == 700
    root = bytes(Checkpoint.objects.get(size=700).root_hash)
    indices = [0, 255, 256, 511, 600, 699]
    full = {
        (0, index, 256): bytes(Tile.objects.get(level=0, index=index, width=256).data)
        for index in (0, 1)
    }
    for tiles in (None, full, full):  # the third run reads upper nodes from memory
        proofs = inclusion_proofs(indices=indices, head=head, tiles=tiles)
        for index in indices:
            data = bytes(Entry.objects.get(index=index).data)
            verify_inclusion(leaf_hash(data), index, 700, proofs[index], root)
    cache_clear()
    forged = {(0, 0, 256): bytes(32) * 256}  # given tiles are used: a wrong one shows
    proof = inclusion_proofs(indices=[3], head=head, tiles=forged)[3]
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(bytes(Entry.objects.get(index=3).data)), 3, 700, proof, root)
