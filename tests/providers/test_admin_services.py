"""The admin changes providers and keys through the same services as the commands and the API."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from providers.models import ApiKey, Provider

pytestmark = pytest.mark.django_db

# The API-key inline's empty formset: the admin's provider form always carries it.
NO_KEYS = {
    "api_keys-TOTAL_FORMS": "0",
    "api_keys-INITIAL_FORMS": "0",
    "api_keys-MIN_NUM_FORMS": "0",
    "api_keys-MAX_NUM_FORMS": "1000",
}


@pytest.fixture
def events(caplog: Any) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What ``providers.services`` has logged so far: structlog's event dicts."""

    def logged() -> list[dict[str, Any]]:
        return [
            record.msg
            for record in caplog.records
            if record.name == "providers.services" and isinstance(record.msg, dict)
        ]

    with caplog.at_level(logging.INFO, logger="providers.services"):
        yield logged


def test_a_provider_added_in_the_admin_is_created_by_the_service(
    admin_client: Any, events: Any
) -> None:
    response = admin_client.post(
        "/admin/providers/provider/add/",
        {"slug": "acme-chat", "name": "Acme Chat", "is_active": "on", **NO_KEYS},
    )

    provider = Provider.objects.get(slug="acme-chat")
    assert response.status_code == 302, response.content
    assert response["Location"] == "/admin/providers/provider/"
    assert [(event["event"], event["provider"]) for event in events()] == [
        ("provider created", "acme-chat")
    ]
    assert provider.name == "Acme Chat" and provider.is_active and provider.created_at


def test_a_slug_that_is_not_one_is_refused(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/providers/provider/add/", {"slug": "Acme Chat!", "name": "Acme", **NO_KEYS}
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"errorlist" in response.content
    assert not Provider.objects.exists()


def test_a_provider_deactivated_in_the_admin_has_its_keys_refused_at_once(
    admin_client: Any, api_client: Any, provider: Any, settings: Any, events: Any
) -> None:
    settings.RS_API_KEY_CACHE_SECONDS = 3600
    assert api_client.get("/v1/me").status_code == 200  # the key is remembered here

    response = admin_client.post(
        f"/admin/providers/provider/{provider.pk}/change/",
        {
            "name": "Renamed",
            "api_keys-TOTAL_FORMS": "1",
            "api_keys-INITIAL_FORMS": "1",
            "api_keys-MIN_NUM_FORMS": "0",
            "api_keys-MAX_NUM_FORMS": "1000",
            "api_keys-0-id": str(provider.api_keys.get().pk),
            "api_keys-0-provider": str(provider.pk),
        },
    )

    assert response.status_code == 302, response.content
    provider.refresh_from_db()
    assert (provider.name, provider.is_active) == ("Renamed", False)
    assert [(event["event"], event["is_active"]) for event in events()] == [
        ("provider updated", False)
    ]
    assert api_client.get("/v1/me").status_code == 401


def test_an_api_key_label_is_changed_by_the_service(admin_client: Any, issued_key: Any) -> None:
    api_key = issued_key.api_key
    response = admin_client.post(
        f"/admin/providers/apikey/{api_key.pk}/change/", {"label": "production"}
    )
    assert response.status_code == 302, response.content
    api_key.refresh_from_db()
    assert api_key.label == "production" and api_key.revoked_at is None


def test_the_revoke_action_revokes_through_the_service(
    admin_client: Any, client_for: Any, issued_key: Any, events: Any
) -> None:
    response = admin_client.post(
        "/admin/providers/apikey/",
        {"action": "revoke", "_selected_action": [issued_key.api_key.pk]},
        follow=True,
    )
    assert b"Revoked 1 key(s)." in response.content
    assert [event["event"] for event in events()] == ["api key revoked"]
    assert client_for(issued_key.secret).get("/v1/me").status_code == 401


def test_an_api_key_issued_in_the_admin_is_shown_once_and_never_kept(
    admin_client: Any, client_for: Any, provider: Provider, caplog: Any
) -> None:
    change = admin_client.get(f"/admin/providers/provider/{provider.pk}/change/")
    url = f"/admin/providers/provider/{provider.pk}/issue-key/"
    assert url.encode() in change.content
    assert admin_client.get(url).status_code == 200

    with caplog.at_level(logging.DEBUG):
        page = admin_client.post(url, {"scope": "lookup", "label": "ci"})
    assert page.status_code == 200
    secret = re.search(rb'id="api-key-secret">(rs_[^<]+)<', page.content)
    assert secret, page.content
    key = secret.group(1).decode()
    assert "no-store" in page["Cache-Control"]
    assert client_for(key).get("/v1/me").json()["scope"] == "lookup"

    # Kept nowhere: not in the database (a hash), the logs, the session, or a page again.
    api_key = ApiKey.objects.get(provider=provider, label="ci")
    assert key not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
    assert key not in caplog.text
    assert all(key not in str(value) for value in admin_client.session.values())
    assert key.encode() not in admin_client.get(url).content
    assert key.encode() not in admin_client.get(change.wsgi_request.path).content
    history = admin_client.get(f"/admin/providers/provider/{provider.pk}/history/")
    assert f"Issued API key {api_key.prefix}".encode() in history.content


def test_a_key_over_the_providers_limit_is_refused_with_the_problem_said(
    admin_client: Any, provider: Provider, issued_key: Any, settings: Any
) -> None:
    settings.RS_API_KEY_MAX_PER_PROVIDER = 1
    url = f"/admin/providers/provider/{provider.pk}/issue-key/"
    page = admin_client.post(url, {"scope": "admin"})
    assert page.status_code == 200
    assert b"as many API keys as it may" in page.content
    assert b"api-key-secret" not in page.content
    assert ApiKey.objects.filter(provider=provider).count() == 1


def test_staff_who_may_only_view_providers_cannot_issue_keys(
    client: Any, provider: Provider
) -> None:
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_provider"))
    client.force_login(viewer)
    url = f"/admin/providers/provider/{provider.pk}/issue-key/"
    assert client.post(url, {"scope": "admin"}).status_code == 403
    assert not ApiKey.objects.filter(provider=provider).exists()
