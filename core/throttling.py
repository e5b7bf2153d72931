"""Throttles shared across processes through the cache (Redis in production).

Each throttle is GCRA (the generic cell rate algorithm, as in ATM networks and most API
gateways): a rate of N per period lets a client send N requests at once, then one every
period/N. The cache keeps one number per client, its "theoretical arrival time", so a request
costs the same whatever the rate; DRF's own throttles keep every request's timestamp in the
window and read and write the whole list on each request, which grows with the rate.

Rates are read at request time, so changing ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (in
settings or tests) takes effect without a restart of the class.

Whom a per-IP limit counts is decided here once, for the throttles and for the challenge limits
(``ca.limits``): :func:`client_address` reads the address a trusted proxy wrote
(``RS_TRUSTED_PROXIES``), and :func:`client_network` counts an IPv6 /64, what one subscriber
line or one host is given, as one client; IPv4 stays one client per address.

When the cache cannot be reached, each throttle goes the way its ``when_cache_down`` says, the
one place that decides it (docs/security.md, "Limits while the cache is down"): most count in
this process instead, under the same keys, so lookups and log reads keep answering with at most
the rate times the number of processes; those on endpoints that send SMS refuse with 503, as an
SMS flood costs money and reaches people. The cache is then left alone for
``RS_OUTAGE_RETRY_AFTER_SECONDS``, and the outage is logged once (core.outages).
"""

from __future__ import annotations

import abc
import enum
import ipaddress
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.outages import CACHE_ERRORS, cache_outage, retry_after

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

logger = structlog.get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where no address can be read (a Unix socket without a proxy): every such request is one client.
UNKNOWN_ADDRESS = ipaddress.IPv4Address("0.0.0.0")  # noqa: S104 (counted, never bound)
# An IPv6 client is its /64: hosts and subscriber lines get at least that much (RFC 6177), so
# counting each /128 would give one client 2**64 allowances.
IPV6_CLIENT_PREFIX = 64
# A forwarded address as proxies write it: bare, "ipv4:port", "[ipv6]" or "[ipv6]:port".
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?")
_IPV4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")


def address_parse(text: str) -> IPAddress | None:
    """The address in one X-Forwarded-For element or REMOTE_ADDR; None for anything else.

    Accepts a bare IPv4 or IPv6 address and the forms with a port that some proxies write
    (``198.51.100.7:4711``, ``[2001:db8::1]:443``); an IPv4-mapped IPv6 address is its IPv4
    address. Zone ids, host names, ``unknown`` and obfuscated identifiers (RFC 7239) are not
    addresses.
    """
    text = text.strip()
    if match := _BRACKETED.fullmatch(text) or _IPV4_PORT.fullmatch(text):
        text = match.group(1)
    if "%" in text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: Request) -> IPAddress:
    """The client's address: REMOTE_ADDR, or behind N trusted proxies the address the
    outermost trusted proxy saw, which is N-th from the right of X-Forwarded-For.

    Entries left of it were written by the client and are never read. If the trusted entry is
    not an address (a misconfigured proxy), REMOTE_ADDR, the proxy's, is used: those requests
    then share the proxy's allowance, which limits more rather than less.
    """
    remote = address_parse(request.META.get("REMOTE_ADDR") or "") or UNKNOWN_ADDRESS
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies < 1 or forwarded is None:
        return remote
    elements = forwarded.split(",")
    address = address_parse(elements[-min(proxies, len(elements))])
    if address is None:
        # The header's value is the client's to write: never logged.
        logger.warning("x-forwarded-for unreadable, the proxy's address counts", proxies=proxies)
        return remote
    return address


