"""Operators' view of the outbox: what is waiting, what was sent, what was given up and why.

The payload is never shown: it holds sealed secrets (a challenge's code). "Retry now" goes
through ``outbox.services.messages_retry``, as any retry does.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from outbox.models import Message
from outbox.services import messages_retry


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Message]):
    list_display = (
        "id",
        "kind",
        "reference",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    )
    list_filter = ("state", "kind")
    search_fields = ("=reference",)
    date_hierarchy = "created_at"
    # payload is deliberately absent.
    fields = (
        "id",
        "kind",
        "reference",
        "state",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "deadline",
        "last_error",
        "receipt",
        "created_at",
        "updated_at",
        "sent_at",
    )
    actions = ["retry_now"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("outbox.change_message"))

    @admin.action(description="Retry now (dead or waiting messages)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        count = messages_retry(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} message(s) due now.", messages.SUCCESS)
        if skipped := queryset.count() - count:
            self.message_user(request, f"Skipped {skipped} sent or being sent.", messages.WARNING)
