"""API-key scopes: each key may do what its scope allows, on every endpoint, and no more."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from providers.authentication import ApiKeyAuthentication
from providers.choices import Scope
from providers.models import ApiKey
from providers.permissions import ScopeRequired
from providers.problems import ScopeInsufficient
from providers.services import api_key_create, api_key_revoke
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

SCOPES = [Scope.LOOKUP, Scope.DIRECTORY, Scope.ADMIN]

# A value for each path parameter of the API: the scope is checked before any of them is read.
PATH_VALUES = {
    "number": "+33612345678",
    "service": "messaging",
    "challenge_id": str(uuid.uuid4()),
    "request_id": str(uuid.uuid4()),
    "dispute_id": str(uuid.uuid4()),
    "endpoint_id": str(uuid.uuid4()),
    "invitation_id": str(uuid.uuid4()),
    "serial": "0" * 32,
    "prefix": "rs_unknown",
}


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


def _key_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the schema that takes an API key: (method, path, operation)."""
    return [
        (method.upper(), path, operation)
        for path, item in _schema()["paths"].items()
        for method, operation in item.items()
        if any("ApiKey" in requirement for requirement in operation.get("security", []))
    ]


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match[1]], path)


@pytest.fixture
def key_of(provider: Any, client_for: Any) -> Any:
    """``key_of(scope)``: an API client with a new key of that scope."""

    def make(scope: Scope) -> Any:
        return client_for(api_key_create(provider=provider, scope=scope).secret)

    return make


