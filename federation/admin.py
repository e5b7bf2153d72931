"""Operators' views of federation: this service's advertisements (read only: beat signs them),
its peers (configured here: URL, trusted root, the blocks each may claim), the advertisement
kept of each, and the conflicts between claims, which are shown, never resolved here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from federation.models import Advertisement, Peer, PeerAdvertisement
from federation.peers import peer_trust
from federation.selectors import conflicts
from federation.services import peer_fetch


@admin.register(Advertisement)
class AdvertisementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Advertisement]):
    list_display = ("issued_at", "ranges", "url", "certificate_serial", "entry")
    fields = ("issued_at", "ranges", "url", "certificate_serial", "entry", "token", "created_at")
    date_hierarchy = "issued_at"


class PeerAdvertisementInline(ReadOnlyAdminMixin, admin.StackedInline[PeerAdvertisement, Peer]):
    model = PeerAdvertisement
    fields = ("issued_at", "ranges", "fetched_at", "token")
    readonly_fields = fields
    verbose_name = "advertisement kept"
    can_delete = False


@admin.register(Peer)
class PeerAdmin(admin.ModelAdmin[Peer]):
    """Peers: another service's advertisement is trusted only as its peer's row says."""

    list_display = ("name", "url", "active", "claims", "last_fetch_at", "last_error")
    list_filter = ("active",)
    search_fields = ("name", "url")
    fields = ("name", "url", "root_pem", "allowed_ranges", "active", "last_fetch_at", "last_error")
    readonly_fields = ("last_fetch_at", "last_error")
    inlines = [PeerAdvertisementInline]
    actions = ["fetch_now"]

    @admin.display(description="Claims (kept advertisement)")
    def claims(self, peer: Peer) -> str:
        kept = getattr(peer, "advertisement", None)
        return kept.ranges if kept is not None else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Peer]:
        return super().get_queryset(request).select_related("advertisement")

    def save_model(self, request: HttpRequest, obj: Peer, form: Any, change: bool) -> None:
        before = Peer.objects.filter(pk=obj.pk).values_list("url", "root_pem").first()
        super().save_model(request, obj, form, change)
        # The advertisement kept was checked against the former URL or root: believing it
        # under the new ones would pass on a claim they never vouched for.
        changed = before is not None and peer_trust(*before) != peer_trust(obj.url, obj.root_pem)
        if changed and PeerAdvertisement.objects.filter(peer=obj).delete()[0]:
            self.message_user(
                request,
                f"{obj}: its kept advertisement was checked against its former URL or root, "
                "and is forgotten until fetched again.",
                messages.WARNING,
            )

    @admin.action(description="Fetch the selected peers' advertisements now")
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[Peer]) -> None:
        for peer in queryset:
            peer_fetch(peer_id=peer.pk)
            peer.refresh_from_db()
            if peer.last_error:
                self.message_user(request, f"{peer}: {peer.last_error}", messages.WARNING)
            else:
                self.message_user(request, f"{peer}: advertisement accepted", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("conflicts/", wrap(self.conflicts_view), name="federation_peer_conflicts"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        found = conflicts()
        if found:
            self.message_user(
                request,
                format_html(
                    '{} conflicting claims between services: <a href="{}">see them</a>.',
                    len(found),
                    reverse("admin:federation_peer_conflicts"),
                ),
                messages.ERROR,
            )
        return super().changelist_view(request, extra_context)

    def conflicts_view(self, request: HttpRequest) -> HttpResponse:
        """Every pair of overlapping claims by two services, with both claims."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Conflicting claims",
            "opts": self.model._meta,
            "conflicts": conflicts(),
        }
        return TemplateResponse(request, "admin/federation/conflicts.html", context)
