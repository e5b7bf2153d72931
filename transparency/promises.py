"""The log's promises of inclusion, as writes answer them (resolution.protocol.promise)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from resolution.protocol.promise import Promise, sign_promise
from transparency.keys import log_keys


def promise_of(leaf_hash: bytes, created_at: datetime) -> str:
    """The log's signed promise to include the entry ``leaf_hash`` recorded at ``created_at``
    (its row's, the time of the transaction that appended it) within the merge-delay bound.

    Ed25519 signatures are deterministic: the promise of an entry read again is the one its
    writer got (as long as ``RS_LOG_MERGE_DELAY_SECONDS`` is unchanged).
    """
    keys = log_keys()
    promise = Promise(
        origin=keys.signer.name,  # the log's name, as its checkpoints give it
        leaf_hash=leaf_hash,
        time_ms=int(created_at.timestamp() * 1000),
        bound_seconds=settings.RS_LOG_MERGE_DELAY_SECONDS,
    )
    return sign_promise(promise, keys.promise_signer)
