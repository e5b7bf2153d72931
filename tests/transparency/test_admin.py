"""Operators see the log in the admin and cannot change it there."""

from __future__ import annotations

import pytest

from tests.transparency.logdata import append_entries
from transparency.models import Checkpoint, Entry

pytestmark = pytest.mark.django_db


def test_entries_and_checkpoints_are_listed_read_only(admin_client):
    append_entries(3)
    entries = admin_client.get("/admin/transparency/entry/")
    assert entries.status_code == 200 and b'field-kind">test<' in entries.content
    first = Entry.objects.order_by("id").first()
    assert first is not None
    detail = admin_client.get(f"/admin/transparency/entry/{first.pk}/change/")
    assert detail.status_code == 200
    assert b"&quot;kind&quot;:&quot;test&quot;" in detail.content
    assert b"View entry" in detail.content  # Django's read-only page: no save button
    assert admin_client.post("/admin/transparency/entry/1/change/", {}).status_code == 403
    assert admin_client.get("/admin/transparency/checkpoint/").status_code == 200
    assert admin_client.get("/admin/transparency/entry/add/").status_code == 403
    deleted = admin_client.post("/admin/transparency/entry/1/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert Entry.objects.count() == 3 and Checkpoint.objects.latest().size == 3
