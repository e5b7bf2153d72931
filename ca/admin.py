"""Operators' views of challenges, certificates, CRLs, and the number lock's requests and
disputes.

Challenge codes are never shown (only an HMAC is stored, and it is not displayed either).
Revocation from the admin goes through the same service as the API, so it is logged; it asks
first, on a page that shows what will be revoked and which handlers removed, for an RFC 5280
reason and the operator's own (kept with a dispute it closes). A dispute is closed the same way:
revoke the disputed certificate, or dismiss the dispute.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from ca.choices import DisputeStatus, RevocationReason
from ca.models import (
    Certificate,
    CertificateRequest,
    Challenge,
    ChallengeVolume,
    Crl,
    Dispute,
    ExternalCertificate,
    ExternalCrl,
)
from ca.problems import CertificateExpired, CertificateRevoked, DisputeClosed
from ca.selectors import challenge_volume_by_country
from ca.services.locks import dispute_dismiss
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
        "log_entry",
    )
    list_filter = (
        "provider",
        ("revoked_at", admin.EmptyFieldListFilter),
        ("locked_at", admin.EmptyFieldListFilter),
        "revocation_reason",
    )
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
        "log_entry",
        "revoked_at",
        "revocation_reason",
        "revocation_log_entry",
        "locked_at",
        "lock_log_entry",
    )
    list_select_related = ("provider", "log_entry")
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("ca.change_certificate"))

    @admin.action(
        description="Revoke selected certificates (asks first; logged, listed in the CRL)",
        permissions=["revoke"],
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet[Certificate]) -> HttpResponse | None:
        certificates = list(queryset.select_related("provider").order_by("pk"))
        form = RevocationForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return _revocation_confirmation(
                self, request, certificates=certificates, form=form, action="revoke"
            )
        revoked = skipped = 0
        for certificate in certificates:
            try:
                certificate_revoke(
                    certificate=certificate,
                    reason=RevocationReason(form.cleaned_data["reason"]),
                    actor=f"admin:{request.user.get_username()}",
                    note=form.cleaned_data["note"],
                )
                revoked += 1
            except (CertificateRevoked, CertificateExpired):
                skipped += 1
        self.message_user(request, f"Revoked {revoked} certificate(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} already revoked or expired.", messages.WARNING
            )
        return None


class RevocationForm(forms.Form):
    """What an operator gives before revoking: the CRL's reason, and its own words."""

    reason = forms.ChoiceField(
        choices=RevocationReason.choices, initial=RevocationReason.UNSPECIFIED
    )
    note = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, in your words: kept in the service's log and with a dispute it closes.",
    )


class DismissalForm(forms.Form):
    note = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the disputed certificate stays valid: the holder who disputed is told.",
    )


