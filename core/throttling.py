"""Throttles shared across processes through the cache (Redis in production).

Rates are read at request time, so changing ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (in
settings or tests) takes effect without a restart of the class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


class _ConfiguredRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return str(rate) if rate else None

    def allow_request(self, request: Request, view: APIView) -> bool:
        # Re-read the rate on every request (SimpleRateThrottle reads it once, at construction).
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


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
