"""/healthz reports the database, the keys and, when configured, the broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ca.authority import ca_keys
from tests.problems import assert_problem
from transparency.keys import log_keys

pytestmark = pytest.mark.django_db


def test_healthy_without_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["keys"] == {"status": "ok"}
    assert "broker" not in body


def test_unreachable_broker_is_503(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.fixture
def keys_reopened() -> Iterator[None]:
    """Keys this process opened are forgotten before and after the test, so it opens them
    with its own settings and the next test with the right ones."""
    log_keys.cache_clear()
    ca_keys.cache_clear()
    yield
    log_keys.cache_clear()
    ca_keys.cache_clear()


def test_keys_that_do_not_open_are_503(client, settings, keys_reopened):
    settings.CELERY_BROKER_URL = ""
    settings.RS_KEY_PASSPHRASE = "not-the-passphrase"
    response = client.get("/healthz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"]["keys"] == {"status": "down", "error": "ImproperlyConfigured"}
    assert body["checks"]["database"]["status"] == "ok"
    assert "passphrase" not in response.content.decode().lower()


def test_missing_keys_are_503(client, settings, tmp_path, keys_reopened):
    settings.CELERY_BROKER_URL = ""
    settings.RS_KEY_DIR = tmp_path
    body = assert_problem(client.get("/healthz"), 503, "service-unavailable")
    assert body["checks"]["keys"]["status"] == "down"