def _revocation_confirmation(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    certificates: list[Certificate],
    form: forms.Form,
    action: str | None = None,
    dispute: Dispute | None = None,
) -> TemplateResponse:
    """The page that asks before revoking: each certificate, its state, and the handlers its
    revocation removes."""
    rows = [
        {
            "certificate": certificate,
            "handlers": list(certificate.handlers.order_by("service")),
        }
        for certificate in certificates
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Revoke certificates?" if dispute is None else "Revoke the disputed certificate?",
        "opts": model_admin.model._meta,
        "rows": rows,
        "form": form,
        "action": action,
        "dispute": dispute,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/ca/revoke_confirmation.html", context)


@admin.register(CertificateRequest)
class CertificateRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CertificateRequest]):
    """Certificates a number lock held back: a locked holder answers them, not the operator."""

    list_display = ("id", "number", "provider", "status", "created_at", "issues_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("=number", "=id")
    list_select_related = ("provider",)
    fields = (
        "id",
        "number",
        "provider",
        "status",
        "created_at",
        "issues_at",
        "closed_at",
        "decided_by",
        "certificate",
        "log_entry",
        "closed_log_entry",
    )


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Dispute]):
    """The operator's queue of disputes: a holder (a JWS of its certificate's key and a fresh
    SMS proof) says another certificate for its number is not theirs. Revoke it, or dismiss."""

    list_display = ("opened_at", "number", "status", "disputed_certificate", "disputer_certificate")
    list_filter = ("status",)
    search_fields = ("=number", "=id", "=disputed__serial")
    list_select_related = ("disputed__provider", "disputer__provider")
    ordering = ("status", "-opened_at")
    fields = (
        "id",
        "number",
        "status",
        "opened_at",
        "statement",
        "disputer_evidence",
        "disputed_evidence",
        "closed_at",
        "closed_by",
        "resolution",
        "log_entry",
        "closed_log_entry",
        "decide",
    )
    readonly_fields = ("disputer_evidence", "disputed_evidence", "decide")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("ca.change_certificate"))

    @admin.display(description="Disputed certificate")
    def disputed_certificate(self, dispute: Dispute) -> str:
        return f"{dispute.disputed.serial} ({dispute.disputed.provider})"

    @admin.display(description="Disputed by")
    def disputer_certificate(self, dispute: Dispute) -> str:
        return f"{dispute.disputer.serial} ({dispute.disputer.provider})"

    @admin.display(description="The holder who disputes")
    def disputer_evidence(self, dispute: Dispute) -> str:
        holder, challenge = dispute.disputer, dispute.challenge
        return format_html(
            "certificate {} through {}, issued {}, locked: {}; fresh SMS proof: challenge {} "
            "verified {}",
            holder.serial,
            holder.provider,
            holder.created_at,
            "yes" if holder.locked_at else "no",
            challenge.id,
            challenge.verified_at,
        )

    @admin.display(description="The disputed certificate")
    def disputed_evidence(self, dispute: Dispute) -> str:
        disputed = dispute.disputed
        return format_html(
            "certificate {} through {}, issued {} (log entry {}), status {}, {} handler(s); its "
            "challenge was verified {}",
            disputed.serial,
            disputed.provider,
            disputed.created_at,
            disputed.log_entry,
            disputed.status,
            disputed.handlers.count(),
            disputed.challenge.verified_at,
        )

    @admin.display(description="Decide")
    def decide(self, dispute: Dispute) -> str:
        if dispute.status != DisputeStatus.OPEN:
            return "Closed."
        return format_html(
            '<a class="button" href="{}">Revoke the disputed certificate…</a> '
            '<a class="button" href="{}">Dismiss…</a>',
            reverse("admin:ca_dispute_revoke", args=[dispute.pk]),
            reverse("admin:ca_dispute_dismiss", args=[dispute.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:dispute_id>/revoke/", wrap(self.revoke_view), name="ca_dispute_revoke"),
            path("<uuid:dispute_id>/dismiss/", wrap(self.dismiss_view), name="ca_dispute_dismiss"),
            *super().get_urls(),
        ]

    def _open_dispute(self, request: HttpRequest, dispute_id: Any) -> Dispute:
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            Dispute.objects.select_related("disputed__provider", "disputer__provider"),
            pk=dispute_id,
        )

    def _back(self, dispute: Dispute) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:ca_dispute_change", args=[dispute.pk]))

    def revoke_view(self, request: HttpRequest, dispute_id: Any) -> HttpResponse:
        dispute = self._open_dispute(request, dispute_id)
        form = RevocationForm(request.POST if request.method == "POST" else None)
        if dispute.status != DisputeStatus.OPEN:
            self.message_user(request, "The dispute is closed already.", messages.WARNING)
            return self._back(dispute)
        if not form.is_valid():
            return _revocation_confirmation(
                self, request, certificates=[dispute.disputed], form=form, dispute=dispute
            )
        try:
            certificate_revoke(
                certificate=dispute.disputed,
                reason=RevocationReason(form.cleaned_data["reason"]),
                actor=f"admin:{request.user.get_username()}",
                note=form.cleaned_data["note"],
            )
        except (CertificateRevoked, CertificateExpired) as error:
            self.message_user(request, f"Not revoked: {error.detail}", messages.WARNING)
            return self._back(dispute)
        self.message_user(
            request, "Revoked the disputed certificate; the dispute is closed.", messages.SUCCESS
        )
        return self._back(dispute)

    def dismiss_view(self, request: HttpRequest, dispute_id: Any) -> HttpResponse:
        dispute = self._open_dispute(request, dispute_id)
        form = DismissalForm(request.POST if request.method == "POST" else None)
        if dispute.status != DisputeStatus.OPEN:
            self.message_user(request, "The dispute is closed already.", messages.WARNING)
            return self._back(dispute)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Dismiss the dispute?",
                "opts": self.model._meta,
                "dispute": dispute,
                "form": form,
            }
            return TemplateResponse(request, "admin/ca/dismiss_confirmation.html", context)
        try:
            dispute_dismiss(
                dispute=dispute,
                operator=request.user.get_username(),
                resolution=form.cleaned_data["note"],
            )
        except DisputeClosed:
            self.message_user(request, "The dispute is closed already.", messages.WARNING)
            return self._back(dispute)
        self.message_user(
            request, "Dismissed; the disputed certificate stays valid.", messages.SUCCESS
        )
        return self._back(dispute)


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
