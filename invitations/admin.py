"""The admin of invitations: read only (they change through services), and the do-not-invite
list shown as digests: the admin never holds a number it does not already show elsewhere."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from invitations.models import DoNotInvite, Invitation, RefusalCount


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Invitation]):
    list_display = (
        "id",
        "provider",
        "service",
        "region",
        "status",
        "sms_status",
        "created_at",
        "expires_at",
    )
    list_filter = ("status", "sms_status", "service", "region", "provider")
    search_fields = ("=id", "=number", "=inviter", "=message_id")
    date_hierarchy = "created_at"
    # The link's code is left out: whoever holds it reads the page, the inviter's number on it.
    fields = (
        "id",
        "provider",
        "certificate",
        "inviter",
        "number",
        "region",
        "calling_code",
        "service",
        "status",
        "created_at",
        "expires_at",
        "accepted_at",
        "log_entry",
        "handler_log_entry",
        "sms_status",
        "sms_attempts",
        "sms_error",
        "message_id",
    )


@admin.register(DoNotInvite)
class DoNotInviteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[DoNotInvite]):
    list_display = ("__str__", "source", "created_at")
    list_filter = ("source",)
    date_hierarchy = "created_at"
    fields = ("source", "created_at")


@admin.register(RefusalCount)
class RefusalCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RefusalCount]):
    list_display = ("hour", "reason", "count")
    list_filter = ("reason",)
    date_hierarchy = "hour"
