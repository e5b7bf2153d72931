"""Inviting, as an app does it over HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any

from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.ca.flow import Holder

INVITED = "+33698765432"  # a French mobile number no app has registered
INVITED_2 = "+33698765433"
SERVICE = "messaging"


def invite_token(holder: Holder, to: str = INVITED, service: str = SERVICE, **claims: Any) -> str:
    """The holder's JWS inviting ``to`` (a fresh iat and jti unless given; None drops one)."""
    payload: dict[str, Any] = {
        "to": to,
        "service": service,
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    key = payload.pop("key", holder.key)
    kid = payload.pop("kid", holder.serial)
    return jws_sign({"alg": "ES256", "kid": kid}, canonical_json(payload), key)


def invite(client: Any, holder: Holder, to: str = INVITED, **claims: Any) -> Any:
    """``POST /v1/invitations``: the response."""
    return client.post(
        "/v1/invitations", invite_token(holder, to, **claims), content_type="application/jose"
    )


def invited(client: Any, holder: Holder, to: str = INVITED, **claims: Any) -> dict[str, Any]:
    response = invite(client, holder, to, **claims)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body
