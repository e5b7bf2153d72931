"""Apps with a webhook endpoint each, on one local receiver: what arrives at an app's path is
what that app was sent, and every delivery read is verified with the app's secret."""

from __future__ import annotations

from typing import Any

from providers.services import api_key_create
from tests.factories import ProviderFactory
from tests.webhooks.receiver import Receiver


def webhook_app(client_for: Any, receiver: Receiver, name: str) -> Any:
    """A new provider's API client with an endpoint at ``/<name>`` (its secret as
    ``.secret``, its path as ``.path``)."""
    provider = ProviderFactory(slug=name)
    client = client_for(api_key_create(provider=provider, label="app").secret)
    client.provider, client.path = provider, f"/{name}"
    response = client.post("/v1/webhooks", {"url": receiver.url(client.path)}, format="json")
    assert response.status_code == 201, response.content
    client.secret, client.endpoint = response.json()["secret"], response.json()["id"]
    return client


def told(receiver: Receiver, app: Any, **verify: Any) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event ``app`` was sent, each verified with its secret (raises if
    one is not signed with it, or is stale: pass ``now`` when the clock was moved)."""
    return [(event.type, event.data) for event in receiver.events(app.path, app.secret, **verify)]
