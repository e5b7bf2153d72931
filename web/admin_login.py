"""The operator's login (the admin's): failed attempts are counted by django-axes.

Axes locks out the pair (username, client address), not either alone: a guesser spraying
wrong passwords at an operator's name locks out only that name from the guesser's own address,
and the operator still logs in from theirs. A locked-out attempt is refused before the
password is hashed, so guessing costs no server CPU once the pair is locked. Settings:
``RS_ADMIN_LOGIN_FAILURE_LIMIT`` and ``RS_ADMIN_LOGIN_COOLOFF_MINUTES``; an operator unlocks
with ``manage.py axes_reset_username <name>`` (or ``axes_reset_ip_username``, ``axes_reset``).
"""

from __future__ import annotations

from typing import Any, cast

from axes.helpers import get_cool_off  # type: ignore[import-untyped]  # no type information shipped
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request

from core.throttling import client_address, client_network
from web.throttling import too_many_requests


def admin_login_client(request: HttpRequest) -> str:
    """Whom a login attempt counts against (``AXES_CLIENT_IP_CALLABLE``): the client as the
    API's per-IP throttles count it, through ``RS_TRUSTED_PROXIES``, an IPv6 /64 as one (named
    by its first address: axes keeps an address, not a network)."""
    # The address is read from request.META only, which a Django request has as a DRF one does.
    address = client_address(cast(Request, request))
    return str(client_network(address).network_address)


def admin_login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The answer to a locked-out login (``AXES_LOCKOUT_CALLABLE``): 429, and when to retry."""
    cool_off = get_cool_off(request)
    return too_many_requests(
        request,
        "Too many failed logins for this user from this address.",
        cool_off.total_seconds() if cool_off is not None else None,
    )
