"""Operators' views of providers and API keys. Key secrets are never shown.

Saves and actions go through ``providers.services``, as the commands and the API do: the slug
is checked, the change logged, and this process forgets the keys it remembered.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from providers.models import ApiKey, Provider
from providers.services import (
    api_key_revoke,
    api_key_update,
    provider_create,
    provider_update,
)


class ApiKeyInline(admin.TabularInline[ApiKey, Provider]):
    model = ApiKey
    fields = ("prefix", "label", "scope", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Provider | None = None) -> bool:
        return False  # keys are created with `manage.py apikey_create`, which shows them once


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    list_display = ("slug", "name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    readonly_fields = ("created_at",)
    inlines = [ApiKeyInline]
    actions = ["deactivate", "reactivate"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Provider | None = None
    ) -> tuple[str, ...]:
        # The slug is an identity: certificates and log entries name it.
        return ("slug", "created_at") if obj else ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Provider | None = None) -> bool:
        return False  # deactivate instead: records and log entries refer to providers

    def save_model(self, request: HttpRequest, obj: Provider, form: Any, change: bool) -> None:
        if change:
            provider_update(provider=obj, name=obj.name, is_active=obj.is_active)
            return
        created = provider_create(slug=obj.slug, name=obj.name, is_active=obj.is_active)
        # The admin goes on with ``obj`` (its history entry, its redirect): make it the new row.
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.action(description="Deactivate selected providers (keys refused, handlers hidden)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        count = self._activate(queryset.filter(is_active=True), is_active=False)
        self.message_user(request, f"Deactivated {count} provider(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected providers")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        count = self._activate(queryset.filter(is_active=False), is_active=True)
        self.message_user(request, f"Reactivated {count} provider(s).", messages.SUCCESS)

    @staticmethod
    def _activate(queryset: QuerySet[Provider], *, is_active: bool) -> int:
        providers = list(queryset)
        for provider in providers:
            provider_update(provider=provider, name=provider.name, is_active=is_active)
        return len(providers)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = (
        "prefix",
        "provider",
        "label",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("provider", "scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "provider__slug", "label")
    fields = ("provider", "prefix", "label", "scope", "created_at", "last_used_at", "revoked_at")
    # The scope is set when the key is created, never raised afterwards.
    readonly_fields = ("provider", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        api_key_update(api_key=obj, label=obj.label)  # the only field an operator edits

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
