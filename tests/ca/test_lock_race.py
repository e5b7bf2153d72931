"""A lock and an issuance for the same number never miss each other: issuance waits for a lock
being set (``core.locks.NUMBER``) and then holds the certificate back."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection

from ca.models import Certificate, CertificateRequest
from ca.services.issuance import IssuedCertificate, certificate_issue
from core import locks
from tests.ca.flow import NUMBER, certificate_issued, csr_pem, verified_challenge
from tests.factories import ProviderFactory

# Real commits: the lock is set by another session, and issuance runs in a thread of its own.
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_issuance_waits_for_a_lock_being_set_then_holds_the_certificate_back() -> None:
    holder = certificate_issued(ProviderFactory())
    other = ProviderFactory()
    challenge = verified_challenge(other)
    locking = psycopg.connect(**connection.get_connection_params())
    # Another session is setting the lock (as number_lock does): the number's lock first.
    locking.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [locks.NUMBER, NUMBER])
    locking.execute(
        "UPDATE ca_certificate SET locked_at = now(), lock_log_entry_id = log_entry_id "
        "WHERE serial = %s",
        [holder.serial],
    )
    outcome: list[Any] = []

    def issue() -> None:
        try:
            outcome.append(
                certificate_issue(
                    provider=other,
                    challenge_id=challenge.id,
                    csr=csr_pem(ec.generate_private_key(ec.SECP256R1())),
                )
            )
        finally:
            connection.close()

    thread = threading.Thread(target=issue)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive(), "the issuance did not wait for the lock being set"
        locking.commit()
    finally:
        locking.close()
        thread.join(timeout=10)

    assert len(outcome) == 1
    assert not isinstance(outcome[0], IssuedCertificate)
    assert CertificateRequest.objects.get().status == "pending"
    assert Certificate.objects.count() == 1
