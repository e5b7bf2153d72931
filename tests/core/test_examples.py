"""The OpenAPI examples are real answers, and still the shape of what the service answers.

:func:`test_the_examples_are_what_the_service_answers` walks through every operation of the
API as an app developer's first week would (register a number, publish, look up, sign a
PASSporT, lock the number against an intruder, dispute, webhooks, keys, invitations, the log),
through the tests' one client, whose every answer is checked against the schema
(tests/openapi.py). Each request body and each answer it gets is an example: the test compares
them with those ``core/openapi_examples.json`` holds (the same fields, nested alike, of the same
JSON types), and fails on an operation without one. After a change of the API, run it with
``RS_UPDATE_EXAMPLES=1`` to write the file anew from the walk, and read the diff.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from drf_spectacular.generators import SchemaGenerator
from twilio.request_validator import RequestValidator

from ca.sms import locmem
from core.schema_examples import EXAMPLES_PATH, _recorded_text, recorded_examples
from federation.keys import advertisement_keys_bootstrap
from federation.services import advertisement_renew
from providers.services import api_key_create
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from resolution.protocol.passport import passport_sign
from tests.api_client import committed
from tests.ca.flow import Holder, code_sent, csr_pem
from tests.factories import ProviderFactory
from tests.federation.peers import key_dir_own
from tests.webhooks.receiver import receiver  # noqa: F401  # a fixture

pytestmark = pytest.mark.django_db

NUMBER = "+33612345678"
SECOND = "+33612345679"  # the number an intruder gets a certificate for, and is disputed on
INVITED = "+33698765432"
JOSE = "application/jose"
FORM = "application/x-www-form-urlencoded"
TWILIO_TOKEN = "example-auth-token-0123456789abcd"

# Answers no example can show usefully: DER and tile octets, and bodiless answers.
NO_EXAMPLE = {("ca_crl", "200"), ("log_tile", "200"), ("webhooks_delete", "204")}
NO_EXAMPLE |= {("twilio_status", "204")}


def _route_pattern(path: str) -> re.Pattern[str]:
    """A schema path as a regular expression (a tile's ``{path}`` spans segments)."""
    parameter = re.compile(r"\{(\w+)\}")
    return re.compile(
        "^" + parameter.sub(lambda m: ".+" if m[1] == "path" else "[^/]+", path) + "$"
    )


class Walk:
    """Requests through the tests' client, each answer kept as its operation's example."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.routes = [
            (method.upper(), _route_pattern(path), op)
            for path, methods in document["paths"].items()
            for method, op in methods.items()
            if isinstance(op, dict)
        ]
        self.examples: dict[str, Any] = {}

    def operation(self, method: str, path: str) -> str:
        for route_method, pattern, operation in self.routes:
            if route_method == method and pattern.match(path):
                return str(operation["operationId"])
        raise AssertionError(f"{method} {path}: no operation")

    def call(
        self,
        client: Any,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        expect: int,
        **extra: Any,
    ) -> Any:
        """``method path`` with ``body`` (a JSON value, or a string sent as is); its answer,
        which must have status ``expect``."""
        sent = json.dumps(body) if content_type == "application/json" else body
        kwargs: dict[str, Any] = {"content_type": content_type} if body is not None else {}
        with committed():
            response = getattr(client, method.lower())(
                path, *(() if body is None else (sent,)), **kwargs, **extra
            )
        assert response.status_code == expect, (method, path, response.content[:2000])
        operation = self.examples.setdefault(self.operation(method, urlsplit(path).path), {})
        if body is not None:
            operation.setdefault("request", {}).setdefault(content_type, body)
        self._answer(operation, response)
        return response

    def _answer(self, operation: dict[str, Any], response: Any) -> None:
        status = str(response.status_code)
        media = response.get("Content-Type", "").split(";")[0]
        if not response.content:
            return
        if media == "application/problem+json":
            body = response.json()
            slug = body["type"].rpartition("/")[2]
            operation.setdefault("problems", {}).setdefault(status, {}).setdefault(slug, body)
        elif media in ("application/json",):
            operation.setdefault("responses", {}).setdefault(status, {}).setdefault(
                media, response.json()
            )
        elif media.startswith("text/") or media in (
            "application/pem-certificate-chain",
            "application/jose",
        ):
            operation.setdefault("responses", {}).setdefault(status, {}).setdefault(
                media, response.content.decode()
            )


def _signed(key: Any, kid: str, **claims: Any) -> str:
    payload = {"iat": int(time.time()), "jti": uuid.uuid4().hex, **claims}
    return jws_sign({"alg": "ES256", "kid": kid}, canonical_json(payload), key)


def _app(client_for: Any, slug: str, name: str) -> Any:
    provider = ProviderFactory(slug=slug, name=name)
    return client_for(api_key_create(provider=provider, label="backend").secret)


def _registered(walk: Walk, client: Any, number: str, *, expect: int = 201) -> Holder:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = walk.call(client, "POST", "/v1/challenges", {"number": number}, expect=201).json()
    code = code_sent(locmem.outbox, number)
    walk.call(
        client, "POST", f"/v1/challenges/{challenge['id']}/verify", {"code": code}, expect=200
    )
    body = {"challenge": challenge["id"], "csr": csr_pem(key)}
    issued = walk.call(client, "POST", "/v1/certificates", body, expect=expect).json()
    return Holder(key=key, issued=issued)


def _wrong_code(code: str) -> str:
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def _walked(walk: Walk, client_for: Any, anonymous: Any, receiver: Any, settings: Any) -> None:  # noqa: F811
    alice = _app(client_for, "acme-chat", "Acme Chat")
    mallory = _app(client_for, "mallory", "Mallory")

    # Register a number: a wrong code first, then the right one.
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = walk.call(alice, "POST", "/v1/challenges", {"number": NUMBER}, expect=201).json()
    walk.call(alice, "GET", f"/v1/challenges/{challenge['id']}", expect=200)
    code = code_sent(locmem.outbox, NUMBER)
    verify = f"/v1/challenges/{challenge['id']}/verify"
    walk.call(alice, "POST", verify, {"code": _wrong_code(code)}, expect=400)
    walk.call(alice, "POST", verify, {"code": code}, expect=200)
    walk.call(alice, "GET", "/v1/challenges?number=%2B33612345678", expect=200)
    body = {"challenge": challenge["id"], "csr": csr_pem(key)}
    issued = walk.call(alice, "POST", "/v1/certificates", body, expect=201).json()
    holder = Holder(key=key, issued=issued)
    serial = holder.serial
    walk.call(alice, "GET", f"/v1/certificates/{serial}", expect=200)
    walk.call(alice, "GET", "/v1/certificates?state=valid", expect=200)
    walk.call(anonymous, "GET", urlsplit(holder.x5u).path, expect=200)
    walk.call(anonymous, "GET", "/ca/root.pem", expect=200)
    cancelled = walk.call(alice, "POST", "/v1/challenges", {"number": SECOND}, expect=201).json()
    walk.call(alice, "POST", f"/v1/challenges/{cancelled['id']}/cancel", expect=200)

    # Publish, look up, read the history, sign and verify a PASSporT.
    handler = f"/v1/numbers/{NUMBER}/handlers/messaging"
    claims = {"number": NUMBER, "service": "messaging"}
    token = _signed(key, serial, **claims, uri="sip:alice@chat.example")
    walk.call(alice, "PUT", handler, token, content_type=JOSE, expect=201)
    token = _signed(key, serial, **claims, uri="sip:alice@acme-chat.example")
    walk.call(alice, "PUT", handler, token, content_type=JOSE, expect=200)
    walk.call(alice, "GET", f"/v1/numbers/{NUMBER}/handlers", expect=200)
    walk.call(mallory, "GET", f"/v1/numbers/{NUMBER}", expect=200)
    history = _signed(key, serial, number=NUMBER)
    path = f"/v1/numbers/{NUMBER}/history"
    walk.call(alice, "POST", path, history, content_type=JOSE, expect=200)
    passport = passport_sign(
        key, x5u=holder.x5u, orig=NUMBER[1:], dest=["33698765432"], iat=int(time.time())
    )
    walk.call(mallory, "POST", "/v1/passports/verify", {"passport": passport}, expect=200)

    # The log.
    walk.call(anonymous, "GET", "/log/key", expect=200)
    walk.call(anonymous, "GET", "/log/checkpoint", expect=200)
    walk.call(anonymous, "GET", "/log/witness-policy", expect=200)
    checkpoint = walk.call(anonymous, "GET", "/v1/log/checkpoint", expect=200).json()
    size = checkpoint["size"]
    walk.call(anonymous, "GET", f"/v1/log/entries?start=0&end={size}", expect=200)
    walk.call(anonymous, "GET", f"/v1/log/proofs/inclusion?index=0&size={size}", expect=200)
    walk.call(anonymous, "GET", f"/v1/log/proofs/consistency?from=1&to={size}", expect=200)
    walk.call(alice, "GET", f"/v1/log/labels/{NUMBER}", expect=200)
    walk.call(anonymous, "GET", f"/log/tile/0/000.p/{size}", expect=200)
    walk.call(anonymous, "GET", "/ca/crl", expect=200)

    # Lock the number: an intruder's registration is held back as a request, which is refused.
    lock = _signed(key, serial, serial=serial)
    walk.call(alice, "POST", f"/v1/certificates/{serial}/lock", lock, content_type=JOSE, expect=200)
    request = _registered(walk, mallory, NUMBER, expect=202).issued
    walk.call(mallory, "GET", f"/v1/certificate-requests/{request['id']}", expect=200)
    walk.call(alice, "GET", "/v1/certificate-requests?status=pending", expect=200)
    refuse = _signed(key, serial, request=request["id"])
    path = f"/v1/certificate-requests/{request['id']}/refuse"
    walk.call(alice, "POST", path, refuse, content_type=JOSE, expect=200)
    # A second app of the number's holder: its request approved.
    second_app = _app(client_for, "acme-voice", "Acme Voice")
    request = _registered(walk, second_app, NUMBER, expect=202).issued
    approve = _signed(key, serial, request=request["id"])
    path = f"/v1/certificate-requests/{request['id']}/approve"
    walk.call(alice, "POST", path, approve, content_type=JOSE, expect=200)
    unlock = _signed(key, serial, serial=serial)
    path = f"/v1/certificates/{serial}/unlock"
    walk.call(alice, "POST", path, unlock, content_type=JOSE, expect=200)

    # Without a lock, an intruder's certificate for another number: disputed by its holder.
    own = _registered(walk, alice, SECOND)
    intruder = _registered(walk, mallory, SECOND)
    proof = _registered_challenge(walk, alice, SECOND)
    dispute = _signed(
        own.key,
        own.serial,
        disputed=intruder.serial,
        challenge=proof,
        statement="not my app: my SIM was swapped on Monday",
    )
    opened = walk.call(alice, "POST", "/v1/disputes", dispute, content_type=JOSE, expect=201)
    walk.call(alice, "GET", f"/v1/disputes/{opened.json()['id']}", expect=200)

    # Invitations.
    invitation = _signed(key, serial, to=INVITED, service="messaging")
    made = walk.call(alice, "POST", "/v1/invitations", invitation, content_type=JOSE, expect=201)
    walk.call(alice, "GET", f"/v1/invitations/{made.json()['id']}", expect=200)
    walk.call(alice, "GET", "/v1/invitations", expect=200)
    walk.call(anonymous, "GET", "/invitations/keys", expect=200)

    # Remove the handler, revoke the certificate.
    token = _signed(key, serial, **claims)
    walk.call(alice, "DELETE", handler, token, content_type=JOSE, expect=200)
    revoke = _signed(key, serial, serial=serial, reason="keyCompromise")
    path = f"/v1/certificates/{serial}/revoke"
    walk.call(alice, "POST", path, revoke, content_type=JOSE, expect=200)

    # Webhooks.
    created = walk.call(
        alice,
        "POST",
        "/v1/webhooks",
        {"url": receiver.url(), "description": "calls backend"},
        expect=201,
    ).json()
    endpoint = f"/v1/webhooks/{created['id']}"
    walk.call(alice, "GET", "/v1/webhooks", expect=200)
    walk.call(alice, "GET", endpoint, expect=200)
    walk.call(alice, "POST", f"{endpoint}/secret", expect=200)
    walk.call(alice, "GET", f"{endpoint}/deliveries", expect=200)
    walk.call(alice, "DELETE", endpoint, expect=204)

    # API keys, and the service.
    walk.call(alice, "GET", "/v1/me", expect=200)
    walk.call(alice, "GET", "/v1/keys", expect=200)
    made = walk.call(
        alice, "POST", "/v1/keys", {"label": "lookups", "scope": "lookup"}, expect=201
    ).json()
    walk.call(alice, "POST", f"/v1/keys/{made['prefix']}/revoke", expect=200)
    walk.call(anonymous, "GET", "/v1/me", expect=401)
    walk.call(anonymous, "GET", "/healthz", expect=200)

    # What Twilio sends: a delivery report, and an SMS the service's number received.
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_INBOUND_URL = "http://testserver/v1/twilio/inbound"
    for path, params in (
        ("/v1/twilio/status", {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}),
        ("/v1/twilio/inbound", {"From": INVITED, "To": "+15005550006", "Body": "STOP"}),
    ):
        url = f"http://testserver{path}"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        expect = 204 if path.endswith("status") else 200
        walk.call(
            anonymous,
            "POST",
            path,
            urlencode(params),
            content_type=FORM,
            expect=expect,
            HTTP_X_TWILIO_SIGNATURE=signature,
        )

    # Several services: none advertised while it serves every number; then its served ranges.
    walk.call(anonymous, "GET", "/.well-known/rs-advertisement", expect=404)
    walk.call(anonymous, "GET", "/v1/map", expect=404)
    settings.RS_SERVED_RANGES = ["1-33612000000-1000000", "2-33698765432"]
    advertisement_keys_bootstrap()
    with committed():
        advertisement_renew()
    walk.call(anonymous, "GET", "/.well-known/rs-advertisement", expect=200)
    walk.call(anonymous, "GET", "/v1/map", expect=200)


def _registered_challenge(walk: Walk, client: Any, number: str) -> str:
    """A challenge for ``number`` answered with its code: the id."""
    challenge = walk.call(client, "POST", "/v1/challenges", {"number": number}, expect=201).json()
    code = code_sent(locmem.outbox, number)
    path = f"/v1/challenges/{challenge['id']}/verify"
    walk.call(client, "POST", path, {"code": code}, expect=200)
    return str(challenge["id"])


def shape(value: Any) -> Any:
    """What an example and an answer must share: fields, nesting and JSON types, not values
    (a list by its first item's shape; a JWS or other string is a string)."""
    if isinstance(value, dict):
        return {name: shape(item) for name, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return "string"


def _documented(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Every (operation id, status, media type) of a success answer with a body."""
    documented = set()
    for methods in document["paths"].values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                for media in response.get("content", {}) if status.startswith("2") else ():
                    documented.add((operation["operationId"], status, media))
    return documented


@pytest.mark.usefixtures("invitation_key")
def test_the_examples_are_what_the_service_answers(
    client_for: Any,
    anonymous_client: Any,
    receiver: Any,  # noqa: F811  # the fixture imported above
    settings: Any,
    crl: Any,
    tmp_path: Path,
) -> None:
    key_dir_own(settings, tmp_path)  # the walk signs a range certificate
    document = SchemaGenerator().get_schema(request=None, public=True)
    walk = Walk(document)

    _walked(walk, client_for, anonymous_client, receiver, settings)

    if os.environ.get("RS_UPDATE_EXAMPLES") == "1":
        text = json.dumps(dict(sorted(walk.examples.items())), indent=2, ensure_ascii=False)
        EXAMPLES_PATH.write_text(text + "\n", encoding="utf-8")
        _recorded_text.cache_clear()
    recorded = recorded_examples()
    answered = {
        (operation, status, media)
        for operation, examples in walk.examples.items()
        for status, bodies in examples.get("responses", {}).items()
        for media in bodies
    }
    missing = {(o, s, m) for (o, s, m) in _documented(document) if (o, s) not in NO_EXAMPLE}
    assert missing <= answered, f"the walk gets no answer of {sorted(missing - answered)}"
    for operation, examples in walk.examples.items():
        kept = recorded.get(operation, {})
        for part in ("request", "responses", "problems"):
            assert shape(kept.get(part)) == shape(examples.get(part)), (
                f"{operation}: the {part} examples are not what the service answers now; "
                "run this test with RS_UPDATE_EXAMPLES=1 and read the diff"
            )
    assert set(recorded) == set(walk.examples), "examples of operations the walk does not make"


def test_the_schema_shows_the_examples() -> None:
    document = SchemaGenerator().get_schema(request=None, public=True)
    examples = recorded_examples()
    for methods in document["paths"].values():
        for operation in methods.values():
            recorded = examples.get(operation["operationId"], {})
            for status, bodies in recorded.get("responses", {}).items():
                for media, body in bodies.items():
                    shown = operation["responses"][status]["content"][media]["example"]
                    assert shown == body, (operation["operationId"], status)
            for media, body in recorded.get("request", {}).items():
                shown = operation["requestBody"]["content"][media]["example"]
                assert shown == body, operation["operationId"]
            for status, problems in recorded.get("problems", {}).items():
                shown = operation["responses"][status]["content"]["application/problem+json"]
                assert set(shown["examples"]) == set(problems), (operation["operationId"], status)
    # A signed request's payload is shown decoded, on its schema.
    payload = document["components"]["schemas"]["HandlerPutPayload"]["example"]
    assert payload["service"] == "messaging" and payload["number"] == NUMBER


def test_the_examples_name_this_instance(settings: Any) -> None:
    settings.RS_PUBLIC_URL = "https://rs.example.net"
    document = SchemaGenerator().get_schema(request=None, public=True)
    verify = document["paths"]["/v1/challenges/{challenge_id}/verify"]["post"]
    shown = verify["responses"]["400"]["content"]["application/problem+json"]["examples"]
    wrong = shown["challenge-code-wrong"]["value"]
    assert wrong["type"] == "https://rs.example.net/problems/challenge-code-wrong"
