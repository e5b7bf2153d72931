"""Key creation is capped (live keys per provider) and rate-limited (keys created per provider):
one leaked admin key cannot mint keys without end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from providers.choices import Scope
from providers.models import ApiKey
from providers.problems import ApiKeyLimitReached
from providers.services import api_key_create, api_key_revoke
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _create(client: Any, label: str = "more") -> Any:
    return client.post("/v1/keys", {"label": label, "scope": "lookup"}, format="json")


def test_a_provider_holds_at_most_the_configured_live_keys(api_client, provider, settings):
    settings.RS_API_KEY_MAX_PER_PROVIDER = 3
    settings.RS_API_KEY_CREATE_RATE = "100/hour"
    assert _create(api_client).status_code == 201
    assert _create(api_client).status_code == 201  # the admin key and two: three live keys
    before = ApiKey.objects.count()
    body = assert_problem(_create(api_client), 409, "api-key-limit-reached")
    assert "revoke one" in body["detail"]
    assert ApiKey.objects.count() == before
    # A revoked key frees its place.
    api_key_revoke(api_key=provider.api_keys.filter(label="more").first())
    assert _create(api_client).status_code == 201


def test_the_cap_holds_for_operators_too(provider, settings):
    settings.RS_API_KEY_MAX_PER_PROVIDER = 1
    api_key_create(provider=provider)
    with pytest.raises(ApiKeyLimitReached):
        api_key_create(provider=provider)
    with pytest.raises(CommandError, match="revoke one"):
        call_command("apikey_create", provider.slug, "--scope", "lookup")


def test_key_creation_is_rate_limited_per_provider(api_client, client_for, provider, settings):
    settings.RS_API_KEY_MAX_PER_PROVIDER = 100
    settings.RS_API_KEY_CREATE_RATE = "3/hour"
    with time_machine.travel(timezone.now(), tick=False):
        # The admin key itself was made by the operator, outside the rate, but counts in it.
        assert _create(api_client).status_code == 201
        assert _create(api_client).status_code == 201
        before = ApiKey.objects.count()
        refused = _create(api_client)
        body = assert_problem(refused, 429, "api-key-rate-limited")
        assert 3500 < body["retry_after"] <= 3600
        assert refused["Retry-After"] == str(body["retry_after"])
        assert ApiKey.objects.count() == before
        # Revoking what it made gives a leaked key no new allowance.
        for api_key in provider.api_keys.filter(label="more"):
            api_key_revoke(api_key=api_key)
        assert_problem(_create(api_client), 429, "api-key-rate-limited")
        # Another provider has its own allowance.
        other = client_for(api_key_create(provider=ProviderFactory()).secret)
        assert _create(other).status_code == 201
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1), tick=False):
        assert _create(api_client).status_code == 201


def test_limits_never_stop_an_operator_issuing_keys_under_the_cap(provider, settings):
    settings.RS_API_KEY_CREATE_RATE = "1/hour"
    for _ in range(3):
        api_key_create(provider=provider, scope=Scope.LOOKUP)
    assert provider.api_keys.count() == 3
