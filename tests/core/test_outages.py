"""Outages: a database that is down or too slow is a 503 ``service-unavailable`` problem with
Retry-After on every view (API, page, middleware), logged once per outage and never with a
traceback per request; a cache that is down leaves lookups, log reads and pages answering, their
rates counted in each process, and refuses challenge creation (503) rather than send SMS unlimited.

The failures are real: a statement cancelled by PostgreSQL's statement_timeout (what a stalled
database gives), a connection refused, a Redis nothing listens for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ca.models import Challenge
from config.urls import urlpatterns as project_urls
from core.outages import cache_outage, database_outage
from core.tasks import periodic_task
from core.throttling import (
    SMS_SENDING_THROTTLES,
    ApiKeyRateThrottle,
    ClientIpRateThrottle,
    LogReadRateThrottle,
    LookupDistinctRateThrottle,
    WhenCacheDown,
)
from directory.metrics import lookup_counted, lookup_counts_flush
from directory.models import LookupCount
from tests.api_client import ApiClient
from tests.ca.flow import NUMBER
from tests.problems import assert_problem
from tests.transparency.logdata import append_entries, log_integrated

pytestmark = pytest.mark.django_db

Events = Callable[[], list[tuple[str, dict[str, Any]]]]
# What every line carries besides its event's own fields.
NOT_FIELDS = {"event", "request_id", "level", "logger", "timestamp"}


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _too_slow() -> None:
    """A statement PostgreSQL cancels at its statement_timeout: what a stalled database gives."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")


class SlowApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        _too_slow()
        return Response({})


class RefusedApi(SlowApi):
    def get(self, request: Request) -> Response:
        psycopg.connect(f"postgresql://rs@127.0.0.1:{_closed_port()}/rs", connect_timeout=2)
        return Response({})


class DividingApi(SlowApi):
    """A bug, not an outage: PostgreSQL refuses the statement itself (a DataError)."""

    def get(self, request: Request) -> Response:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        return Response({})


class QueryApi(SlowApi):
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response({})


def slow_page(request: HttpRequest) -> HttpResponse:
    _too_slow()
    return HttpResponse("never")


class SlowMiddleware:
    """A middleware whose query times out, on /test/slow-middleware only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/test/slow-middleware":
            _too_slow()
        return self.get_response(request)


urlpatterns = [
    path("test/slow", SlowApi.as_view()),
    path("test/refused", RefusedApi.as_view()),
    path("test/dividing", DividingApi.as_view()),
    path("test/query", QueryApi.as_view()),
    path("test/slow-page", slow_page),
    *project_urls,
]
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The outages' clock, moved by the test."""
    clock = Clock()
    monkeypatch.setattr(database_outage, "clock", clock)
    monkeypatch.setattr(cache_outage, "clock", clock)
    return clock


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Iterator[Events]:
    """What core.outages logged so far: (event, fields) pairs."""

    def logged() -> list[tuple[str, dict[str, Any]]]:
        return [
            (record.msg["event"], {k: v for k, v in record.msg.items() if k not in NOT_FIELDS})
            for record in caplog.records
            if record.name == "core.outages" and isinstance(record.msg, dict)
        ]

    with caplog.at_level(logging.INFO):
        yield logged


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records logged with a traceback: stdlib's, or structlog's (``exc_info`` in its
    event)."""
    return [
        record
        for record in caplog.records
        if record.exc_info or (isinstance(record.msg, dict) and record.msg.get("exc_info"))
    ]


@pytest.fixture(autouse=True)
def answers_not_logged_one_by_one(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No 503 of an outage is logged by Django (it logs every 5xx answer otherwise): core.outages
    logs the outage."""
    yield
    assert not [
        record
        for record in caplog.records
        if record.name == "django.request" and getattr(record, "status_code", None) == 503
    ]


@pytest.fixture
def test_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


def _unavailable(response: Any, settings: Any) -> dict[str, Any]:
    body = assert_problem(response, 503, "service-unavailable")
    seconds = settings.RS_OUTAGE_RETRY_AFTER_SECONDS
    assert response["Retry-After"] == str(seconds) and body["retry_after"] == seconds
    return body


def test_a_database_error_in_an_api_view_is_a_503_problem_logged_once_per_outage(
    client: ApiClient, settings: Any, test_urls: None, clock: Clock, events: Events, caplog: Any
) -> None:
    for _ in range(3):
        body = _unavailable(client.get("/test/slow"), settings)
        assert "statement" not in body["detail"]  # what failed is for the operator's log
    clock.now += 1  # one query that gets through between failures does not end the outage
    assert client.get("/test/query").status_code == 200
    _unavailable(client.get("/test/slow"), settings)
    assert events() == [("database unavailable", {"error": "QueryCanceled"})]

    clock.now += settings.RS_OUTAGE_RETRY_AFTER_SECONDS
    assert client.get("/test/query").status_code == 200
    assert client.get("/test/query").status_code == 200
    assert events()[1:] == [("database available again", {"failures": 4, "seconds": 6.0})]
    assert not _tracebacks(caplog)

    _unavailable(client.get("/test/slow"), settings)  # the next outage is logged again
    assert [event for event, _ in events()].count("database unavailable") == 2


@periodic_task(name="tests.core.test_outages.stalled")
def _stalled_task() -> int:
    _too_slow()
    return 1


@periodic_task(name="tests.core.test_outages.answered")
def _answered_task() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return 1


def test_a_periodic_task_the_database_fails_is_skipped_and_logged_once_per_outage(
    settings: Any, clock: Clock, events: Events, caplog: Any
) -> None:
    for _ in range(3):  # beat runs it again and again during the outage
        assert _stalled_task.apply().result is None
    assert events() == [("database unavailable", {"error": "QueryCanceled"})]
    assert not _tracebacks(caplog)  # Celery logs none: the run was skipped, not failed

    clock.now += settings.RS_OUTAGE_RETRY_AFTER_SECONDS
    assert _answered_task.apply().result == 1
    assert events()[1:] == [("database available again", {"failures": 3, "seconds": 5.0})]


