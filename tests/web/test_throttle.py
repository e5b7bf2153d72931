"""The pages for people have a per-client-IP throttle ("html", RS_THROTTLE_HTML): the explorer's
pages compute proofs and charts, and nothing but a rate stops one client from asking for them
without end. Over the rate, a small HTML page with 429 and Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.web.logbuild import log_built_through_services

pytestmark = pytest.mark.django_db

RATE = 3
VISITOR = "203.0.113.7"
OTHER = "198.51.100.8"


@pytest.fixture
def html_rate(settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "html": f"{RATE}/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.mark.parametrize("url", ["/", "/explorer/", "/explorer/entries/", "/explorer/entries/0"])
def test_over_the_rate_a_page_answers_429_with_retry_after(
    html_rate: None, provider: Any, url: str
) -> None:
    log_built_through_services(provider)  # the entry page shows a proof
    client = Client()
    for _ in range(RATE):
        assert client.get(url, REMOTE_ADDR=VISITOR).status_code == 200
    response = client.get(url, REMOTE_ADDR=VISITOR)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert 0 < int(response["Retry-After"]) <= 60
    assert b"Too many requests" in response.content
    # Another client is not held back by this one.
    assert client.get(url, REMOTE_ADDR=OTHER).status_code == 200


def test_the_pages_share_one_budget_per_client(html_rate: None) -> None:
    client = Client()
    for url in ("/", "/explorer/entries/", "/"):
        assert client.get(url, REMOTE_ADDR=VISITOR).status_code == 200
    assert client.get("/explorer/", REMOTE_ADDR=VISITOR).status_code == 429


def test_the_default_rate_lets_a_person_browse(settings: Any) -> None:
    client = Client()
    for _ in range(30):
        assert client.get("/explorer/entries/", REMOTE_ADDR=VISITOR).status_code == 200


def test_a_client_that_asks_for_json_gets_a_problem(html_rate: None) -> None:
    client = Client()
    for _ in range(RATE):
        client.get("/", REMOTE_ADDR=VISITOR)
    response = client.get("/", REMOTE_ADDR=VISITOR, HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/problems/rate-limited") and body["status"] == 429
    assert body["retry_after"] == int(response["Retry-After"]) > 0
