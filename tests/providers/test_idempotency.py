"""Safe retries: a POST sent again with the same Idempotency-Key gets the first success's answer
and does nothing twice; the key on another request is 422; while the first runs, 409."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import time_machine
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from ca.models import Challenge
from core import locks
from outbox.models import Message
from providers.idempotency import idempotent_requests_prune
from providers.models import IdempotentRequest
from providers.services import api_key_create
from tests.ca.flow import NUMBER, OTHER_NUMBER
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(client_for: Any) -> Any:
    def make() -> Any:
        provider = ProviderFactory()
        client = client_for(api_key_create(provider=provider, label="app").secret)
        client.provider = provider
        return client

    return make


def start(client: Any, key: str | None, number: str = NUMBER) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post("/v1/challenges", {"number": number}, format="json", **headers)


def test_the_same_key_and_request_get_the_first_answer_and_one_challenge(app: Any) -> None:
    alice = app()
    key = f'"{uuid.uuid4()}"'

    first = start(alice, key)
    again = start(alice, key)

    assert first.status_code == again.status_code == 201, first.content
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Challenge.objects.count() == 1
    # Without a key, each request is its own.
    assert start(alice, None).status_code == 201
    assert Challenge.objects.count() == 2


def test_the_same_key_on_another_request_is_refused(app: Any) -> None:
    alice = app()
    start(alice, "retry-1")

    assert_problem(start(alice, "retry-1", OTHER_NUMBER), 422, "idempotency-key-reused")
    other_path = alice.post(
        "/v1/webhooks",
        {"url": "https://hooks.example.org/x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="retry-1",
    )
    assert_problem(other_path, 422, "idempotency-key-reused")

    assert Challenge.objects.count() == 1


def test_a_failure_is_not_kept_so_the_retry_runs(app: Any) -> None:
    alice = app()

    assert start(alice, "k-0001", "+33").status_code == 400
    # The same key, now with a valid body: the failure changed nothing and was not kept.
    assert start(alice, "k-0001").status_code == 201
    assert_problem(start(alice, "k-0001", "+33"), 422, "idempotency-key-reused")


def test_keys_are_each_providers_own(app: Any) -> None:
    alice, bob = app(), app()

    start(alice, "same")
    answer = start(bob, "same")

    assert answer.status_code == 201 and not answer.has_header("Idempotent-Replayed")
    assert Challenge.objects.count() == 2


def test_a_key_is_kept_24_hours(app: Any) -> None:
    alice = app()
    start(alice, "daily")

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        assert not start(alice, "daily").has_header("Idempotent-Replayed")
        assert Challenge.objects.count() == 2
        assert idempotent_requests_prune() == 0  # the new answer replaced the old one
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert idempotent_requests_prune() == 1
    assert not IdempotentRequest.objects.exists()


@pytest.mark.parametrize("key", ["", '""', "x" * 256, "caf\u00e9", '"a\\"b"'])
def test_a_malformed_key_is_refused(app: Any, key: str) -> None:
    alice = app()

    assert_problem(start(alice, key), 400, "idempotency-key-invalid")

    assert not Challenge.objects.exists()


def test_a_secret_in_an_answer_is_kept_sealed(app: Any) -> None:
    alice = app()
    body = {"label": "rotation", "scope": "directory"}
    made = alice.post("/v1/keys", body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert made.status_code == 201, made.content

    again = alice.post("/v1/keys", body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert again.json()["key"] == made.json()["key"]
    stored = bytes(IdempotentRequest.objects.get().answer)
    assert made.json()["key"].encode() not in stored and b"rotation" not in stored
    assert [key["label"] for key in alice.get("/v1/keys").json()].count("rotation") == 1


def test_a_key_whose_request_still_runs_is_409(app: Any, settings: Any) -> None:
    alice = app()
    # Another session holds the key's lock, as the first request would while it runs.
    other = psycopg.connect(**_connection_params(), autocommit=True)
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))",
            [locks.IDEMPOTENCY, f"{alice.provider.pk}:running"],
        )
        answer = start(alice, "running")
    finally:
        other.close()

    assert_problem(answer, 409, "idempotency-key-in-use")
    assert answer["Retry-After"] == "1"
    assert not Challenge.objects.exists()
    assert start(alice, "running").status_code == 201  # once the first is over


def _connection_params() -> dict[str, Any]:
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return params


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_do_it_once(client_for: Any) -> None:
    provider = ProviderFactory()
    secret = api_key_create(provider=provider, label="app").secret
    answers: list[Any] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        try:
            barrier.wait()
            answers.append(start(client_for(secret), "together"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    made = [a.json()["id"] for a in answers if a.status_code == 201]
    assert len(set(made)) == 1  # the 201s are one answer
    assert Challenge.objects.count() == 1
    assert Message.objects.count() == 1  # one SMS


def _posts(resolver: URLResolver, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _posts(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and hasattr(view, "post"):
                found.append((prefix + str(pattern.pattern), view))
    return found


# Not a provider's request: Twilio's delivery reports and inbound SMS, signed by Twilio.
NOT_A_PROVIDERS = {"TwilioStatusApi", "TwilioInboundApi"}


def test_every_post_of_the_api_takes_an_idempotency_key() -> None:
    posts = [(route, view) for route, view in _posts(get_resolver()) if route.startswith("v1/")]
    assert len(posts) > 10
    missing = [
        route
        for route, view in posts
        if view.__name__ not in NOT_A_PROVIDERS and not getattr(view.post, "idempotent", False)
    ]
    assert missing == []
