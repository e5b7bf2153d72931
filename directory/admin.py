"""Operators' views of providers, API keys and handlers. Key secrets are never shown."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from directory.models import ApiKey, Handler, Provider
from directory.services import api_key_revoke
from transparency.models import Entry


class ApiKeyInline(admin.TabularInline[ApiKey, Provider]):
    model = ApiKey
    fields = ("prefix", "label", "created_at", "last_used_at", "revoked_at")
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

    def get_readonly_fields(
        self, request: HttpRequest, obj: Provider | None = None
    ) -> tuple[str, ...]:
        # The slug is an identity: certificates and log entries name it.
        return ("slug", "created_at") if obj else ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Provider | None = None) -> bool:
        return False  # deactivate instead: records and log entries refer to providers


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("prefix", "provider", "label", "created_at", "last_used_at", "revoked_at")
    list_filter = ("provider", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "provider__slug", "label")
    fields = ("provider", "prefix", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("provider", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


@admin.register(Handler)
class HandlerAdmin(admin.ModelAdmin[Handler]):
    """Read only: handlers change only with their number holder's signature (or when the
    certificate is revoked, from the certificate's page)."""

    list_display = ("number", "service", "provider", "uri", "priority", "expires_at", "log_index")
    list_filter = ("service", "provider")
    search_fields = ("=number", "uri")
    list_select_related = ("provider", "certificate", "external_certificate")
    fields = (
        *("number", "provider", "service", "uri", "priority", "visible_to", "certificate"),
        "external_certificate",
        *("expires_at", "created_at", "updated_at", "log_entry"),
    )
    readonly_fields = fields
    ordering = ("number", "service")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Handler], search_term: str
    ) -> tuple[QuerySet[Handler], bool]:
        # Operators type numbers as they see them ("+33 6 12 34 56 78"): search the E.164 form.
        compact = "".join(search_term.split())
        if compact.startswith("+") and compact[1:].isdigit():
            search_term = compact
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Latest log entry")
    def log_entry(self, handler: Handler) -> str:
        entry = Entry.objects.filter(index=handler.log_index).first()
        if entry is None:
            return "—"
        url = reverse("admin:transparency_entry_change", args=[entry.index])
        return format_html(
            '<a href="{}">#{}</a> <code>{}</code>', url, entry.index, bytes(entry.data).decode()
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Handler | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Handler | None = None) -> bool:
        return False
