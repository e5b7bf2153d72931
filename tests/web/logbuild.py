"""A real log for the page tests: a certificate and a handler for NUMBER, and a certificate for
another number, revoked."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ca.choices import RevocationReason
from ca.models import Certificate
from ca.services.revocation import certificate_revoke
from providers.models import Provider
from tests.api_client import committed
from tests.ca.flow import NUMBER, Holder, certificate_issued, certificate_obtained
from tests.directory.flow import handler_published, published
from transparency.models import Entry
from transparency.services import log_integrate

OTHER_NUMBER = "+33612345679"
URI = "sip:alice@chat.example"


@dataclass
class BuiltLog:
    holder: Holder
    size: int
    certificate_index: int
    handler_index: int
    revocation_index: int


def log_built_through_services(provider: Provider) -> BuiltLog:
    """The log, built by ``provider`` through the services; each change integrates after its
    commit, as on the embedded default."""
    holder = certificate_issued(provider, NUMBER)
    handler = handler_published(provider, holder, uri=URI)
    other = certificate_issued(provider, OTHER_NUMBER)
    return _other_revoked(holder, handler.log.leaf_hash, other)


def log_built(client: Any, outbox: list[Any]) -> BuiltLog:
    """The log, built through the API as apps build it (the browser tests serve it live)."""
    holder = certificate_obtained(client, outbox, NUMBER)
    handler = published(client, holder, uri=URI)
    other = certificate_obtained(client, outbox, OTHER_NUMBER)
    return _other_revoked(holder, base64.b64decode(handler["log"]["leaf_hash"]), other)


def _other_revoked(holder: Holder, handler_leaf: bytes, other: Holder) -> BuiltLog:
    with committed():
        certificate_revoke(
            certificate=Certificate.objects.get(serial=other.serial),
            reason=RevocationReason.KEY_COMPROMISE,
            actor="test",
        )
    log_integrate()  # the changes integrated after their commits: this only makes sure
    revocation = Entry.objects.filter(kind="revocation").get()
    return BuiltLog(
        holder=holder,
        size=Entry.objects.count(),
        certificate_index=_index_of(base64.b64decode(holder.issued["log"]["leaf_hash"])),
        handler_index=_index_of(handler_leaf),
        revocation_index=_index_of(bytes(revocation.leaf_hash)),
    )


def _index_of(leaf_hash: bytes) -> int:
    index = Entry.objects.get(leaf_hash=leaf_hash).index
    assert index is not None, "sequenced by the integration after its commit"
    return int(index)
