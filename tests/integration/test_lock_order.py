"""One lock order: a certificate revoked while its handlers, and others, are published and removed
by concurrent requests, each committing on its own connection.

Revocation took the log's append lock, then the rows of the handlers it removes; publishing and
removing take a handler's row, then the append lock. Each waited for the other, PostgreSQL broke
the cycle by failing one of them, and clients saw 500s, revocations among them. Every change now
takes its locks in the order ``core.locks`` states: here no request may fail other than with the
problem its moment calls for (its certificate revoked, its handler already removed). Nor may two
first publications of one handler at once: one creates it, the other replaces it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections

from ca.models import Certificate
from config.celery_app import app
from directory.models import Handler
from providers.services import api_key_create
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import ApiClient
from tests.ca.flow import NUMBER, Holder, certificate_issued
from tests.directory.flow import delete, handler_published, publish_token, put, signed
from tests.factories import ProviderFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUNDS = 8
OTHER_NUMBER = "+33612345679"  # NUMBER is the flows' own
# How long the other requests run before the revocation joins them: the append lock is then
# busy, and a revocation that waits for it while others hold handler rows meets the old cycle.
HEAD_START = 0.05
UNLIMITED = "1000000/minute"

# What each request may answer, besides a success: the problems of a change that comes after
# the revocation (its certificate revoked) or after another removal (no such handler).
Answer = tuple[int | str, str | None]  # a status (or "exception") and a problem type
REVOKED: Answer = (403, "signing-certificate-not-valid")
GONE: Answer = (404, "handler-not-found")
EXPECTED: dict[str, set[Answer]] = {
    "revoke": {(200, None)},
    "put": {(200, None), (201, None), REVOKED},
    "delete": {(200, None), REVOKED, GONE},
}

Outcome = tuple[str, int | str, str | None]  # the operation, and its answer


@pytest.fixture(autouse=True)
def unlimited(settings: Any) -> None:
    """Many requests from one client address and key, many challenges for one number."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            name: UNLIMITED for name in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }
    for name in ("NUMBER", "NUMBER_TOTAL", "PROVIDER", "CLIENT_IP", "COUNTRY"):
        setattr(settings, f"RS_CHALLENGE_LIMIT_{name}", "")


@contextmanager
def tasks_in_process() -> Iterator[None]:
    """Tasks (the outbox's dispatch of the challenges' SMS) run in this process while holders
    are made: the flows read the codes from the locmem SMS backend."""
    was = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = was


