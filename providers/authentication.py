"""API-key authentication: ``Authorization: Bearer <key>`` identifies the calling provider."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from providers.models import ApiKey, Provider
from providers.selectors import api_key_authenticate
from providers.services import api_key_used

# Longer than any key we issue; anything longer is refused without hashing it.
MAX_KEY_LENGTH = 128


class ApiKeyAuthentication(BaseAuthentication):
    """Sets ``request.user`` to the :class:`Provider` and ``request.auth`` to the :class:`ApiKey`.

    No header means anonymous (the view's permissions then answer 401); a header that is not
    a live key is refused with 401 at once. A key that authenticates is noted as used
    (``last_used_at``, to the minute).
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Provider, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != self.keyword.lower() or not secret:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        if len(secret) > MAX_KEY_LENGTH or not secret.isascii():
            raise exceptions.AuthenticationFailed("Invalid API key.")
        api_key = api_key_authenticate(secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or inactive API key.")
        api_key_used(api_key=api_key)
        # The request log names the provider (core.middleware) — never the key.
        request._request.rs_provider = api_key.provider  # type: ignore[attr-defined]
        return api_key.provider, api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def caller_provider(request: Request) -> Provider:
    """The provider an authenticated request acts for."""
    assert isinstance(request.user, Provider), "view must require authentication"
    return request.user


def caller_key(request: Request) -> ApiKey:
    """The API key an authenticated request used."""
    assert isinstance(request.auth, ApiKey), "view must require authentication"
    return request.auth
