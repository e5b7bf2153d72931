"""Shared fixtures. Tests run on real PostgreSQL: embedded, or ``DATABASE_URL`` when set."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings

from providers.services import IssuedKey, api_key_create
from tests.api_client import ApiClient
from tests.factories import ProviderFactory
from tests.openapi import (  # noqa: F401  # how many responses were checked, over xdist's workers too
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]
    where = "embedded PostgreSQL" if settings.RS_EMBEDDED_DATABASE else db.get("HOST")
    broker = settings.CELERY_BROKER_URL or "none (tasks run in-process)"
    return f"database: {where} ({db.get('NAME')}); broker: {broker}"


@pytest.fixture(scope="session", autouse=True)
def log_keys_ready(django_db_setup: Any, django_db_blocker: Any) -> None:
    """The log's and the CA's keys exist (in this session's RS_KEY_DIR, shared with child
    processes)."""
    from ca.authority import ca_bootstrap
    from transparency.keys import log_keys_bootstrap

    log_keys_bootstrap()
    ca_bootstrap()


@pytest.fixture
def json_logs() -> Iterator[Callable[[], str]]:
    """The service's logs as JSON lines at INFO; call the fixture for what was written so far.
    The test settings' console logs are back afterwards."""
    from core.logging import configure_logging

    written = io.StringIO()
    configure_logging(fmt="json", level="INFO", stream=written)
    try:
        yield written.getvalue
    finally:
        configure_logging(fmt="console", level="WARNING")


@pytest.fixture(autouse=True)
def sms_outbox() -> Any:
    """The locmem SMS backend's outbox, empty at the start of each test."""
    from ca.sms import locmem

    locmem.outbox.clear()
    locmem.failures.clear()
    return locmem.outbox


@pytest.fixture(autouse=True)
def log_heads_forgotten() -> None:
    """Each test's database starts empty: forget log heads, API keys and throttle state (the
    Django cache) an earlier test saw, perhaps at another time of its own (time-machine)."""
    from django.core.cache import cache

    from core.outages import broker_outage, cache_outage, database_outage
    from core.throttling import process_buckets
    from federation.selectors import claims_forget
    from providers.selectors import api_key_cache_clear
    from transparency.selectors import cache_clear

    cache_clear()
    api_key_cache_clear()
    claims_forget()
    cache.clear()
    # Nor an outage an earlier test provoked, nor what the throttles counted during it.
    cache_outage.forget()
    database_outage.forget()
    broker_outage.forget()
    process_buckets.clear()


@pytest.fixture(autouse=True)
def lookup_counts_forgotten() -> Iterator[None]:
    """Lookup counts not yet written (directory.metrics) belong to this test's database: never
    to the next test's, nor to whatever database the process sees when it exits."""
    from directory.metrics import lookup_counts_forget

    lookup_counts_forget()
    yield
    lookup_counts_forget()


@pytest.fixture
def crl(db: Any) -> Any:
    """The CRL ``manage.py bootstrap`` signs at startup: what ``GET /ca/crl`` serves and what
    PASSporTs of this CA are checked against (reads never sign one)."""
    from ca.services.crls import crl_refresh

    return crl_refresh()


@pytest.fixture
def invitation_key(db: Any) -> None:
    """The invitation key, as ``manage.py bootstrap`` makes it at the first start."""
    from invitations.keys import invitation_key_bootstrap

    invitation_key_bootstrap()


@pytest.fixture
def provider(db: Any) -> Any:
    return ProviderFactory()


@pytest.fixture
def issued_key(provider: Any) -> IssuedKey:
    return api_key_create(provider=provider, label="test")


@pytest.fixture
def client() -> ApiClient:
    """pytest-django's ``client``, as the tests' one client (tests.api_client)."""
    return ApiClient()


@pytest.fixture
def admin_client(admin_user: Any) -> ApiClient:
    """pytest-django's ``admin_client``, as the tests' one client (tests.api_client)."""
    client = ApiClient()
    client.force_login(admin_user)
    return client


@pytest.fixture
def anonymous_client() -> ApiClient:
    return ApiClient()


@pytest.fixture
def client_for(db: Any) -> Any:
    """``client_for(secret)``: an API client sending that key as a bearer token."""

    def make(secret: str) -> ApiClient:
        client = ApiClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def api_client(client_for: Any, issued_key: IssuedKey) -> ApiClient:
    client: ApiClient = client_for(issued_key.secret)
    return client
