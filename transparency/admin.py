"""Read-only admin views of the log: nothing here can change it (nor could the database)."""

from __future__ import annotations

import base64

from django.contrib import admin
from django.http import HttpRequest

from transparency.models import Checkpoint, Entry


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(_ReadOnly):
    list_display = ("index", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("=index",)
    fields = ("index", "kind", "created_at", "entry", "leaf_hash_b64")
    readonly_fields = fields
    show_full_result_count = False  # counting a large log is slow; the index says it

    @admin.display(description="entry")
    def entry(self, obj: Entry) -> str:
        return bytes(obj.data).decode()

    @admin.display(description="leaf hash")
    def leaf_hash_b64(self, obj: Entry) -> str:
        return base64.b64encode(bytes(obj.leaf_hash)).decode()


@admin.register(Checkpoint)
class CheckpointAdmin(_ReadOnly):
    list_display = ("size", "root_hash_b64", "created_at")
    fields = ("size", "root_hash_b64", "created_at", "note")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="root hash")
    def root_hash_b64(self, obj: Checkpoint) -> str:
        return base64.b64encode(bytes(obj.root_hash)).decode()
