"""Operators find handlers by number in the admin, with their log entries; they cannot edit."""

from __future__ import annotations

from typing import Any

import pytest

from directory.models import Handler
from tests.ca.flow import certificate_issued
from tests.directory.flow import handler_published

pytestmark = pytest.mark.django_db


def test_operators_search_handlers_by_number_and_see_the_log_entry(
    admin_client: Any, provider: Any
) -> None:
    holder = certificate_issued(provider)
    handler_published(provider, holder, uri="sip:alice@chat.example")
    listing = admin_client.get("/admin/directory/handler/", {"q": "+33 6 12 34 56 78"})
    assert listing.status_code == 200
    assert b"sip:alice@chat.example" in listing.content
    assert (
        b"sip:alice@chat.example"
        not in admin_client.get("/admin/directory/handler/", {"q": "+33 6 98 76 54 32"}).content
    )
    handler = Handler.objects.get()
    page = admin_client.get(f"/admin/directory/handler/{handler.pk}/change/")
    assert page.status_code == 200
    assert str(handler.log_entry).encode() in page.content  # "#N handler", once sequenced
    assert b"&quot;kind&quot;:&quot;handler&quot;" in page.content
    assert bytes(handler.opening).hex().encode() not in page.content
    assert admin_client.post(f"/admin/directory/handler/{handler.pk}/delete/").status_code == 403
