"""A key's use is bookkeeping, written by a service after authentication: the lookup only
reads, and ``last_used_at`` is written at most once a minute per key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.models import ApiKey
from providers.selectors import api_key_authenticate
from providers.services import api_key_revoke, api_key_used

pytestmark = pytest.mark.django_db


def last_used(api_key: ApiKey) -> Any:
    return ApiKey.objects.get(pk=api_key.pk).last_used_at


def test_the_key_lookup_only_reads(issued_key: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        api_key = api_key_authenticate(secret=issued_key.secret)

    assert api_key is not None and api_key.pk == issued_key.api_key.pk
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SELECT"]
    assert last_used(issued_key.api_key) is None


def test_a_remembered_key_is_noted_once_a_minute(
    api_client: Any, issued_key: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.RS_API_KEY_CACHE_SECONDS = 3600  # the key stays in this process's memory
    with time_machine.travel(timezone.now(), tick=False):
        with django_assert_num_queries(2):  # the key lookup, then the last_used UPDATE
            assert api_client.get("/v1/me").status_code == 200
        first = last_used(issued_key.api_key)
        assert first is not None
    with (
        time_machine.travel(first + timedelta(seconds=59), tick=False),
        django_assert_num_queries(0),  # remembered, and noted less than a minute ago
    ):
        assert api_client.get("/v1/me").status_code == 200
    with (
        time_machine.travel(first + timedelta(seconds=61), tick=False),
        django_assert_num_queries(1),  # remembered; its use noted again
    ):
        assert api_client.get("/v1/me").status_code == 200
    assert last_used(issued_key.api_key) == first + timedelta(seconds=61)


def test_two_processes_note_a_key_once_a_minute(issued_key: Any) -> None:
    # Each process holds its own instance of the key: the UPDATE itself keeps to the minute.
    here = ApiKey.objects.get(pk=issued_key.api_key.pk)
    there = ApiKey.objects.get(pk=issued_key.api_key.pk)
    now = timezone.now()

    api_key_used(api_key=here, now=now)
    api_key_used(api_key=there, now=now + timedelta(seconds=20))

    assert last_used(issued_key.api_key) == now
    api_key_used(api_key=there, now=now + timedelta(seconds=60))
    assert last_used(issued_key.api_key) == now + timedelta(seconds=60)


def test_a_refused_key_is_not_noted(client_for: Any, issued_key: Any) -> None:
    api_key_revoke(api_key=issued_key.api_key)
    assert client_for(issued_key.secret).get("/v1/me").status_code == 401
    assert last_used(issued_key.api_key) is None