def client_network(address: IPAddress) -> IPNetwork:
    """The addresses counted as one client: the address itself (IPv4), or its /64 (IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        return ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
    return ipaddress.IPv4Network(address)


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """``"300/minute"`` → (300, 60): DRF's rate syntax (the period's first letter counts)."""
    count, _, period = rate.partition("/")
    if not count.isdigit() or int(count) < 1 or period[:1] not in _PERIODS:
        raise ValueError(f"a throttle rate is 'N/second|minute|hour|day', not {rate!r}")
    return int(count), _PERIODS[period[0]]


def gcra_spend(
    arrival: float | None, *, interval: float, burst: int, now: float
) -> tuple[float, float]:
    """Spend one cell of a GCRA bucket whose theoretical arrival time is ``arrival`` (None: a
    full bucket): (0, the new arrival time) if allowed, else (the seconds to wait, unchanged).

    One cell every ``interval`` seconds, ``burst`` at once.
    """
    span = interval * burst
    arrival = max(now if arrival is None else float(arrival), now)
    if arrival > now + span:  # never so far ahead unless the clock stepped back: restart
        arrival = now
    # Allowed while the backlog stays within the burst.
    if arrival - now > span - interval:
        return arrival - now - (span - interval), arrival
    return 0.0, arrival + interval


class WhenCacheDown(enum.Enum):
    """What a throttle does while the shared cache cannot be reached."""

    COUNT_IN_PROCESS = "count in each process"
    """The same buckets under the same keys, each process its own: the endpoint keeps answering,
    and a client gets at most the rate times the number of processes."""
    REFUSE = "refuse"
    """503 ``service-unavailable`` with Retry-After: for what must never run unlimited."""


# The throttles' buckets while the shared cache is down: this process's own, the least recently
# used dropped first once there are this many (a client forgotten is a client let through).
PROCESS_BUCKETS_MAX = 100_000
process_buckets = LocMemCache(
    "rs-throttles-in-process", {"OPTIONS": {"MAX_ENTRIES": PROCESS_BUCKETS_MAX}}
)


def buckets_get(keys: list[str], *, when_down: WhenCacheDown) -> tuple[BaseCache, dict[str, Any]]:
    """The stored values of ``keys``, and the cache that holds them: the shared one, or while it
    is down (and for ``RS_OUTAGE_RETRY_AFTER_SECONDS`` after it last failed) this process's.

    Raises ``service-unavailable`` instead if the throttle refuses while the cache is down.
    """
    if not cache_outage.recent:
        try:
            stored = cache.get_many(keys)
        except CACHE_ERRORS as error:
            cache_outage.failed(error)
        else:
            cache_outage.answered()
            return cache, stored
    if when_down is WhenCacheDown.REFUSE:
        # Here: core.problems imports rest_framework, whose settings import this module.
        from core.problems import DependencyUnavailable

        seconds = retry_after()
        raise DependencyUnavailable(
            f"Rate limits cannot be counted right now; retry in {seconds} s.",
            retry_after=seconds,
        )
    return process_buckets, process_buckets.get_many(keys)


def buckets_set(store: BaseCache, values: dict[str, Any], *, timeout: int) -> None:
    """Write ``values`` to the cache they were read from; to this process's if that fails."""
    try:
        _cache_set(store, values, timeout=timeout)
    except CACHE_ERRORS as error:
        cache_outage.failed(error)
        _cache_set(process_buckets, values, timeout=timeout)


def _cache_set(store: BaseCache, values: dict[str, Any], *, timeout: int) -> None:
    if len(values) == 1:  # one command to Redis, where set_many sends a pipeline of two
        [(key, value)] = values.items()
        store.set(key, value, timeout=timeout)
    else:
        store.set_many(values, timeout=timeout)


class _ConfiguredRateThrottle(BaseThrottle, abc.ABC):
    scope: str
    # Every throttle keeps answering per process when the cache is down, but those of the
    # endpoints that send SMS (SMS_SENDING_THROTTLES).
    when_cache_down = WhenCacheDown.COUNT_IN_PROCESS
    timer = staticmethod(time.time)

    @abc.abstractmethod
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        """Whom the request counts against (None: nobody, it is not throttled)."""

    def buckets_wanted(self, request: Request, view: APIView) -> list[str]:
        """The cache keys the request's decision reads (none: it is not throttled)."""
        self.delay = 0.0
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.key = self.get_cache_key(request, view) if self.rate else None
        return [] if self.key is None else [self.key]

    def buckets_spend(self, stored: Mapping[str, Any], now: float) -> dict[str, tuple[Any, int]]:
        """Decide from the buckets read (``stored``), setting ``delay``; what to write back,
        each value with the seconds the cache keeps it."""
        if self.key is None:
            return {}
        count, period = rate_parse(str(self.rate))
        # A rate of N per period lets N requests through at once, then one every period/N.
        interval = period / count
        self.delay, arrival = gcra_spend(
            stored.get(self.key), interval=interval, burst=count, now=now
        )
        if self.delay:
            return {}
        # Kept no longer than a full bucket takes to drain.
        return {self.key: (arrival, int(interval * count) + 1)}

    def allow_request(self, request: Request, view: APIView) -> bool:
        throttles_run([self], request, view)
        return not self.delay

    def wait(self) -> float | None:
        return self.delay or None

    def get_ident(self, request: Request) -> str:
        """The client's address read strictly (:func:`client_address`), never DRF's raw one."""
        return str(client_address(request))