def _views(patterns: list[Any]) -> Iterator[type[APIView]]:
    """The DRF view class of every URL pattern, walking included URL confs."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        elif isinstance(view := getattr(pattern.callback, "cls", None), type) and issubclass(
            view, APIView
        ):
            yield view


def test_every_view_taking_an_api_key_declares_its_scope() -> None:
    # A new endpoint cannot forget: each view that authenticates with an API key names, on
    # itself or its base, the one scope it needs (the default, AdminScope, is a safety net).
    checked = set()
    for view in _views(get_resolver().url_patterns):
        if not any(issubclass(kind, ApiKeyAuthentication) for kind in view.authentication_classes):
            continue
        declared_by = next(base for base in view.__mro__ if "permission_classes" in vars(base))
        assert declared_by is not APIView, f"{view.__name__} does not declare its scope"
        if view.permission_classes == [AllowAny]:
            continue  # public, said so on purpose (the schema and its documentation pages)
        scopes = [
            kind
            for kind in view.permission_classes
            if isinstance(kind, type) and issubclass(kind, ScopeRequired)
        ]
        assert len(scopes) == 1, f"{view.__name__} must declare exactly one scope"
        checked.add(view.__name__)
    assert {"CallerApi", "ApiKeysApi", "NumberApi", "HandlerApi", "PassportVerifyApi"} <= checked


def test_every_authenticated_operation_says_its_scope_and_its_403() -> None:
    operations = _key_operations()
    assert len(operations) >= 15
    for method, path, operation in operations:
        assert operation.get("x-required-scope") in Scope.values, f"{method} {path}"
        assert "403" in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize("scope", SCOPES)
def test_every_authenticated_operation_enforces_its_scope(key_of, scope) -> None:
    client = key_of(scope)
    for method, path, operation in _key_operations():
        required = Scope(operation["x-required-scope"])
        response = client.generic(method, _url(path), "", content_type="application/json")
        refused = response.status_code == 403 and response.json()["type"].endswith(
            "/problems/scope-insufficient"
        )
        assert refused == (not scope.includes(required)), (method, path, response.content)


def test_scopes_include_those_below() -> None:
    assert Scope.ADMIN.includes(Scope.DIRECTORY) and Scope.ADMIN.includes(Scope.LOOKUP)
    assert Scope.DIRECTORY.includes(Scope.LOOKUP) and not Scope.DIRECTORY.includes(Scope.ADMIN)
    assert not Scope.LOOKUP.includes(Scope.DIRECTORY)


def test_me_shows_the_keys_scope(key_of) -> None:
    for scope in SCOPES:
        assert key_of(scope).get("/v1/me").json()["scope"] == scope


def test_a_lookup_key_cannot_create_keys(key_of, provider) -> None:
    client = key_of(Scope.LOOKUP)
    before = ApiKey.objects.count()
    response = client.post("/v1/keys", {"label": "ci", "scope": "lookup"}, format="json")
    body = assert_problem(response, 403, "scope-insufficient")
    assert body["required_scope"] == "admin"
    assert ApiKey.objects.count() == before


def test_a_directory_key_cannot_revoke_the_admin_key(key_of, provider) -> None:
    admin = api_key_create(provider=provider, scope=Scope.ADMIN)
    response = key_of(Scope.DIRECTORY).post(f"/v1/keys/{admin.api_key.prefix}/revoke")
    assert_problem(response, 403, "scope-insufficient")
    assert ApiKey.objects.get(pk=admin.api_key.pk).revoked_at is None


def test_a_directory_key_cannot_list_keys(key_of) -> None:
    assert_problem(key_of(Scope.DIRECTORY).get("/v1/keys"), 403, "scope-insufficient")


def test_a_lookup_key_cannot_start_a_challenge(key_of, sms_outbox) -> None:
    response = key_of(Scope.LOOKUP).post(
        "/v1/challenges", {"number": "+33612345678"}, format="json"
    )
    assert_problem(response, 403, "scope-insufficient")
    assert sms_outbox == []


@pytest.mark.parametrize("scope", SCOPES)
def test_an_admin_key_creates_keys_of_any_scope(key_of, client_for, scope) -> None:
    created = key_of(Scope.ADMIN).post("/v1/keys", {"label": "x", "scope": scope}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["scope"] == scope
    assert client_for(created.json()["key"]).get("/v1/me").json()["scope"] == scope


@pytest.mark.parametrize("scope", [None, "", "root", "ADMIN", ["admin"]])
def test_a_key_is_created_with_a_known_scope_or_not_at_all(key_of, scope) -> None:
    client = key_of(Scope.ADMIN)
    before = ApiKey.objects.count()
    data = {"label": "x"} if scope is None else {"label": "x", "scope": scope}
    body = assert_problem(client.post("/v1/keys", data, format="json"), 400, "validation-error")
    assert body["errors"][0]["pointer"] == "#/scope"
    assert ApiKey.objects.count() == before


def test_the_key_list_shows_each_keys_scope(key_of, provider) -> None:
    client = key_of(Scope.ADMIN)
    api_key_create(provider=provider, scope=Scope.LOOKUP, label="reader")
    listed = {key["label"]: key["scope"] for key in client.get("/v1/keys").json()}
    assert listed["reader"] == "lookup"


@pytest.mark.parametrize(
    ("held", "asked"),
    [
        (Scope.LOOKUP, Scope.LOOKUP),
        (Scope.LOOKUP, Scope.DIRECTORY),
        (Scope.DIRECTORY, Scope.DIRECTORY),
        (Scope.DIRECTORY, Scope.ADMIN),
    ],
)
def test_a_key_never_grants_more_than_it_has(provider, held, asked) -> None:
    # Only admin keys manage keys, and none can grant a scope it does not include: the service
    # says so whoever calls it, not only the API's permission.
    granter = api_key_create(provider=provider, scope=held).api_key
    before = ApiKey.objects.count()
    with pytest.raises(ScopeInsufficient):
        api_key_create(provider=provider, scope=asked, granted_by=granter)
    assert ApiKey.objects.count() == before


def test_a_revoked_scope_cannot_be_used_to_grant(provider) -> None:
    granter = api_key_create(provider=provider, scope=Scope.ADMIN).api_key
    api_key_revoke(api_key=granter)
    with pytest.raises(ScopeInsufficient):
        api_key_create(provider=provider, scope=Scope.LOOKUP, granted_by=granter)


def test_provider_create_prints_an_admin_key(client_for, capsys) -> None:
    call_command("provider_create", "acme-chat", "--name", "Acme Chat")
    secret = capsys.readouterr().out.strip()
    assert client_for(secret).get("/v1/me").json()["scope"] == "admin"


@pytest.mark.parametrize("scope", SCOPES)
def test_apikey_create_issues_the_scope_asked(client_for, provider, capsys, scope) -> None:
    call_command("apikey_create", provider.slug, "--scope", scope)
    secret = capsys.readouterr().out.strip()
    assert client_for(secret).get("/v1/me").json()["scope"] == scope
