"""Operators' views of handlers (read only)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from directory.models import Handler


@admin.register(Handler)
class HandlerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Handler]):
    """Read only: handlers change only with their number holder's signature (or when the
    certificate is revoked, from the certificate's page)."""

    list_display = ("number", "service", "provider", "uri", "priority", "expires_at", "log_entry")
    list_filter = ("service", "provider")
    search_fields = ("=number", "uri")
    list_select_related = ("provider", "certificate", "external_certificate", "log_entry")
    fields = (
        *("number", "provider", "service", "uri", "priority", "visible_to", "certificate"),
        "external_certificate",
        *("expires_at", "created_at", "updated_at", "log_entry_shown"),
    )
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
    def log_entry_shown(self, handler: Handler) -> str:
        entry = handler.log_entry
        url = reverse("admin:transparency_entry_change", args=[entry.pk])
        return format_html(
            '<a href="{}">{}</a> <code>{}</code>', url, entry, bytes(entry.data).decode()
        )
