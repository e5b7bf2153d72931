"""Throttles shared across processes through the cache (Redis in production).

Each throttle is GCRA (the generic cell rate algorithm, as in ATM networks and most API
gateways): a rate of N per period lets a client send N requests at once, then one every
period/N. The cache keeps one number per client, its "theoretical arrival time", so a request
costs the same whatever the rate; DRF's own throttles keep every request's timestamp in the
window and read and write the whole list on each request, which grows with the rate.

Rates are read at request time, so changing ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (in
settings or tests) takes effect without a restart of the class.
"""

from __future__ import annotations

import abc
import time
from typing import TYPE_CHECKING

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """``"300/minute"`` → (300, 60): DRF's rate syntax (the period's first letter counts)."""
    count, _, period = rate.partition("/")
    if not count.isdigit() or int(count) < 1 or period[:1] not in _PERIODS:
        raise ValueError(f"a throttle rate is 'N/second|minute|hour|day', not {rate!r}")
    return int(count), _PERIODS[period[0]]


class _ConfiguredRateThrottle(BaseThrottle, abc.ABC):
    scope: str
    timer = staticmethod(time.time)

    @abc.abstractmethod
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        """Whom the request counts against (None: nobody, it is not throttled)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.delay = 0.0
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        key = self.get_cache_key(request, view) if rate else None
        if key is None:
            return True
        count, period = rate_parse(str(rate))
        interval = period / count
        now = self.timer()
        arrival = max(float(cache.get(key, now)), now)
        if arrival > now + period:  # never so far ahead unless the clock stepped back: restart
            arrival = now
        # Allowed while the backlog stays within the burst: count requests in one period.
        if arrival - now > period - interval:
            self.delay = arrival - now - (period - interval)
            return False
        cache.set(key, arrival + interval, timeout=int(period) + 1)
        return True

    def wait(self) -> float | None:
        return self.delay or None


class ApiKeyRateThrottle(_ConfiguredRateThrottle):
    """Requests per API key."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.auth is None:
            return None
        return f"throttle:{self.scope}:{request.auth.pk}"


class ClientIpRateThrottle(_ConfiguredRateThrottle):
    """Requests per client IP, authenticated or not (``RS_TRUSTED_PROXIES`` for proxies)."""

    scope = "client_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return f"throttle:{self.scope}:{self.get_ident(request)}"


class LogReadRateThrottle(ClientIpRateThrottle):
    """Reads of the log's static tiles, per client IP: generous, made for bulk audits."""

    scope = "log_read"


class CaReadRateThrottle(ClientIpRateThrottle):
    """Reads of the certificate repository (/ca/), per client IP."""

    scope = "ca_read"


class LookupRateThrottle(ApiKeyRateThrottle):
    """Number lookups per API key, on top of the key's overall rate: a brake on enumeration."""

    scope = "lookup"
