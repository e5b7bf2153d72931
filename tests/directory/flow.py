"""Publishing and looking up handlers: over HTTP as an app does it, for the tests of that API;
through the directory's services (:func:`handler_published`) where a test only needs them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from rest_framework.test import APIClient

from directory.services import HandlerChange, handler_put
from providers.models import Provider
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import committed
from tests.ca.flow import NUMBER, Holder

JOSE = "application/jose"


def signed(
    holder: Holder, *, key: Any = None, header: dict[str, Any] | None = None, **claims: Any
) -> str:
    """A JWS over ``claims`` (plus a fresh iat and jti unless given; None drops a claim)."""
    payload: dict[str, Any] = {"iat": int(time.time()), "jti": uuid.uuid4().hex}
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jws_sign(
        header or {"alg": "ES256", "kid": holder.serial}, canonical_json(payload), key or holder.key
    )


def publish_token(
    holder: Holder,
    *,
    number: str = NUMBER,
    service: str = "messaging",
    uri: str = "sip:alice@chat.example",
    **claims: Any,
) -> str:
    return signed(holder, number=number, service=service, uri=uri, **claims)


def put(client: APIClient, token: str, *, number: str = NUMBER, service: str = "messaging") -> Any:
    return client.put(f"/v1/numbers/{number}/handlers/{service}", token, content_type=JOSE)


def delete(
    client: APIClient, token: str, *, number: str = NUMBER, service: str = "messaging"
) -> Any:
    return client.delete(f"/v1/numbers/{number}/handlers/{service}", token, content_type=JOSE)


def published(client: APIClient, holder: Holder, **fields: Any) -> dict[str, Any]:
    """Publish a handler; its response body."""
    number = fields.get("number", NUMBER)
    service = fields.get("service", "messaging")
    response = put(client, publish_token(holder, **fields), number=number, service=service)
    assert response.status_code in (200, 201), response.content
    body: dict[str, Any] = response.json()
    return body


def handler_published(provider: Provider, holder: Holder, **fields: Any) -> HandlerChange:
    """Publish a handler through ``directory.services.handler_put``, as the API would."""
    number = fields.get("number", NUMBER)
    service = fields.get("service", "messaging")
    with committed():  # the log integrates the handler's entry after the commit
        return handler_put(
            provider=provider, number=number, service=service, token=publish_token(holder, **fields)
        )


def lookup(client: APIClient, number: str = NUMBER, **query: str) -> dict[str, Any]:
    response = client.get(f"/v1/numbers/{number}", query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body
