"""Migration 0007: kept external certificates and CRLs are named by their CA's key, not its name
(a real migration, on rows made before it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ca.models import ExternalCertificate, ExternalCrl
from ca.selectors import ca_key_sha256
from tests.pki import NOW, Pki

BEFORE = [("ca", "0006_certificate_repository_id_unique")]
AFTER = [("ca", "0007_external_ca_keys")]
URL = "http://pki.carrier.example/issuing.crl"


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_keys(transactional_db: Any) -> Iterator[Any]:
    """The database before 0007 (a real migration needs real commits); forward again after."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_kept_certificates_and_crls_get_their_cas_key(before_keys: Any) -> None:
    pki = Pki(label="Carrier")
    leaf = pki.leaf()
    der = leaf.public_bytes(serialization.Encoding.DER)
    name = hashlib.sha256(pki.issuing.subject.public_bytes()).digest()
    before_keys.get_model("ca", "ExternalCertificate").objects.create(
        root="carrier",
        serial=f"{leaf.serial_number:x}",
        issuer=pki.issuing.subject.rfc4514_string(),
        issuer_sha256=name,
        der=der,
        issuer_der=pki.issuing.public_bytes(serialization.Encoding.DER),
        certificate_sha256=hashlib.sha256(der).digest(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )
    crls = before_keys.get_model("ca", "ExternalCrl").objects
    now = timezone.now()
    for n, (crl, verified) in enumerate(
        [
            (pki.crl(last_update=NOW - timedelta(minutes=1)), True),  # the newest
            (pki.crl(last_update=NOW - timedelta(hours=1)), False),  # same URL, older
        ]
    ):
        crls.create(
            issuer_sha256=hashlib.sha256(bytes([n])).digest(),  # once unique, now gone
            issuer=crl.issuer.rfc4514_string(),
            root="carrier",
            url=URL,
            der=crl.public_bytes(serialization.Encoding.DER),
            this_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
            fetched_at=now,
            verified=verified,
        )

    _migrate(AFTER)

    kept = ExternalCertificate.objects.get()
    assert bytes(kept.issuer_key_sha256) == ca_key_sha256(pki.issuing)
    row = ExternalCrl.objects.get()  # one per root and URL: the newest
    assert row.this_update == NOW - timedelta(minutes=1)
    assert row.verified and bytes(row.issuer_key_sha256 or b"") == ca_key_sha256(pki.issuing)
