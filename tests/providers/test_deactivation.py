"""Deactivating a provider (``providers.services.provider_update``, which the admin calls): its
keys are refused, its handlers leave every lookup (tests/directory/test_lookup.py), its
certificates are suspended (tests/ca/test_passports.py), and its certificates authorise no
handler change; reactivating it restores all of it, nothing re-issued."""

from __future__ import annotations

from typing import Any

import pytest

from directory.models import Handler
from providers.models import Provider
from providers.services import provider_update
from tests.ca.flow import certificate_issued
from tests.directory.flow import publish_token, put
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_a_deactivated_providers_certificate_authorises_no_handler_change(
    api_client: Any, provider: Any, settings: Any
) -> None:
    holder = certificate_issued(provider)
    # Another process sees its key for RS_API_KEY_CACHE_SECONDS after the deactivation: the
    # certificate itself must be refused.
    settings.RS_API_KEY_CACHE_SECONDS = 3600
    assert api_client.get("/v1/me").status_code == 200  # the key is remembered here
    Provider.objects.filter(pk=provider.pk).update(is_active=False)  # as another process did

    body = assert_problem(
        put(api_client, publish_token(holder)), 403, "signing-certificate-not-valid"
    )
    assert "suspended" in body["detail"]
    assert not Handler.objects.exists()

    provider_update(provider=provider, name=provider.name, is_active=True)
    assert put(api_client, publish_token(holder)).status_code == 201


def test_the_admin_deactivates_and_reactivates_through_the_service(
    admin_client: Any, api_client: Any, provider: Any
) -> None:
    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "deactivate", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert b"Deactivated 1 provider(s)" in response.content
    provider.refresh_from_db()
    assert not provider.is_active
    assert api_client.get("/v1/me").status_code == 401

    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "reactivate", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert b"Reactivated 1 provider(s)" in response.content
    provider.refresh_from_db()
    assert provider.is_active
    assert api_client.get("/v1/me").status_code == 200
