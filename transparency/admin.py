"""Read-only admin views of the log: nothing here can change it (nor could the database)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from core.encoding import b64
from transparency.models import Checkpoint, Entry


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Entry]):
    list_display = ("id", "index", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("=index", "=id")
    fields = ("id", "index", "kind", "created_at", "entry", "leaf_hash_b64")
    show_full_result_count = False  # counting a large log is slow; the index says it

    @admin.display(description="entry")
    def entry(self, obj: Entry) -> str:
        return bytes(obj.data).decode()

    @admin.display(description="leaf hash")
    def leaf_hash_b64(self, obj: Entry) -> str:
        return b64(bytes(obj.leaf_hash))


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Checkpoint]):
    list_display = ("size", "root_hash_b64", "created_at")
    fields = ("size", "root_hash_b64", "created_at", "note")
    show_full_result_count = False

    @admin.display(description="root hash")
    def root_hash_b64(self, obj: Checkpoint) -> str:
        return b64(bytes(obj.root_hash))
