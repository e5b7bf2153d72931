"""System checks of the deployment (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register
from rest_framework.settings import api_settings

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
