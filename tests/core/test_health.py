"""/healthz reports the database and, when configured, the broker."""

from __future__ import annotations

import pytest

from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_healthy_without_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert "broker" not in body


def test_unreachable_broker_is_503(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