def throttles_run(
    throttles: Sequence[_ConfiguredRateThrottle], request: Request, view: APIView
) -> None:
    """Run ``throttles`` on one cache read for all their buckets and one write per lifetime.

    Each decides in turn, as DRF would run them one after the other, and sets its ``delay``
    (0: allowed); a bucket one of them wrote is what the next one reads. With Redis each call
    is a round trip: three throttles of one lifetime make two, where one after the other six.
    They must all go the same way while the cache is down (the first one's ``when_cache_down``).
    """
    keys = [key for throttle in throttles for key in throttle.buckets_wanted(request, view)]
    if not keys:
        return
    store, read = buckets_get(list(dict.fromkeys(keys)), when_down=throttles[0].when_cache_down)
    stored = dict(read)
    writes: dict[int, dict[str, Any]] = {}  # lifetime in seconds: the values to write
    for throttle in throttles:
        for key, (value, timeout) in throttle.buckets_spend(stored, throttle.timer()).items():
            stored[key] = value
            for values in writes.values():
                values.pop(key, None)
            writes.setdefault(timeout, {})[key] = value
    for timeout, values in writes.items():
        if values:
            buckets_set(store, values, timeout=timeout)


class ApiKeyRateThrottle(_ConfiguredRateThrottle):
    """Requests per API key."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.auth is None:
            return None
        return f"throttle:{self.scope}:{request.auth.pk}"


class ClientIpRateThrottle(_ConfiguredRateThrottle):
    """Requests per client (:func:`client_address`, an IPv6 /64 counted as one)."""

    scope = "client_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return f"throttle:{self.scope}:{client_network(client_address(request))}"


class SmsApiKeyRateThrottle(ApiKeyRateThrottle):
    """The per-key rate of an endpoint that sends SMS: refused while the cache is down."""

    when_cache_down = WhenCacheDown.REFUSE


class SmsClientIpRateThrottle(ClientIpRateThrottle):
    """The per-client rate of an endpoint that sends SMS: refused while the cache is down."""

    when_cache_down = WhenCacheDown.REFUSE


# The throttles of every endpoint that sends an SMS (challenge creation, and any resend): the
# API's own two rates, counted under the same keys, refusing rather than counting per process.
# The challenge limits in the database (ca.limits) apply on top, cache or no cache.
SMS_SENDING_THROTTLES: list[type[BaseThrottle]] = [SmsApiKeyRateThrottle, SmsClientIpRateThrottle]


class LogReadRateThrottle(ClientIpRateThrottle):
    """Reads of the log's static tiles, per client IP: generous, made for bulk audits."""

    scope = "log_read"


class CaReadRateThrottle(ClientIpRateThrottle):
    """Reads of the certificate repository (/ca/), per client IP."""

    scope = "ca_read"


class LookupRateThrottle(_ConfiguredRateThrottle):
    """Number lookups per provider, all its API keys together, on top of each key's overall
    rate: a brake on enumeration that minting more keys does not loosen."""

    scope = "lookup"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.auth is None:
            return None
        return f"throttle:{self.scope}:provider:{request.user.pk}"


