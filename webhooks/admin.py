"""Operators' views of webhook endpoints and their deliveries. Secrets are never shown, nor an
event's body (it names the number).

Endpoints are registered by their providers (the API), never here; an operator deactivates one
(it is sent nothing more, its pending deliveries fail) or activates it again, through
``webhooks.services``. Deliveries are read only: the outbox's admin retries a message.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_activate


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Endpoint]):
    list_display = ("url", "provider", "description", "is_active", "created_at", "deleted_at")
    list_filter = ("is_active", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("=provider__slug", "url")
    list_select_related = ("provider",)
    # The sealed secrets are deliberately absent.
    fields = (
        "id",
        "provider",
        "url",
        "description",
        "is_active",
        "created_at",
        "secret_rotated_at",
        "deleted_at",
    )
    actions = ["deactivate", "activate"]

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("webhooks.change_endpoint"))

    @admin.action(
        description="Deactivate selected endpoints (sent nothing)", permissions=["activate"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._activate(request, queryset, is_active=False)

    @admin.action(description="Activate selected endpoints again", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._activate(request, queryset, is_active=True)

    def _activate(
        self, request: HttpRequest, queryset: QuerySet[Endpoint], *, is_active: bool
    ) -> None:
        actor = f"admin:{request.user.get_username()}"
        count = sum(
            endpoint_activate(endpoint=endpoint, is_active=is_active, actor=actor)
            for endpoint in queryset
        )
        done = "Activated" if is_active else "Deactivated"
        self.message_user(request, f"{done} {count} endpoint(s).", messages.SUCCESS)


# Where a delivery stands, in the list and on its page.
_OUTCOME = ("state", "attempts", "last_status", "last_error", "next_attempt_at")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Delivery]):
    list_display = ("event_id", "event_type", "endpoint", *_OUTCOME, "created_at", "delivered_at")
    list_filter = ("state", "event__type")
    search_fields = ("=event__id", "=endpoint__provider__slug")
    list_select_related = ("event", "endpoint__provider")
    date_hierarchy = "created_at"
    # The event's body (it names the number) is deliberately absent.
    fields = (
        "event",
        "event_type",
        "endpoint",
        *_OUTCOME,
        "created_at",
        "last_attempt_at",
        "delivered_at",
        "updated_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).defer("event__body")

    @admin.display(description="type", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type
