"""The providers app's migrations, run on rows made before them (a real migration)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from providers.models import ApiKey, api_key_hash
from tests.factories import ProviderFactory

BEFORE = [("providers", "0001_initial")]
AFTER = [("providers", "0002_api_key_scopes")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate the test database to ``targets``; the apps (historical models) as they are then."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_scopes(transactional_db: Any) -> Iterator[Any]:
    """The database as it was before API keys had scopes; forward again after."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_keys_made_before_scopes_become_admin_keys(before_scopes: Any, client_for: Any) -> None:
    provider = ProviderFactory()
    old_keys = before_scopes.get_model("providers", "ApiKey").objects
    secrets_made = []
    for _ in range(3):
        secret = "rs_" + secrets.token_urlsafe(32)
        old_keys.create(provider_id=provider.pk, prefix=secret[:11], key_hash=api_key_hash(secret))
        secrets_made.append(secret)

    _migrate(AFTER)

    assert list(ApiKey.objects.values_list("scope", flat=True)) == ["admin"] * 3
    # Nobody is locked out: each old key still does everything it did.
    for secret in secrets_made:
        assert client_for(secret).get("/v1/me").json()["scope"] == "admin"
        assert client_for(secret).get("/v1/keys").status_code == 200
