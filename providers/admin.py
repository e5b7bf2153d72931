"""Operators' views of providers and API keys. A key's secret is shown once, on the page that
issues it ("Issue an API key" on a provider), and never again: it is not stored, put in a
message (those live in the session), or logged.

Saves and actions go through ``providers.services``, as the commands and the API do: the slug
is checked, the change logged, and this process forgets the keys it remembered.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from core.problems import Problem
from providers.choices import Scope
from providers.models import ApiKey, Provider
from providers.services import (
    api_key_create,
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
        return False  # keys are issued on their own page, which shows the secret once


class _Shown(str):
    """A secret for a template: its ``repr`` (in Django's debug logs of a page's context, in
    tracebacks) does not show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'rs_…'"


class ApiKeyIssueForm(forms.Form):
    label = forms.CharField(
        max_length=100, required=False, help_text="Where the key is used, e.g. “production”."
    )
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.ADMIN)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    list_display = ("slug", "name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    readonly_fields = ("created_at", "api_key_issue_link")
    inlines = [ApiKeyInline]
    actions = ["deactivate", "reactivate"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Provider | None = None
    ) -> tuple[str, ...]:
        # The slug is an identity: certificates and log entries name it.
        return ("slug", "created_at", "api_key_issue_link") if obj else ("created_at",)

    def get_fields(self, request: HttpRequest, obj: Provider | None = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        return fields if obj else [name for name in fields if name != "api_key_issue_link"]

    @admin.display(description="API keys")
    def api_key_issue_link(self, obj: Provider) -> str:
        url = reverse("admin:providers_provider_issue_key", args=[obj.pk])
        return format_html('<a href="{}">Issue an API key</a> (shown once)', url)

    def get_urls(self) -> list[URLPattern]:
        issue = path(
            "<path:object_id>/issue-key/",
            self.admin_site.admin_view(self.api_key_issue_view),
            name="providers_provider_issue_key",
        )
        return [issue, *super().get_urls()]

    def api_key_issue_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A form, then the new key's secret, once: the answer to the POST, never stored."""
        provider = self.get_object(request, object_id)
        if provider is None:
            raise Http404
        if not self.has_change_permission(request, provider):
            raise PermissionDenied
        form = ApiKeyIssueForm(request.POST if request.method == "POST" else None)
        issued = None
        if form.is_valid():
            try:
                issued = api_key_create(
                    provider=provider,
                    scope=Scope(form.cleaned_data["scope"]),
                    label=form.cleaned_data["label"],
                )
            except Problem as problem:  # the provider's key limit: said, as the API says it
                form.add_error(None, f"{problem.title}. {problem.detail}")
            else:
                key = issued.api_key
                self.log_change(request, provider, f"Issued API key {key} ({key.scope}).")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "provider": provider,
            "form": form,
            "api_key": issued.api_key if issued else None,
            "secret": _Shown(issued.secret) if issued else None,
            "subtitle": None,
            "title": f"Issue an API key for {provider.slug}",
        }
        response = TemplateResponse(request, "admin/providers/api_key_issue.html", context)
        add_never_cache_headers(response)  # the secret must not sit in any cache
        return response

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
