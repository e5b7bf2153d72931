"""Lookups per provider: counted in memory, written with one upsert at most every few seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from directory import metrics
from directory.models import LookupCount
from providers.services import api_key_create
from tests.ca.flow import certificate_issued
from tests.directory.flow import handler_published, lookup
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def flush_not_due(monkeypatch: Any) -> None:
    """Counts are written when a test says so (a slow test would otherwise pass the interval)."""
    monkeypatch.setattr(metrics, "_next_flush", math.inf)


def this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def written() -> dict[str, int]:
    return {row.provider.slug: row.count for row in LookupCount.objects.select_related("provider")}


def test_lookups_are_counted_per_provider_and_written_in_one_statement(
    api_client: Any,
    client_for: Any,
    provider: Any,
    django_assert_num_queries: Any,
) -> None:
    holder = certificate_issued(provider)
    handler_published(provider, holder)
    other = ProviderFactory(slug="other")
    other_client = client_for(api_key_create(provider=other).secret)
    for _ in range(3):
        lookup(api_client)
    lookup(other_client)
    assert written() == {}  # nothing written by the lookups themselves

    with django_assert_num_queries(3):  # SAVEPOINT/BEGIN, the upsert, RELEASE/COMMIT
        assert metrics.lookup_counts_flush() == 2

    assert written() == {provider.slug: 3, "other": 1}
    assert {row.hour for row in LookupCount.objects.all()} == {this_hour()}
    lookup(api_client)
    lookup(api_client)
    metrics.lookup_counts_flush()
    assert written() == {provider.slug: 5, "other": 1}  # added to, not replaced
    assert metrics.lookup_counts_flush() == 0  # nothing new


def test_a_lookup_writes_the_counts_when_they_are_due(
    api_client: Any, provider: Any, monkeypatch: Any
) -> None:
    lookup(api_client)
    assert written() == {}
    monkeypatch.setattr(metrics, "_next_flush", 0.0)  # FLUSH_SECONDS have passed
    lookup(api_client)
    assert written() == {provider.slug: 2}
    assert 0 < metrics._next_flush < math.inf  # the next flush is FLUSH_SECONDS away
    lookup(api_client)
    assert written() == {provider.slug: 2}


def test_failed_lookups_are_not_counted(api_client: Any) -> None:
    assert api_client.get("/v1/numbers/not-a-number").status_code == 400
    metrics.lookup_counts_flush()
    assert written() == {}


def test_counts_of_a_provider_deleted_meanwhile_are_dropped(provider: Any) -> None:
    gone = ProviderFactory()
    metrics.lookup_counted(provider=provider)
    metrics.lookup_counted(provider=gone)
    gone.delete()
    assert metrics.lookup_counts_flush() == 1
    assert written() == {provider.slug: 1}
    assert metrics.lookup_counts_flush() == 0  # not kept for a retry that would fail again


def test_counts_are_kept_when_the_database_refuses_them(provider: Any, monkeypatch: Any) -> None:
    from django.db import DatabaseError, connection

    metrics.lookup_counted(provider=provider)

    class Refusing:
        def __enter__(self) -> None:
            raise DatabaseError("the database is away")

        def __exit__(self, *args: Any) -> None:
            return None

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", Refusing)
        assert metrics.lookup_counts_flush() == 0
    assert metrics.lookup_counts_flush() == 1
    assert written() == {provider.slug: 1}


def test_lookups_by_provider_and_hour(provider: Any) -> None:
    other = ProviderFactory(slug="zz-other")
    hour = this_hour()
    LookupCount.objects.bulk_create(
        [
            LookupCount(provider=provider, hour=hour, count=7),
            LookupCount(provider=other, hour=hour, count=2),
            LookupCount(provider=provider, hour=hour - timedelta(hours=1), count=4),
            LookupCount(provider=provider, hour=hour - timedelta(days=3), count=100),
        ]
    )
    rows = metrics.lookups_by_provider_hour(since=hour - timedelta(hours=1))
    assert [(r.hour, r.provider, r.lookups) for r in rows] == [
        (hour - timedelta(hours=1), provider.slug, 4),
        (hour, provider.slug, 7),
        (hour, "zz-other", 2),
    ]
