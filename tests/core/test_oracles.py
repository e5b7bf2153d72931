"""What does not exist and what is not yours get the same answer (issue 16, item 14).

An id, a serial or a slug must not tell a caller whether someone else's thing exists: each
test asks once about another provider's thing and once about nothing, and compares.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ca.choices import ChallengeStatus
from ca.models import Challenge
from directory.models import Handler
from providers.services import api_key_create
from tests.ca.flow import NUMBER, certificate_issued, code_sent, csr_pem, pending_challenge
from tests.directory.flow import JOSE, publish_token, put, signed
from tests.factories import ProviderFactory
from tests.pki import p256
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def history(client: Any, token: str) -> Any:
    return client.post(f"/v1/numbers/{NUMBER}/history", token, content_type=JOSE)


def _answer(response: Any) -> tuple[int, str, str, str]:
    """What a caller sees of a problem, the instance-specific detail included."""
    body = json.loads(response.content)
    return response.status_code, body["type"], body["title"], body["detail"]


@pytest.fixture
def intruder(client_for: Any) -> Any:
    return client_for(api_key_create(provider=ProviderFactory()).secret)


# --- Challenges -------------------------------------------------------------------------------


def test_another_providers_challenge_is_not_found_on_every_endpoint(
    intruder: Any, provider: Any, sms_outbox: list[Any]
) -> None:
    challenge = pending_challenge(provider)
    code = code_sent(sms_outbox)
    theirs, unknown = str(challenge.pk), str(uuid.uuid4())

    for challenge_id in (theirs, unknown):
        assert_problem(intruder.get(f"/v1/challenges/{challenge_id}"), 404, "challenge-not-found")
    verified = [
        intruder.post(f"/v1/challenges/{cid}/verify", {"code": code}, format="json")
        for cid in (theirs, unknown)
    ]
    csr = csr_pem(p256())
    issued = [
        intruder.post("/v1/certificates", {"challenge": cid, "csr": csr}, format="json")
        for cid in (theirs, unknown)
    ]

    for pair in (verified, issued):
        assert_problem(pair[0], 404, "challenge-not-found")
        assert _answer(pair[0]) == _answer(pair[1])
    stored = Challenge.objects.get(pk=challenge.pk)
    assert (stored.status, stored.attempts) == (ChallengeStatus.PENDING, 0)


# --- Signing certificates ---------------------------------------------------------------------


def test_another_providers_serial_names_no_certificate_as_an_unknown_one(
    intruder: Any, provider: Any
) -> None:
    holder = certificate_issued(provider)
    key = p256()  # the intruder does not hold the certificate's key
    uri = "sip:x@chat.example"

    answers = [
        put(
            intruder,
            signed(
                holder,
                key=key,
                header={"alg": "ES256", "kid": kid},
                number=NUMBER,
                service="messaging",
                uri=uri,
            ),
        )
        for kid in (holder.serial, uuid.uuid4().hex)
    ]

    assert_problem(answers[0], 403, "signing-certificate-unknown")
    assert _answer(answers[0]) == _answer(answers[1])
    assert not Handler.objects.exists()


def test_a_token_of_another_providers_holder_is_refused_as_an_unknown_certificate(
    intruder: Any, provider: Any
) -> None:
    holder = certificate_issued(provider)

    published = put(intruder, publish_token(holder))
    read = history(intruder, signed(holder, number=NUMBER))

    assert_problem(published, 403, "signing-certificate-unknown")
    assert_problem(read, 403, "signing-certificate-unknown")
    assert not Handler.objects.exists()


# --- Visibility -------------------------------------------------------------------------------


def test_visibility_does_not_tell_which_provider_slugs_exist(
    api_client: Any, provider: Any
) -> None:
    holder = certificate_issued(provider)
    other = ProviderFactory()

    for slugs in ([other.slug], ["no-such-provider"], [other.slug, "no-such-provider"]):
        response = put(api_client, publish_token(holder, visibility=slugs))
        assert response.status_code in (200, 201), response.content
        assert response.json()["visibility"] == sorted(slugs)


@pytest.mark.parametrize(
    "visibility", [[], "some", ["Not A Slug"], ["x" * 65], [7], [f"p{n}" for n in range(51)]]
)
def test_a_malformed_visibility_is_refused_whatever_exists(
    api_client: Any, provider: Any, visibility: Any
) -> None:
    holder = certificate_issued(provider)

    response = put(api_client, publish_token(holder, visibility=visibility))

    assert_problem(response, 400, "handler-invalid")
    assert not Handler.objects.exists()
