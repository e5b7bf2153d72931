"""System checks of the deployment (``manage.py check --deploy``), and the settings every process
checks as it starts (:func:`rates_validate`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings

from core.throttling import rate_parse

W001_NO_TRUSTED_PROXY = "rs.W001"


@register(Tags.security, deploy=True)
def trusted_proxies_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when no proxy is trusted: behind the TLS proxy docs/deployment.md prescribes, every
    per-IP limit would then count the proxy's address, and one client would exhaust it for all.
    """
    if api_settings.NUM_PROXIES:
        return []
    return [
        Warning(
            "RS_TRUSTED_PROXIES is 0: every request's client address is the connection's, which "
            "behind a proxy is the proxy's, so all clients share each per-IP limit.",
            hint="Set RS_TRUSTED_PROXIES to the number of proxies in front of gunicorn, each "
            "appending to X-Forwarded-For (docs/deployment.md, 'Behind a proxy'). Silence this "
            "warning (SILENCED_SYSTEM_CHECKS) only if clients connect to gunicorn directly.",
            id=W001_NO_TRUSTED_PROXY,
        )
    ]


def served_ranges_validate() -> None:
    """Raise ImproperlyConfigured for an ``RS_SERVED_RANGES`` that does not parse, as each
    process starts: a malformed range would otherwise refuse the first challenge with a 500."""
    from core.ranges import served_blocks

    served_blocks()


def rates_validate() -> None:
    """Raise ImproperlyConfigured for a rate setting that does not parse ("N/second|minute|…").

    Run as each process starts (web, worker, commands): a malformed rate would otherwise be
    found only by the first request that needs it, as a 500.
    """
    rates: dict[str, object] = {
        f"RS_THROTTLE_{scope.upper()}": rate
        for scope, rate in api_settings.DEFAULT_THROTTLE_RATES.items()
    }
    rates["RS_API_KEY_CREATE_RATE"] = settings.RS_API_KEY_CREATE_RATE
    for name, rate in rates.items():
        if rate is None:  # DRF's way of switching a throttle off
            continue
        try:
            rate_parse(str(rate))
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {error}") from None
