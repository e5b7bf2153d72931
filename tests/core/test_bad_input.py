"""Hostile input is a 4xx problem that changes nothing, never a 500 (issue 16, item 8).

Each case went through the stack to an error the code did not expect: an integer no float
holds, JSON nested deeper than Python recurses, a NUL byte PostgreSQL cannot store, an address
lookup on text that is no address. They are refused where they enter: the JWS layer reads
integers within bounds, path converters refuse what the columns cannot hold, the admin checks
its lookups. (JSON bodies: tests/core/test_json_parser.py.)
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User

from ca.models import Certificate
from core.converters import (
    KeyPrefixConverter,
    RepositoryIdConverter,
    SerialConverter,
    ServiceConverter,
)
from directory.models import Handler
from providers.models import ApiKey
from resolution.protocol.jose import jws_sign
from tests.ca.flow import NUMBER, certificate_issued, pending_challenge
from tests.directory.flow import JOSE, put
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

# Deeper than Python's recursion limit, well under the request size limit.
DEPTH = 5000


def _signed_payload(holder: Any, payload: bytes) -> str:
    return jws_sign({"alg": "ES256", "kid": holder.serial}, payload, holder.key)


def _publish_payload(**claims: Any) -> dict[str, Any]:
    return {
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        "number": NUMBER,
        "service": "messaging",
        "uri": "sip:alice@chat.example",
        **claims,
    }


# --- Integers in signed requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "iat", ["1" + "0" * 400, "-" + "1" + "0" * 400, "9007199254740993", "1e400"]
)
def test_an_iat_beyond_any_clock_is_malformed(api_client: Any, provider: Any, iat: str) -> None:
    holder = certificate_issued(provider)
    # Written by hand: no JSON encoder would spell some of these.
    claims = json.dumps(_publish_payload(iat=0)).replace('"iat": 0', f'"iat": {iat}')
    token = _signed_payload(holder, claims.encode())

    response = put(api_client, token)

    assert_problem(response, 400, "jws-malformed")
    assert not Handler.objects.exists()


def test_any_integer_claim_out_of_bounds_is_malformed(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    claims = json.dumps(_publish_payload(priority=0)).replace(
        '"priority": 0', '"priority": ' + "9" * 5000
    )

    response = put(api_client, _signed_payload(holder, claims.encode()))

    assert_problem(response, 400, "jws-malformed")
    assert not Handler.objects.exists()


def test_a_signed_payload_nested_too_deep_is_malformed(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    claims = json.dumps(_publish_payload(uri="@")).replace('"@"', "[" * DEPTH + "]" * DEPTH)

    response = put(api_client, _signed_payload(holder, claims.encode()))

    assert_problem(response, 400, "jws-malformed")
    assert not Handler.objects.exists()


# --- Path values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/keys/%00/revoke"),
        ("post", "/v1/keys/rs_%00abcdef/revoke"),
        ("get", "/v1/certificates/%00"),
        ("post", "/v1/certificates/%00/revoke"),
        ("get", "/ca/certs/%00.pem"),
        ("get", "/v1/numbers/%00"),
        ("get", "/v1/numbers/+3361234%005678"),
        ("put", "/v1/numbers/+33612345678/handlers/%00"),
        ("post", "/v1/numbers/%00/history"),
        ("get", "/v1/log/labels/%00"),
        ("get", "/problems/%00"),
        ("get", "/v1/challenges/%00"),
    ],
)
def test_a_nul_byte_in_a_path_value_is_not_found(api_client: Any, method: str, path: str) -> None:
    response = getattr(api_client, method)(path, content_type=JOSE)

    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/keys/" + "a" * 17 + "/revoke",  # longer than any prefix
        "/v1/certificates/" + "a" * 41,  # longer than any serial
        "/ca/certs/" + "a" * 33 + ".pem",  # longer than any repository id
    ],
)
def test_a_path_value_longer_than_its_column_is_not_found(api_client: Any, path: str) -> None:
    response = api_client.post(path) if path.endswith("revoke") else api_client.get(path)

    assert_problem(response, 404, "not-found")


def test_each_converter_takes_at_most_what_its_column_holds() -> None:
    def column(model: Any, name: str) -> int:
        return int(model._meta.get_field(name).max_length)

    assert SerialConverter.max_length == column(Certificate, "serial")
    assert RepositoryIdConverter.max_length == column(Certificate, "repository_id")
    assert KeyPrefixConverter.max_length == column(ApiKey, "prefix")
    assert ServiceConverter.max_length == column(Handler, "service")


# --- The admin -----------------------------------------------------------------------------------


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


@pytest.mark.parametrize("value", ["garbage", "1.2.3.4:80", "::1%eth0", "\x00"])
def test_a_client_ip_that_is_no_address_is_refused_in_the_challenge_list(
    operator: Any, provider: Any, value: str
) -> None:
    pending_challenge(provider)

    response = operator.get("/admin/ca/challenge/", {"client_ip": value})

    assert response.status_code == 400
    assert "client_ip" in response.content.decode()


def test_a_client_ip_lookup_finds_the_challenges_from_that_address(
    operator: Any, provider: Any
) -> None:
    challenge = pending_challenge(provider)
    assert challenge.client_ip

    found = operator.get("/admin/ca/challenge/", {"client_ip": challenge.client_ip})
    other = operator.get("/admin/ca/challenge/", {"client_ip": "2001:db8::1"})

    assert found.status_code == other.status_code == 200
    assert str(challenge.pk) in found.content.decode()
    assert str(challenge.pk) not in other.content.decode()