def _outcome(operation: str, request: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """What ``request(*args, **kwargs)`` answered: its status and problem type, or the
    exception it raised."""
    try:
        response = request(*args, **kwargs)
    except Exception as error:  # a 500: the test client raises what the view raised
        return operation, "exception", f"{type(error).__name__}: {error}".splitlines()[0]
    problem = None
    if response["Content-Type"] == "application/problem+json":
        problem = json.loads(response.content)["type"].rsplit("/", 1)[-1]
    return operation, response.status_code, problem


def _client(secret: str) -> ApiClient:
    client = ApiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@dataclass(frozen=True)
class Round:
    """One round's actors: ``revoked`` is the certificate revoked while the others write."""

    key: str  # the holder's provider's
    other_key: str  # another provider's
    revoked: Holder
    renewed: Holder  # the holder's other certificate for NUMBER
    theirs: Holder  # the other provider's certificate for NUMBER
    elsewhere: Holder  # the holder's provider's certificate for OTHER_NUMBER


Job = Callable[[Round, threading.Event], list[Outcome]]


def revoke(actors: Round, done: threading.Event) -> list[Outcome]:
    """The holder revokes, once the others are under way."""
    time.sleep(HEAD_START)
    holder = actors.revoked
    payload = {"serial": holder.serial, "iat": int(time.time()), "reason": "keyCompromise"}
    token = jws_sign({"alg": "ES256", "kid": holder.serial}, canonical_json(payload), holder.key)
    path = f"/v1/certificates/{holder.serial}/revoke"
    client = _client(actors.key)
    return [_outcome("revoke", client.post, path, token, content_type="application/jose")]


def remove_and_republish(service: str) -> Job:
    """The holder removes its handler of ``service`` and publishes it again, with the
    certificate being revoked."""

    def job(actors: Round, done: threading.Event) -> list[Outcome]:
        client, holder, got = _client(actors.key), actors.revoked, []
        while not done.is_set():
            token = signed(holder, number=NUMBER, service=service)
            got.append(_outcome("delete", delete, client, token, service=service))
            token = publish_token(holder, service=service)
            got.append(_outcome("put", put, client, token, service=service))
        return got

    return job


def replace(actors: Round, done: threading.Event) -> list[Outcome]:
    """The holder's other certificate takes over a handler the revoked one made, and back."""
    client, got = _client(actors.key), []
    while not done.is_set():
        for signer in (actors.renewed, actors.revoked):
            token = publish_token(signer, service="video")
            got.append(_outcome("put", put, client, token, service="video"))
    return got


def others(actors: Round, done: threading.Event) -> list[Outcome]:
    """Handlers no revocation touches: another provider's for NUMBER, and another number's."""
    theirs, mine, got = _client(actors.other_key), _client(actors.key), []
    while not done.is_set():
        token = publish_token(actors.theirs, service="messaging")
        got.append(_outcome("put", put, theirs, token))
        token = signed(actors.theirs, number=NUMBER, service="messaging")
        got.append(_outcome("delete", delete, theirs, token))
        token = publish_token(actors.elsewhere, number=OTHER_NUMBER)
        got.append(_outcome("put", put, mine, token, number=OTHER_NUMBER))
    return got


def race(actors: Round, jobs: list[Job]) -> list[Outcome]:
    """Run the jobs on threads of their own, each with its own connection, released together.
    The first one is the revocation; the others run until it has answered."""
    done = threading.Event()
    ready = threading.Barrier(len(jobs))
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run(job: Job) -> None:
        got: list[Outcome] = []
        try:
            ready.wait()
            got = job(actors, done)
        finally:
            if job is jobs[0]:
                done.set()
            connections.close_all()
            with lock:
                outcomes.extend(got)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never returned"
    return outcomes


def test_revocation_races_publish_and_remove_without_deadlock() -> None:
    provider, other = ProviderFactory(), ProviderFactory()
    key, other_key = api_key_create(provider=provider).secret, api_key_create(provider=other).secret
    with tasks_in_process():
        renewed = certificate_issued(provider, NUMBER)
        theirs = certificate_issued(other, NUMBER)
        elsewhere = certificate_issued(provider, OTHER_NUMBER)
    # The first response builds the schema the others are checked against: before the threads.
    token = publish_token(elsewhere, number=OTHER_NUMBER)
    assert put(_client(key), token, number=OTHER_NUMBER).status_code == 201
    jobs = [
        revoke,
        *(remove_and_republish(service) for service in ("voice", "sip", "messaging")),
        replace,
        others,
    ]
    outcomes: list[Outcome] = []
    revocations = 0
    for _ in range(ROUNDS):
        with tasks_in_process():
            revoked = certificate_issued(provider, NUMBER)
        for service in ("voice", "sip", "video", "messaging"):
            handler_published(provider, revoked, service=service)
        actors = Round(key, other_key, revoked, renewed, theirs, elsewhere)

        outcomes += race(actors, jobs)

        # A revocation removes every handler its certificate had authorised.
        certificate = Certificate.objects.get(serial=revoked.serial)
        if certificate.revoked_at is not None:
            revocations += 1
            assert not Handler.objects.filter(certificate=certificate).exists()

    unexpected = Counter(outcome for outcome in outcomes if outcome[1:] not in EXPECTED[outcome[0]])
    assert not unexpected, f"of {len(outcomes)} requests, unexpected: {dict(unexpected)}"
    assert revocations == ROUNDS


def test_first_publications_of_one_handler_at_once_create_it_once() -> None:
    """Certificates of one provider publish the same new handler at the same moment: one
    creates it, the others replace it; none fails on the handler's unique constraint."""
    provider = ProviderFactory()
    key = api_key_create(provider=provider).secret
    with tasks_in_process():
        holders = [certificate_issued(provider, NUMBER) for _ in range(3)]
    client = _client(key)
    outcomes: list[Outcome] = []
    for _ in range(ROUNDS):
        ready = threading.Barrier(len(holders))

        def publish(holder: Holder, ready: threading.Barrier = ready) -> None:
            token, client = publish_token(holder), _client(key)
            try:
                ready.wait()
                outcomes.append(_outcome("put", put, client, token))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=publish, args=(holder,)) for holder in holders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # Removed again: the next round publishes a new handler.
        token = signed(holders[0], number=NUMBER, service="messaging")
        assert delete(client, token).status_code == 200

    answers = Counter(outcome[1:] for outcome in outcomes)
    assert answers == {(201, None): ROUNDS, (200, None): ROUNDS * (len(holders) - 1)}, answers
