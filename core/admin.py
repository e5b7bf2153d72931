"""What the apps' admins share: a read-only view of records that only services change."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Shows records, never adds, edits or deletes them: they change only through services
    (an admin action, where an operator may ask for a change, calls one).

    Without the change permission, the admin shows every field of the page read only.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
