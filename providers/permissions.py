"""Scope permissions: each API view that takes an API key declares the one scope it needs.

``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]`` is :class:`AdminScope`, so a view that forgets
to declare one is open to admin keys only; a test walks the URL patterns and finds it anyway.
A key whose scope does not include the view's is refused with the ``scope-insufficient``
problem (403) before the view reads anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from providers.choices import Scope
from providers.models import ApiKey
from providers.problems import ScopeInsufficient

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


class ScopeRequired(IsAuthenticated):
    """An API key whose scope includes ``required_scope`` (no key at all: 401)."""

    required_scope: ClassVar[Scope]

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not super().has_permission(request, view):
            return False
        api_key = request.auth
        if not isinstance(api_key, ApiKey) or not Scope(api_key.scope).includes(
            self.required_scope
        ):
            raise ScopeInsufficient(
                f"This needs an API key of scope '{self.required_scope}' or above.",
                required_scope=self.required_scope.value,
            )
        return True


class LookupScope(ScopeRequired):
    """Look up numbers and labels, verify PASSporTs: any key."""

    required_scope = Scope.LOOKUP


class DirectoryScope(ScopeRequired):
    """Verify numbers, hold certificates, publish and remove handlers."""

    required_scope = Scope.DIRECTORY


class AdminScope(ScopeRequired):
    """Manage the provider's API keys."""

    required_scope = Scope.ADMIN
