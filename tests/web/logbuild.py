"""A real log for the page tests: built through the API, as apps build it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ca.choices import RevocationReason
from ca.models import Certificate
from ca.services.revocation import certificate_revoke
from tests.ca.flow import NUMBER, Holder, certificate_obtained
from tests.directory.flow import published
from transparency.models import Entry
from transparency.services import log_integrate

OTHER_NUMBER = "+33612345679"


@dataclass
class BuiltLog:
    holder: Holder
    size: int
    certificate_index: int
    handler_index: int
    revocation_index: int


def log_built(client: Any, outbox: list[Any]) -> BuiltLog:
    """A certificate and a handler for NUMBER, a certificate for another number, revoked.

    Runs in transactional tests: each change integrates after its commit, as on the embedded
    default; the final ``log_integrate`` only makes sure.
    """
    holder = certificate_obtained(client, outbox, NUMBER)
    handler = published(client, holder, uri="sip:alice@chat.example")
    other = certificate_obtained(client, outbox, OTHER_NUMBER)
    certificate_revoke(
        certificate=Certificate.objects.get(serial=other.serial),
        reason=RevocationReason.KEY_COMPROMISE,
        actor="test",
    )
    log_integrate()
    revocation = Entry.objects.filter(kind="revocation").get()
    return BuiltLog(
        holder=holder,
        size=Entry.objects.count(),
        certificate_index=int(holder.issued["log"]["index"]),
        handler_index=int(handler["log"]["index"]),
        revocation_index=revocation.index,
    )
