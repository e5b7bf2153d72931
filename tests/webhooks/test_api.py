"""The webhooks API: a provider registers, lists, reads, rotates and deletes its own endpoints,
and reads their delivery history; bad input changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from providers.choices import Scope
from providers.services import api_key_create
from resolution.protocol.webhooks import secret_parse
from tests.factories import ProviderFactory
from tests.problems import assert_problem
from tests.webhooks.receiver import Receiver
from webhooks.models import Endpoint
from webhooks.seals import secret_open

pytestmark = pytest.mark.django_db


def _created(client: Any, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", {"url": url, **fields}, format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_a_provider_registers_an_endpoint_and_sees_its_secret_once(
    api_client: Any, receiver: Receiver, provider: Any
) -> None:
    body = _created(api_client, receiver.url(), description="calls backend")

    assert body["url"] == receiver.url() and body["description"] == "calls backend"
    assert body["is_active"] is True and body["secret_rotated_at"] is None
    assert body["secret"].startswith("whsec_") and len(secret_parse(body["secret"])) == 32
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.provider == provider
    # Stored sealed, never in clear.
    assert body["secret"] not in endpoint.secret_sealed
    assert secret_open(endpoint.pk, endpoint.secret_sealed) == body["secret"]
    # Never shown again.
    listed = api_client.get("/v1/webhooks").json()
    assert [item["id"] for item in listed] == [body["id"]] and "secret" not in listed[0]
    one = api_client.get(f"/v1/webhooks/{body['id']}").json()
    assert one == {name: value for name, value in body.items() if name != "secret"}


def test_rotating_gives_a_new_secret(api_client: Any, receiver: Receiver) -> None:
    body = _created(api_client, receiver.url())

    response = api_client.post(f"/v1/webhooks/{body['id']}/secret")

    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["secret"] != body["secret"] and rotated["secret_rotated_at"]
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert secret_open(endpoint.pk, endpoint.secret_sealed) == rotated["secret"]
    assert secret_open(endpoint.pk, endpoint.previous_secret_sealed) == body["secret"]


def test_deleting_forgets_the_endpoint_and_its_secrets(api_client: Any, receiver: Receiver) -> None:
    body = _created(api_client, receiver.url())

    assert api_client.delete(f"/v1/webhooks/{body['id']}").status_code == 204

    assert api_client.get("/v1/webhooks").json() == []
    assert_problem(api_client.get(f"/v1/webhooks/{body['id']}"), 404, "not-found")
    assert_problem(api_client.delete(f"/v1/webhooks/{body['id']}"), 404, "not-found")
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.deleted_at and not endpoint.is_active
    assert endpoint.secret_sealed == endpoint.previous_secret_sealed == ""


def test_another_providers_endpoint_is_not_found(
    api_client: Any, client_for: Any, receiver: Receiver
) -> None:
    body = _created(api_client, receiver.url())
    other = client_for(api_key_create(provider=ProviderFactory(), scope=Scope.DIRECTORY).secret)

    assert other.get("/v1/webhooks").json() == []
    for method, path in [
        ("get", ""),
        ("delete", ""),
        ("post", "/secret"),
        ("get", "/deliveries"),
    ]:
        response = getattr(other, method)(f"/v1/webhooks/{body['id']}{path}")
        assert_problem(response, 404, "not-found")
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.deleted_at is None and endpoint.secret_rotated_at is None
    assert assert_problem(other.get(f"/v1/webhooks/{uuid.uuid4()}"), 404, "not-found")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://localhost/hook", "https only"),
        ("ftp://hooks.example.org/hook", "https only"),
        ("https://user:secret@localhost/hook", "user name or password"),
        ("https://127.0.0.1/hook", "not an IP address"),
        ("https://[::1]/hook", "not an IP address"),
        ("https://10.0.0.1/hook", "not an IP address"),
        ("https://localhost/hook", "not public"),  # loopback, not permitted here
        ("https://no-such-host.invalid/hook", "does not resolve"),
        ("https://hooks.example.org\\@x/hook", "printable ASCII"),
    ],
)
def test_a_url_webhooks_are_not_sent_to_is_refused_and_nothing_changes(
    api_client: Any, url: str, said: str
) -> None:
    response = api_client.post("/v1/webhooks", {"url": url}, format="json")

    body = assert_problem(response, 400, "webhook-url-refused")
    assert said in body["detail"]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{}, {"url": ""}, {"url": "https://x.example/" + "a" * 2000}, {"url": ["x"]}],
)
def test_invalid_fields_are_refused_and_nothing_changes(api_client: Any, payload: Any) -> None:
    body = assert_problem(
        api_client.post("/v1/webhooks", payload, format="json"), 400, "validation-error"
    )

    assert body["errors"][0]["pointer"] == "#/url"
    assert not Endpoint.objects.exists()


def test_a_provider_has_at_most_so_many_endpoints(
    api_client: Any, receiver: Receiver, settings: Any
) -> None:
    settings.RS_WEBHOOK_MAX_PER_PROVIDER = 2
    first = _created(api_client, receiver.url("/a"))
    _created(api_client, receiver.url("/b"))

    assert_problem(
        api_client.post("/v1/webhooks", {"url": receiver.url("/c")}, format="json"),
        409,
        "webhook-limit-reached",
    )
    assert Endpoint.objects.count() == 2
    api_client.delete(f"/v1/webhooks/{first['id']}")  # a deleted one leaves room
    _created(api_client, receiver.url("/c"))


def test_a_lookup_key_manages_no_webhooks(client_for: Any, provider: Any) -> None:
    lookup = client_for(api_key_create(provider=provider, scope=Scope.LOOKUP).secret)

    assert_problem(lookup.get("/v1/webhooks"), 403, "scope-insufficient")
    assert_problem(
        lookup.post("/v1/webhooks", {"url": "https://x.example/"}, format="json"),
        403,
        "scope-insufficient",
    )


def test_no_key_no_webhooks(anonymous_client: Any) -> None:
    assert_problem(anonymous_client.get("/v1/webhooks"), 401, "unauthenticated")