class LookupDistinctRateThrottle(LookupRateThrottle):
    """The lookup rate, then a brake on how many *different* numbers a provider looks up.

    Walking a numbering plan means asking about numbers never asked before; an app asks again
    and again about its users' contacts. So a number the provider looked up within
    ``RS_THROTTLE_LOOKUP_SEEN_SECONDS`` is free, and each other one spends a cell of a GCRA
    bucket of ``RS_THROTTLE_LOOKUP_DISTINCT_BURST`` cells refilled at the ``lookup_distinct``
    rate. The cache remembers a number only as an HMAC under the server's secret key, and only
    once it has been charged, so it holds at most the burst plus the rate over the window per
    provider. A number that does not parse is not charged: the view refuses it with 400.

    Both limits are read with one cache call (:func:`throttles_run`); every lookup pays them,
    and in production each call is a round trip to Redis.
    """

    distinct_scope = "lookup_distinct"

    def buckets_wanted(self, request: Request, view: APIView) -> list[str]:
        self.delay = 0.0
        self.seen_key = None
        if request.auth is None:
            return []
        rates = api_settings.DEFAULT_THROTTLE_RATES
        self.rate, self.distinct_rate = rates.get(self.scope), rates.get(self.distinct_scope)
        provider = request.user.pk
        self.lookup_key = f"throttle:{self.scope}:provider:{provider}"
        self.distinct_key = f"throttle:{self.distinct_scope}:provider:{provider}"
        if self.distinct_rate:
            self.seen_key = self._seen_key(provider, view.kwargs.get("number"))
        keys = [self.lookup_key] if self.rate else []
        if self.seen_key is not None:
            keys += [self.seen_key, self.distinct_key]
        return keys

    def buckets_spend(self, stored: Mapping[str, Any], now: float) -> dict[str, tuple[Any, int]]:
        writes: dict[str, tuple[Any, int]] = {}
        if self.rate:
            count, period = rate_parse(str(self.rate))
            self.delay, arrival = gcra_spend(
                stored.get(self.lookup_key), interval=period / count, burst=count, now=now
            )
            if self.delay:
                return writes
            writes[self.lookup_key] = (arrival, period + 1)
        if self.seen_key is None or self.seen_key in stored:
            return writes
        count, period = rate_parse(str(self.distinct_rate))
        burst = max(1, settings.RS_THROTTLE_LOOKUP_DISTINCT_BURST)
        interval = period / count
        self.delay, arrival = gcra_spend(
            stored.get(self.distinct_key), interval=interval, burst=burst, now=now
        )
        if self.delay:  # the lookup's cell is spent even when the distinct brake refuses
            return writes
        writes[self.distinct_key] = (arrival, int(interval * burst) + 1)
        writes[self.seen_key] = (1, settings.RS_THROTTLE_LOOKUP_SEEN_SECONDS)
        return writes

    def _seen_key(self, provider: int | None, text: object) -> str | None:
        """The cache key that remembers ``provider`` looked the number up; None if it does not
        parse (the view refuses it, nothing is charged)."""
        if not isinstance(text, str):
            return None
        # Imported here: core.numbers imports core.problems, which imports rest_framework.views,
        # which imports this module through its settings (DEFAULT_THROTTLE_CLASSES).
        from core.numbers import number_parse
        from core.problems import Problem

        try:  # the view's own parse, so that no spelling of a number escapes the brake
            e164 = number_parse(text).e164
        except Problem:
            return None
        digest = salted_hmac(self.distinct_scope, f"{provider}:{e164}").hexdigest()[:32]
        return f"throttle:{self.distinct_scope}:seen:{provider}:{digest}"


class LookupThrottles(BaseThrottle):
    """A lookup's throttles: the API's own (``DEFAULT_THROTTLE_CLASSES``: per key, per client)
    and the lookup's (:class:`LookupDistinctRateThrottle`), run on one cache read.

    The same buckets and the same decisions as listing each in ``throttle_classes`` (DRF runs
    every one, and waits for the longest refusal); but every lookup pays them, and with Redis
    this is two round trips (four for a number not seen before) where it would be six (seven).
    """

    def throttles(self) -> list[BaseThrottle]:
        # Read at each request (DRF imports the classes from their dotted paths once).
        defaults = cast("list[type[BaseThrottle]]", api_settings.DEFAULT_THROTTLE_CLASSES)
        return [*(throttle() for throttle in defaults), LookupDistinctRateThrottle()]

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.delays: list[float | None] = []
        together: dict[WhenCacheDown, list[_ConfiguredRateThrottle]] = {}
        for throttle in self.throttles():
            if isinstance(throttle, _ConfiguredRateThrottle):
                together.setdefault(throttle.when_cache_down, []).append(throttle)
            elif not throttle.allow_request(request, view):
                self.delays.append(throttle.wait())
        for throttles in together.values():
            throttles_run(throttles, request, view)
            self.delays += [throttle.delay for throttle in throttles if throttle.delay]
        return not self.delays

    def wait(self) -> float | None:
        return max((delay for delay in self.delays if delay is not None), default=None)
