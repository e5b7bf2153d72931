"""Operators' views of federation: this service's advertisements (read only: beat signs them)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from federation.models import Advertisement


@admin.register(Advertisement)
class AdvertisementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Advertisement]):
    list_display = ("issued_at", "ranges", "url", "certificate_serial", "entry")
    fields = ("issued_at", "ranges", "url", "certificate_serial", "entry", "token", "created_at")
    date_hierarchy = "issued_at"
