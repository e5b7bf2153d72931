"""API-key authentication and key management, through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from providers.models import ApiKey, api_key_hash
from providers.services import api_key_create, api_key_revoke
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_valid_key_identifies_its_provider(api_client, provider, issued_key):
    response = api_client.get("/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "provider": provider.slug,
        "name": provider.name,
        "key_prefix": issued_key.api_key.prefix,
        "scope": "admin",
    }


def test_keys_are_random_and_stored_only_as_hash(provider):
    first = api_key_create(provider=provider)
    second = api_key_create(provider=provider)
    assert first.secret != second.secret
    assert first.secret.startswith("rs_") and len(first.secret) >= 3 + 43  # 32 bytes, base64url
    stored = ApiKey.objects.get(pk=first.api_key.pk)
    assert bytes(stored.key_hash) == api_key_hash(first.secret)
    assert first.secret not in repr(stored.__dict__)
    assert first.secret.startswith(stored.prefix) and len(stored.prefix) < 16


def test_missing_key_is_401(anonymous_client):
    response = anonymous_client.get("/v1/me")
    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer rs_unknownkeyunknownkeyunknownkeyunknownkey",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer " + "x" * 500,
        "Bearer rs_ключ",
    ],
)
def test_unknown_or_malformed_key_is_401(anonymous_client, db, header):
    response = anonymous_client.get("/v1/me", HTTP_AUTHORIZATION=header)
    assert_problem(response, 401, "invalid-credentials")


def test_revoked_key_is_401(client_for, issued_key):
    api_key_revoke(api_key=issued_key.api_key)
    assert_problem(client_for(issued_key.secret).get("/v1/me"), 401, "invalid-credentials")


def test_inactive_provider_key_is_401(client_for, provider, issued_key):
    provider.is_active = False
    provider.save()
    assert_problem(client_for(issued_key.secret).get("/v1/me"), 401, "invalid-credentials")


def test_last_used_is_recorded_at_most_once_a_minute(
    api_client, issued_key, django_assert_num_queries, settings
):
    settings.RS_API_KEY_CACHE_SECONDS = 0
    with (
        time_machine.travel(timezone.now(), tick=False),
        django_assert_num_queries(2),  # the key lookup, then the last_used UPDATE
    ):
        api_client.get("/v1/me")
    first = ApiKey.objects.get(pk=issued_key.api_key.pk).last_used_at
    assert first is not None
    with (
        time_machine.travel(first + timedelta(seconds=30), tick=False),
        django_assert_num_queries(1),  # the key lookup only
    ):
        api_client.get("/v1/me")
    with time_machine.travel(first + timedelta(seconds=90), tick=False):
        api_client.get("/v1/me")
    assert ApiKey.objects.get(pk=issued_key.api_key.pk).last_used_at == first + timedelta(
        seconds=90
    )


class Clock:
    """Stands in for time.monotonic in directory.selectors (time_machine leaves it alone)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("providers.selectors.time.monotonic", clock)
    return clock


def test_live_key_is_remembered_for_the_cache_lifetime(
    api_client, issued_key, clock, settings, django_assert_num_queries
):
    settings.RS_API_KEY_CACHE_SECONDS = 5
    assert api_client.get("/v1/me").status_code == 200
    # Revoked by another process: no signal reaches this one, which trusts the key a while.
    ApiKey.objects.filter(pk=issued_key.api_key.pk).update(revoked_at=timezone.now())
    clock.now += 4.9
    with django_assert_num_queries(0):
        assert api_client.get("/v1/me").status_code == 200
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert_problem(api_client.get("/v1/me"), 401, "invalid-credentials")


def test_revoking_or_deactivating_here_takes_effect_at_once(client_for, provider, settings, clock):
    settings.RS_API_KEY_CACHE_SECONDS = 60
    first, second = api_key_create(provider=provider), api_key_create(provider=provider)
    assert client_for(first.secret).get("/v1/me").status_code == 200
    assert client_for(second.secret).get("/v1/me").status_code == 200
    api_key_revoke(api_key=first.api_key)
    assert_problem(client_for(first.secret).get("/v1/me"), 401, "invalid-credentials")
    assert client_for(second.secret).get("/v1/me").status_code == 200
    provider.is_active = False
    provider.save()  # the admin does this
    assert_problem(client_for(second.secret).get("/v1/me"), 401, "invalid-credentials")


def test_unknown_keys_are_never_remembered(client_for, settings, django_assert_num_queries):
    settings.RS_API_KEY_CACHE_SECONDS = 60
    for _ in range(2):
        with django_assert_num_queries(1):
            assert_problem(client_for("rs_" + "x" * 43).get("/v1/me"), 401, "invalid-credentials")


def test_provider_rotates_its_keys(api_client, client_for, issued_key):
    created = api_client.post("/v1/keys", {"label": "rotated", "scope": "admin"}, format="json")
    assert created.status_code == 201
    new_secret = created.json()["key"]
    assert client_for(new_secret).get("/v1/me").status_code == 200

    listed = api_client.get("/v1/keys").json()
    assert [key["label"] for key in listed] == ["rotated", "test"]
    assert all("key" not in key for key in listed)

    revoked = client_for(new_secret).post(f"/v1/keys/{issued_key.api_key.prefix}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_problem(api_client.get("/v1/me"), 401, "invalid-credentials")


def test_a_provider_cannot_touch_another_providers_keys(api_client):
    other = api_key_create(provider=ProviderFactory())
    response = api_client.post(f"/v1/keys/{other.api_key.prefix}/revoke")
    assert_problem(response, 404, "not-found")
    assert ApiKey.objects.get(pk=other.api_key.pk).revoked_at is None


def test_invalid_label_is_a_field_error_and_creates_nothing(api_client, provider):
    before = ApiKey.objects.count()
    response = api_client.post("/v1/keys", {"label": "x" * 101}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert body["errors"][0]["pointer"] == "#/label"
    assert ApiKey.objects.count() == before


def test_provider_create_command_prints_a_working_key(client_for, db, capsys):
    from django.core.management import call_command

    call_command("provider_create", "acme-chat", "--name", "Acme Chat")
    secret = capsys.readouterr().out.strip()
    assert client_for(secret).get("/v1/me").json()["provider"] == "acme-chat"


def test_provider_create_twice_fails_unless_exists_ok(client_for, db, capsys):
    from django.core.management import CommandError, call_command

    call_command("provider_create", "acme-chat", "--name", "Acme Chat")
    first = capsys.readouterr().out.strip()
    with pytest.raises(CommandError):
        call_command("provider_create", "acme-chat", "--name", "Acme Chat")

    call_command("provider_create", "acme-chat", "--name", "Acme Chat", "--exists-ok")

    second = capsys.readouterr().out.strip()
    assert second != first
    assert client_for(second).get("/v1/me").json()["provider"] == "acme-chat"
    assert client_for(first).get("/v1/me").status_code == 200  # the first key still works
