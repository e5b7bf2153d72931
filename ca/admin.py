"""Operators' views of challenges, certificates and CRLs.

Challenge codes are never shown (only an HMAC is stored, and it is not displayed either).
Revocation from the admin goes through the same service as the API, so it is logged.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from ca.choices import RevocationReason
from ca.models import (
    Certificate,
    Challenge,
    ChallengeVolume,
    Crl,
    ExternalCertificate,
    ExternalCrl,
)
from ca.problems import CertificateExpired, CertificateRevoked
from ca.selectors import challenge_volume_by_country
from ca.services.revocation import certificate_revoke
from core.admin import ReadOnlyAdminMixin


@admin.register(Challenge)
class ChallengeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Challenge]):
    list_display = (
        "id",
        "provider",
        "number",
        "region",
        "status",
        "attempts",
        "delivery_status",
        "created_at",
    )
    list_filter = ("status", "delivery_status", "region", "provider")
    search_fields = ("=number", "=id", "=message_id", "=client_ip")
    date_hierarchy = "created_at"
    # code_hmac is deliberately absent: the code must not leak, even as a hash.
    fields = (
        "id",
        "provider",
        "number",
        "region",
        "calling_code",
        "client_ip",
        "status",
        "attempts",
        "created_at",
        "expires_at",
        "verified_at",
        "used_at",
        "delivery_status",
        "delivery_attempts",
        "delivery_error",
        "message_id",
        "delivery_updated_at",
    )
    list_select_related = ("provider",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The list takes any field lookup from the query string; PostgreSQL cannot compare text
        # that is no address with an inet column, and the admin would answer 500.
        refused = _client_ip_lookup_refused(request)
        if refused:
            return HttpResponseBadRequest(refused, content_type="text/plain; charset=utf-8")
        return super().changelist_view(request, extra_context)


def _client_ip_lookup_refused(request: HttpRequest) -> str:
    """Why the ``client_ip`` lookups of the query string cannot run; "" when they can."""
    for name, values in request.GET.lists():
        if name != "client_ip" and not name.startswith("client_ip__"):
            continue
        if name not in {"client_ip", "client_ip__exact", "client_ip__in"}:
            return f"client_ip takes an address (client_ip=) or a list (client_ip__in=): {name}"
        for value in values:
            for address in value.split(",") if name == "client_ip__in" else [value]:
                try:
                    parsed = ipaddress.ip_address(address)
                except ValueError:
                    parsed = None
                if parsed is None or getattr(parsed, "scope_id", None):  # inet has no "%zone"
                    return f"client_ip must be an IPv4 or IPv6 address: {address!r} is not one."
    return ""


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Certificate]):
    list_display = (
        "serial",
        "provider",
        "number",
        "not_after",
        "revoked_at",
        "log_index",
    )
    list_filter = ("provider", ("revoked_at", admin.EmptyFieldListFilter), "revocation_reason")
    search_fields = ("=serial", "=number")
    date_hierarchy = "created_at"
    fields = (
        "serial",
        "provider",
        "number",
        "challenge",
        "not_before",
        "not_after",
        "created_at",
        "log_index",
        "revoked_at",
        "revocation_reason",
        "revocation_log_index",
    )
    list_select_related = ("provider",)
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("ca.change_certificate"))

    @admin.action(
        description="Revoke selected certificates (logged, listed in the CRL)",
        permissions=["revoke"],
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
        revoked = skipped = 0
        for certificate in queryset:
            try:
                certificate_revoke(
                    certificate=certificate,
                    reason=RevocationReason.UNSPECIFIED,
                    actor=f"admin:{request.user.get_username()}",
                )
                revoked += 1
            except (CertificateRevoked, CertificateExpired):
                skipped += 1
        self.message_user(request, f"Revoked {revoked} certificate(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} already revoked or expired.", messages.WARNING
            )


@admin.register(Crl)
class CrlAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Crl]):
    list_display = ("number", "this_update", "next_update", "revoked_count")
    fields = ("number", "this_update", "next_update", "revoked_count")


PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


@admin.register(ExternalCertificate)
class ExternalCertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ExternalCertificate]):
    """Certificates under other trusted roots (ca.trust) that authorised a change; a CRL of
    their CA revokes them (``external_crls_refresh``), not the admin."""

    list_display = ("serial", "root", "issuer", "not_after", "revoked_at", "created_at")
    list_filter = ("root",)
    search_fields = ("=serial",)
    fields = ("serial", "root", "issuer", "not_before", "not_after", "created_at", "revoked_at")


@admin.register(ExternalCrl)
class ExternalCrlAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ExternalCrl]):
    list_display = ("issuer", "root", "this_update", "next_update", "fetched_at", "url")
    list_filter = ("root",)
    fields = ("issuer", "root", "url", "this_update", "next_update", "fetched_at")


@admin.register(ChallengeVolume)
class ChallengeVolumeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ChallengeVolume]):
    """Challenges per destination country: a spike with few verifications is SMS pumping."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        period = request.GET.get("period", "24h")
        if period not in PERIODS:
            period = "24h"
        rows = challenge_volume_by_country(since=timezone.now() - PERIODS[period])
        context = {
            **self.admin_site.each_context(request),
            "title": "Challenge volume by country",
            "opts": self.model._meta,
            "rows": rows,
            "period": period,
            "periods": list(PERIODS),
            "total": sum(row.started for row in rows),
        }
        return TemplateResponse(request, "admin/ca/challenge_volume.html", context)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ca.view_challenge"))
