"""The read replica's router (core.read_replica): which reads go where, and when they fall back.

The replica alias mirrors the test database here: these tests check the decisions (the alias a
read is sent to); tests/integration/test_read_replica.py checks them against a real streaming
replica. A ``DATABASE_REPLICA_URL`` is set for the tests that need one; the mirror is what it
reaches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import NotFound

from core.read_replica import (
    PRIMARY,
    REPLICA,
    ReplicaHealth,
    primary_window,
    principal_wrote,
    principal_wrote_recently,
    read_alias,
    reads_from_replica,
    replica_health,
    served_from_replica,
)
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import handler_published, lookup
from tests.transparency.logdata import log_integrated
from transparency.models import Checkpoint, Entry

BOTH = ["default", "replica"]


@pytest.fixture
def replica(settings: Any) -> Iterator[None]:
    """A replica configured; the alias reaches the test database (a mirror)."""
    settings.DATABASE_REPLICA_URL = "postgres://replica.invalid/rs"
    replica_health.forget()
    yield
    replica_health.forget()


@pytest.mark.django_db
def test_without_a_replica_every_read_is_the_primarys() -> None:
    with reads_from_replica() as chosen:
        assert not chosen
        assert read_alias() == PRIMARY
        assert Entry.objects.all().db == PRIMARY


@pytest.mark.django_db(databases=BOTH)
def test_an_opted_in_read_goes_to_the_replica_and_nothing_else_does(replica: None) -> None:
    assert read_alias() == PRIMARY  # outside a read path that opted in
    with reads_from_replica() as chosen:
        assert chosen
        assert Entry.objects.all().db == REPLICA
        assert router.db_for_write(Entry) == PRIMARY
        # A transaction of the service's own reads the primary, as it may read its writes.
        with transaction.atomic():
            assert read_alias() == PRIMARY
            assert Entry.objects.all().db == PRIMARY
        assert read_alias() == REPLICA
    assert read_alias() == PRIMARY
    assert not router.allow_migrate(REPLICA, "transparency")
    assert router.allow_migrate(PRIMARY, "transparency")


@pytest.mark.django_db(databases=BOTH)
def test_a_read_path_entered_inside_a_transaction_stays_on_the_primary(replica: None) -> None:
    with transaction.atomic(), reads_from_replica() as chosen:
        assert not chosen
        assert read_alias() == PRIMARY


@pytest.mark.django_db(databases=BOTH)
def test_a_provider_that_wrote_reads_the_primary_for_its_window(
    replica: None, api_client: Any, provider: Any, settings: Any
) -> None:
    principal = f"provider:{provider.pk}"
    with reads_from_replica(principal=principal) as chosen:
        assert chosen
    # Any unsafe request by the provider, even one refused, marks it.
    response = api_client.put(
        f"/v1/numbers/{NUMBER}/handlers/messaging", "not a JWS", content_type="application/jose"
    )
    assert response.status_code == 400
    assert principal_wrote_recently(principal)
    with reads_from_replica(principal=principal) as chosen:
        assert not chosen
    with reads_from_replica(principal="provider:0") as chosen:
        assert chosen  # others still read the replica
    # As long as the replica may be behind a write when used: the bound and a look's age.
    settings.DATABASE_REPLICA_MAX_LAG = 5
    settings.RS_DB_REPLICA_CHECK_SECONDS = 1
    assert primary_window() == 7


@pytest.mark.django_db
def test_without_a_replica_writes_are_not_noted(api_client: Any, provider: Any) -> None:
    api_client.put(
        f"/v1/numbers/{NUMBER}/handlers/messaging", "not a JWS", content_type="application/jose"
    )
    assert not principal_wrote_recently(f"provider:{provider.pk}")


@pytest.mark.django_db(databases=BOTH)
def test_a_cache_that_cannot_say_who_wrote_sends_reads_to_the_primary(
    replica: None, settings: Any
) -> None:
    from core.outages import cache_outage

    principal_wrote("provider:1")
    cache_outage.failed(ConnectionError("down"))
    try:
        with reads_from_replica(principal="provider:2") as chosen:
            assert not chosen
        with reads_from_replica() as chosen:
            assert chosen  # an anonymous read has no writes of its own to see
    finally:
        cache_outage.forget()


# The replica's connection outside the test's transaction: a failed one can be dropped.
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_replica_that_does_not_answer_is_left_alone(replica: None) -> None:
    alias = connections[REPLICA]
    saved = dict(alias.settings_dict)
    alias.close()
    alias.settings_dict["HOST"], alias.settings_dict["PORT"] = "127.0.0.1", "1"
    try:
        with reads_from_replica() as chosen:
            assert not chosen
        alias.settings_dict.update(saved)
        # Left alone for RS_OUTAGE_RETRY_AFTER_SECONDS, although it answers again.
        with reads_from_replica() as chosen:
            assert not chosen
        replica_health._next_look = 0
        with reads_from_replica() as chosen:
            assert chosen
    finally:
        alias.close()
        alias.settings_dict.update(saved)


@pytest.mark.django_db(databases=BOTH)
def test_the_primary_named_as_its_own_replica_is_used_with_no_lag(replica: None) -> None:
    with reads_from_replica() as chosen:
        assert chosen
    assert replica_health.lag == 0.0


def test_the_lag_is_the_time_since_the_newest_primary_position_the_replica_replayed(
    settings: Any,
) -> None:
    settings.DATABASE_REPLICA_MAX_LAG = 5
    settings.RS_DB_REPLICA_CHECK_SECONDS = 1
    health = ReplicaHealth()
    health._positions.extend([(100.0, 10), (101.0, 20), (102.0, 20), (103.0, 35)])
    assert health._lag_at(103.0, 40) == 0.0  # replayed past the newest: caught up
    assert health._lag_at(103.0, 20) == 1.0  # has what the primary had at 102
    assert health._lag_at(103.0, 15) == 3.0
    assert health._lag_at(103.0, 5) is None  # older than anything kept: unknown, too old
    # Positions older than the bound (and two looks) are forgotten, but the latest is kept.
    assert health._lag_at(200.0, 40) == 97.0
    assert list(health._positions) == [(103.0, 35)]


@pytest.mark.django_db(databases=BOTH)
def test_a_miss_on_the_replica_is_asked_again_of_the_primary(replica: None, rf: Any) -> None:
    seen: list[str] = []

    class View:
        @served_from_replica(NotFound)
        def get(self, request: Any) -> str:
            seen.append(read_alias())
            if read_alias() == REPLICA:
                raise NotFound("not replayed yet")
            return "answered"

    assert View().get(rf.get("/")) == "answered"
    assert seen == [REPLICA, PRIMARY]


@pytest.mark.django_db(databases=BOTH)
def test_an_error_not_listed_as_a_miss_is_the_answer(replica: None, rf: Any) -> None:
    class View:
        @served_from_replica(NotFound)
        def get(self, request: Any) -> str:
            raise ValueError("a bug, not a miss")

    with pytest.raises(ValueError, match="a bug"):
        View().get(rf.get("/"))


# Real commits: the mirror is another connection, which sees only what is committed.
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_lookups_and_tiles_read_the_replica_and_the_head_the_primary(
    replica: None, provider: Any, api_client: Any, anonymous_client: Any
) -> None:
    holder = certificate_issued(provider)
    handler_published(provider, holder)
    log_integrated()
    replica_health.forget()
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
    ):
        answer = lookup(api_client)
        tile = anonymous_client.get("/log/tile/0/000.p/2")
        entries = anonymous_client.get("/v1/log/entries", {"start": 0, "end": 2})
    assert [h["uri"] for h in answer["handlers"]] == ["sip:alice@chat.example"]
    assert tile.status_code == 200 and entries.status_code == 200
    replica_sql = " ".join(query["sql"] for query in on_replica.captured_queries)
    primary_sql = " ".join(query["sql"] for query in on_primary.captured_queries)
    assert "directory_handler" in replica_sql and "transparency_entry" in replica_sql
    assert "directory_handler" not in primary_sql
    assert "transparency_checkpoint" in primary_sql
    assert "transparency_checkpoint" not in replica_sql
    assert Checkpoint.objects.exists()
