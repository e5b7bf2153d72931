"""The throttles' rate algorithm (GCRA): bursts, steady rate, waits, and what the cache holds."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.throttling import ClientIpRateThrottle, rate_parse


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client_ip": "4/minute"},
    }
    throttle = ClientIpRateThrottle()
    throttle.timer = Clock()
    return throttle


def _allowed(throttle: ClientIpRateThrottle, address: str = "192.0.2.1") -> bool:
    request = Request(APIRequestFactory().get("/", REMOTE_ADDR=address))
    return throttle.allow_request(request, None)  # type: ignore[arg-type]


def test_a_burst_of_the_rate_then_one_per_interval(throttle):
    assert [_allowed(throttle) for _ in range(5)] == [True, True, True, True, False]
    assert throttle.wait() == pytest.approx(15.0)  # 4/minute: one every 15 s
    throttle.timer.now += 14.9
    assert not _allowed(throttle)
    throttle.timer.now += 0.2
    assert _allowed(throttle) and not _allowed(throttle)
    assert _allowed(throttle, "192.0.2.2")  # another client has its own allowance


def test_a_quiet_period_restores_the_whole_burst(throttle):
    for _ in range(4):
        assert _allowed(throttle)
    throttle.timer.now += 60
    assert [_allowed(throttle) for _ in range(5)] == [True, True, True, True, False]


def test_the_cache_holds_one_number_per_client_whatever_the_rate(throttle, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client_ip": "100000/minute"},
    }
    for _ in range(1000):
        assert _allowed(throttle)
    assert isinstance(cache.get("throttle:client_ip:192.0.2.1"), float)


def test_a_clock_that_steps_back_does_not_lock_a_client_out(throttle):
    for _ in range(4):
        assert _allowed(throttle)
    throttle.timer.now -= 3600
    assert _allowed(throttle)


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("300/minute", (300, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)), ("1/day", (1, 86400))],
)
def test_rates_are_read_as_drf_writes_them(rate, parsed):
    assert rate_parse(rate) == parsed


@pytest.mark.parametrize("rate", ["0/minute", "x/minute", "5/fortnight", "5", "-1/s"])
def test_a_rate_that_means_nothing_is_refused(rate):
    with pytest.raises(ValueError, match="throttle rate"):
        rate_parse(rate)
