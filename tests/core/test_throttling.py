"""The throttles' rate algorithm (GCRA): bursts, steady rate, waits, and what the cache holds;
and whom a per-IP limit counts: the address a trusted proxy saw, an IPv6 /64 as one client."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.throttling import ClientIpRateThrottle, client_address, rate_parse


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


def _allowed(throttle: ClientIpRateThrottle, address: str = "192.0.2.1", **headers: Any) -> bool:
    request = Request(APIRequestFactory().get("/", REMOTE_ADDR=address, **headers))
    return throttle.allow_request(request, None)  # type: ignore[arg-type]


@pytest.fixture
def one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


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
    assert isinstance(cache.get("throttle:client_ip:192.0.2.1/32"), float)


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


def test_an_ipv6_slash_64_is_one_client(throttle):
    # Four addresses of one /64: what one host or one subscriber line is given.
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9", "2001:db8:1:2::abcd"]
    assert [_allowed(throttle, address) for address in same_64] == [True] * 4
    assert not _allowed(throttle, "2001:db8:1:2:1234:5678:9abc:def0")
    assert _allowed(throttle, "2001:db8:1:3::1")  # the next /64 is another client


def test_ipv4_clients_count_per_address(throttle):
    for _ in range(4):
        assert _allowed(throttle, "198.51.100.7")
    assert not _allowed(throttle, "198.51.100.7")
    assert not _allowed(throttle, "::ffff:198.51.100.7")  # the same client, mapped into IPv6
    assert _allowed(throttle, "198.51.100.8")


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(throttle, one_proxy):
    proxy = "10.0.0.2"
    for _ in range(4):
        assert _allowed(throttle, proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert not _allowed(throttle, proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert _allowed(throttle, proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    # What the client wrote itself, left of what the proxy appended, changes nothing.
    assert not _allowed(throttle, proxy, HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.7")


def _address(remote: str = "10.0.0.2", **headers: Any) -> str:
    return str(client_address(Request(APIRequestFactory().get("/", REMOTE_ADDR=remote, **headers))))


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("198.51.100.7:4711", "198.51.100.7"),
        ("2001:db8::7", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("spoofed, 198.51.100.7", "198.51.100.7"),
        # Not an address where the proxy writes one: the proxy's own address counts.
        ("garbage", "10.0.0.2"),
        ("", "10.0.0.2"),
        (" , ", "10.0.0.2"),
        ("unknown", "10.0.0.2"),
        ("198.51.100.7:", "10.0.0.2"),
        ("[2001:db8::7", "10.0.0.2"),
        ("fe80::1%eth0", "10.0.0.2"),
        ("198.51.100.7, garbage", "10.0.0.2"),
        ("rs.example.net", "10.0.0.2"),
    ],
)
def test_a_forwarded_address_is_read_strictly(one_proxy, forwarded, address):
    assert _address(HTTP_X_FORWARDED_FOR=forwarded) == address


def test_without_trusted_proxies_the_header_is_ignored():
    assert _address(HTTP_X_FORWARDED_FOR="198.51.100.7") == "10.0.0.2"


def test_two_trusted_proxies_read_the_second_element_from_the_right(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    forwarded = "203.0.113.1, 198.51.100.7, 10.0.0.1"
    assert _address(HTTP_X_FORWARDED_FOR=forwarded) == "198.51.100.7"
    assert _address(HTTP_X_FORWARDED_FOR="198.51.100.7") == "198.51.100.7"  # one hop only


@pytest.mark.parametrize("remote", ["", "not-an-address", "/run/gunicorn.sock"])
def test_a_connection_without_an_address_is_one_unknown_client(remote):
    assert _address(remote) == "0.0.0.0"  # noqa: S104