def test_lookup_counts_the_database_cannot_take_are_kept_and_the_outage_logged_once(
    provider: Any, events: Events, caplog: Any
) -> None:
    holder = psycopg.connect(**connection.get_connection_params())  # another session's lock
    holder.execute(f"LOCK TABLE {LookupCount._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 1")
            for _ in range(2):
                lookup_counted(provider=provider)
                assert lookup_counts_flush() == 0
            cursor.execute("SET lock_timeout = 0")
    finally:
        holder.close()
    assert events() == [("database unavailable", {"error": "LockNotAvailable"})]
    assert not _tracebacks(caplog)
    assert lookup_counts_flush() == 1  # both lookups, in one row
    assert LookupCount.objects.get(provider=provider).count == 2


def test_a_refused_connection_is_a_503_problem(
    client: ApiClient, settings: Any, test_urls: None, events: Events, caplog: Any
) -> None:
    _unavailable(client.get("/test/refused"), settings)
    assert events() == [("database unavailable", {"error": "OperationalError"})]
    assert not _tracebacks(caplog)


def test_a_statement_the_database_refuses_is_no_outage(
    settings: Any, test_urls: None, events: Events, caplog: Any
) -> None:
    client = ApiClient(raise_request_exception=False)
    assert_problem(client.get("/test/dividing"), 500, "server-error")
    assert not database_outage.failures and not events()
    assert _tracebacks(caplog)  # a bug is still logged with its traceback


def test_a_page_and_a_middleware_answer_503_problems_not_djangos_500(
    settings: Any, test_urls: None, events: Events, caplog: Any
) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.SlowMiddleware"]
    client = ApiClient(raise_request_exception=False)
    _unavailable(client.get("/test/slow-page", HTTP_ACCEPT="text/html"), settings)
    _unavailable(client.get("/test/slow-middleware", HTTP_ACCEPT="text/html"), settings)
    assert events() == [("database unavailable", {"error": "QueryCanceled"})]
    # Django logs what its handler500 answers, with the traceback, unless told it was logged.
    assert not [record for record in caplog.records if record.name == "django.request"]
    assert not _tracebacks(caplog)


def test_every_operation_documents_the_503(client: ApiClient) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        (route, method, operation)
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert operations
    for route, method, operation in operations:
        assert "503" in operation["responses"], (method, route)


# --- The cache -------------------------------------------------------------------------------


@pytest.fixture
def cache_down(settings: Any) -> None:
    """The cache is a Redis server that is not there."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }


@pytest.fixture
def checkpoint(settings: Any) -> None:
    """A log with a signed checkpoint, for the reads."""
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    append_entries(3)
    log_integrated()


def test_lookups_log_reads_and_pages_answer_while_the_cache_is_down(
    api_client: ApiClient,
    client: ApiClient,
    checkpoint: None,
    cache_down: None,
    events: Events,
    caplog: Any,
) -> None:
    assert api_client.get(f"/v1/numbers/{NUMBER}").status_code == 200
    assert client.get("/log/checkpoint").status_code == 200
    assert client.get("/v1/log/checkpoint").status_code == 200
    assert client.get("/log/tile/entries/000.p/3").status_code == 200
    assert client.get("/explorer/", HTTP_ACCEPT="text/html").status_code == 200
    assert api_client.get(f"/v1/numbers/{NUMBER}").status_code == 200
    assert events() == [("cache unavailable", {"error": "ConnectionError"})]
    assert not _tracebacks(caplog)


def test_the_rates_hold_in_each_process_while_the_cache_is_down(
    api_client: ApiClient, client: ApiClient, cache_down: None, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "lookup": "2/minute",
            "log_read": "3/minute",
        },
    }
    statuses = [api_client.get(f"/v1/numbers/{NUMBER}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    statuses = [client.get("/log/checkpoint").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]  # an empty log, then over the rate


def test_challenge_creation_is_refused_while_the_cache_is_down_then_served_again(
    api_client: ApiClient,
    cache_down: None,
    settings: Any,
    clock: Clock,
    events: Events,
    sms_outbox: list[Any],
) -> None:
    response = api_client.post("/v1/challenges", {"number": NUMBER}, format="json")
    body = _unavailable(response, settings)
    assert "rate limits" in body["detail"].lower()
    assert not Challenge.objects.exists() and not sms_outbox
    # Within Retry-After the cache is not tried again: refused at once, nothing more logged.
    _unavailable(api_client.post("/v1/challenges", {"number": NUMBER}, format="json"), settings)
    assert events() == [("cache unavailable", {"error": "ConnectionError"})]

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    clock.now += settings.RS_OUTAGE_RETRY_AFTER_SECONDS
    response = api_client.post("/v1/challenges", {"number": NUMBER}, format="json")
    assert response.status_code == 201, response.content
    assert len(sms_outbox) == 1
    assert events()[1:] == [("cache available again", {"failures": 1, "seconds": 5.0})]


def test_which_way_each_throttle_fails_is_said_in_one_place() -> None:
    for sending in SMS_SENDING_THROTTLES:
        assert sending.when_cache_down is WhenCacheDown.REFUSE  # type: ignore[attr-defined]
    for throttle in (
        ApiKeyRateThrottle,
        ClientIpRateThrottle,
        LogReadRateThrottle,
        LookupDistinctRateThrottle,
    ):
        assert throttle.when_cache_down is WhenCacheDown.COUNT_IN_PROCESS
