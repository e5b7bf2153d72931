"""Lookup budgets: per provider whatever the number of its keys, and a brake on how many
different numbers a provider looks up (enumeration), which repeated lookups do not spend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from providers.services import api_key_create
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

# Valid French mobile numbers, none with handlers: a lookup answers 200 with none.
NUMBERS = [f"+3361234{index:04d}" for index in range(10)]


@pytest.fixture
def rates(settings: Any) -> Any:
    def set_rates(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **rates,
            },
        }

    return set_rates


def _looked_up(client: Any, number: str) -> int:
    return int(client.get(f"/v1/numbers/{number}").status_code)


def _refused(client: Any, url: str) -> dict[str, Any]:
    response = client.get(url)
    body = assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) == body["retry_after"] > 0
    return body


def test_the_lookup_rate_is_per_provider_not_per_key(
    client_for: Any, provider: Any, rates: Any
) -> None:
    rates(lookup="3/minute")
    first = client_for(api_key_create(provider=provider).secret)
    for number in NUMBERS[:3]:
        assert _looked_up(first, number) == 200
    # A second key of the same provider, minted to get round the limit, shares it.
    second = client_for(api_key_create(provider=provider).secret)
    _refused(second, f"/v1/numbers/{NUMBERS[3]}")
    other = client_for(api_key_create(provider=ProviderFactory()).secret)
    assert _looked_up(other, NUMBERS[3]) == 200


def test_new_numbers_past_the_burst_are_braked_and_seen_ones_stay_free(
    client_for: Any, provider: Any, rates: Any, settings: Any
) -> None:
    rates(lookup_distinct="2/hour")  # one new number every 30 minutes, after the burst
    settings.RS_THROTTLE_LOOKUP_DISTINCT_BURST = 3
    clients = [client_for(api_key_create(provider=provider).secret) for _ in range(2)]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for index, number in enumerate(NUMBERS[:3]):
            assert _looked_up(clients[index % 2], number) == 200
        body = _refused(clients[0], f"/v1/numbers/{NUMBERS[3]}")
        assert 1790 < body["retry_after"] <= 1800
        # The label of a new number is braked the same way: it ties the log to the number.
        _refused(clients[1], f"/v1/log/labels/{NUMBERS[4]}")
        # Numbers already looked up, in any spelling and by any key, are free.
        for _ in range(3):
            for client in clients:
                assert _looked_up(client, NUMBERS[0]) == 200
                assert _looked_up(client, "+33 6 12 34 00 01") == 200
        assert client.get(f"/v1/log/labels/{NUMBERS[2]}").status_code == 200
        # Another provider has a brake of its own.
        other = client_for(api_key_create(provider=ProviderFactory()).secret)
        assert _looked_up(other, NUMBERS[3]) == 200
        # Half an hour later, one more new number.
        clock.shift(timedelta(minutes=30))
        assert _looked_up(clients[0], NUMBERS[3]) == 200
        _refused(clients[0], f"/v1/numbers/{NUMBERS[4]}")


def test_a_number_is_seen_only_for_the_window(api_client: Any, rates: Any, settings: Any) -> None:
    rates(lookup_distinct="1/hour")
    settings.RS_THROTTLE_LOOKUP_DISTINCT_BURST = 1
    settings.RS_THROTTLE_LOOKUP_SEEN_SECONDS = 600
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert _looked_up(api_client, NUMBERS[0]) == 200
        clock.shift(timedelta(minutes=9))
        assert _looked_up(api_client, NUMBERS[0]) == 200
        # Past the window the number is new again, and the budget is spent until the hour.
        clock.shift(timedelta(minutes=2))
        body = _refused(api_client, f"/v1/numbers/{NUMBERS[0]}")
        assert 2930 < body["retry_after"] <= 2940


def test_a_malformed_number_is_refused_without_spending_the_brake(
    api_client: Any, rates: Any, settings: Any
) -> None:
    rates(lookup_distinct="1/hour")
    settings.RS_THROTTLE_LOOKUP_DISTINCT_BURST = 1
    response = api_client.get("/v1/numbers/+3399")
    assert response.status_code == 400
    assert _looked_up(api_client, NUMBERS[0]) == 200


def test_the_cache_never_holds_a_number_in_clear(api_client: Any) -> None:
    for number in NUMBERS[:3]:
        assert _looked_up(api_client, number) == 200
    keys = [str(key) for key in cache._cache]  # type: ignore[attr-defined]  # locmem's store
    assert any(":seen:" in key for key in keys)
    for number in NUMBERS[:3]:
        assert not any(number[1:] in key or number[4:] in key for key in keys), keys


def test_the_brake_can_be_turned_off(api_client: Any, rates: Any, settings: Any) -> None:
    rates(lookup_distinct="")
    settings.RS_THROTTLE_LOOKUP_DISTINCT_BURST = 1
    for number in NUMBERS[:5]:
        assert _looked_up(api_client, number) == 200


def test_the_keys_and_the_clients_rates_hold_on_lookups_read_in_one_cache_call(
    client_for: Any, provider: Any, rates: Any, monkeypatch: Any
) -> None:
    reads: list[list[str]] = []
    real_get_many = cache.get_many

    def get_many(keys: list[str]) -> dict[str, Any]:
        reads.append(list(keys))
        return real_get_many(keys)

    monkeypatch.setattr(cache, "get_many", get_many)  # the cache the throttles read
    rates(api_key="2/minute", client_ip="4/minute")  # both keys come from one client
    first, second = (client_for(api_key_create(provider=provider).secret) for _ in range(2))
    for number in NUMBERS[:2]:
        assert _looked_up(first, number) == 200
    # One read per lookup for all its buckets: the key's, the client's, the provider's.
    assert [len(keys) for keys in reads] == [5, 5]
    body = _refused(first, f"/v1/numbers/{NUMBERS[2]}")
    assert 29 < body["retry_after"] <= 30
    assert _looked_up(second, NUMBERS[2]) == 200  # another key: its own rate
    _refused(second, f"/v1/numbers/{NUMBERS[3]}")  # the client's fifth request
