"""The CA's data migrations, run on rows made before them (a real migration, back and forth)."""

from __future__ import annotations

import hashlib
import importlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ca.models import REPOSITORY_ID, Certificate
from tests.factories import ProviderFactory

BEFORE = [("ca", "0004_providers_app")]
AFTER = [("ca", "0006_certificate_repository_id_unique")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate the test database to ``targets``; the apps (historical models) as they are then."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_repository_ids(transactional_db: Any) -> Iterator[Any]:
    """The database as it was before certificates had repository ids; forward again after."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(
        MigrationExecutor(connection).loader.graph.leaf_nodes()  # every app at its latest
    )


def _old_certificate(apps: Any, provider_id: int, n: int) -> None:
    """A certificate row as 0004 knew it (no repository id), with the challenge it spent."""
    challenges = apps.get_model("ca", "Challenge").objects
    certificates = apps.get_model("ca", "Certificate").objects
    now = timezone.now()
    challenge = challenges.create(
        provider_id=provider_id,
        number=f"+3361234567{n}",
        region="FR",
        calling_code=33,
        client_ip="192.0.2.1",
        code_hmac=bytes(32),
        expires_at=now + timedelta(minutes=10),
        status="used",
    )
    der = secrets.token_bytes(64)  # what is signed does not matter to the migration
    with connection.cursor() as cursor:  # its log entry (the log's tables are not migrated)
        cursor.execute(
            "INSERT INTO transparency_entry (kind, data, leaf_hash) "
            "VALUES ('certificate', %s, %s) RETURNING id",
            [b"{}", hashlib.sha256(b"\0{}").digest()],
        )
        (entry_id,) = cursor.fetchone()
    certificates.create(
        serial=secrets.token_hex(16),
        provider_id=provider_id,
        challenge=challenge,
        number=challenge.number,
        label=secrets.token_bytes(32),
        der=der,
        certificate_sha256=hashlib.sha256(der).digest(),
        public_key_sha256=secrets.token_bytes(32),
        not_before=now,
        not_after=now + timedelta(days=30),
        log_index=entry_id,
    )


def test_existing_certificates_get_fresh_repository_ids(
    before_repository_ids: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ProviderFactory()
    for n in range(5):
        _old_certificate(before_repository_ids, provider.pk, n)
    # Small batches, so that the fill takes several rounds as it would on a large table.
    fill = importlib.import_module("ca.migrations.0005_certificate_repository_id")
    monkeypatch.setattr(fill, "BATCH", 2)

    _migrate(AFTER)

    ids = list(Certificate.objects.values_list("repository_id", flat=True))
    assert len(ids) == 5 and len(set(ids)) == 5
    assert all(REPOSITORY_ID.fullmatch(repository_id) for repository_id in ids)
    serials = set(Certificate.objects.values_list("serial", flat=True))
    assert not serials & set(ids)
