"""Every error the API returns is RFC 9457 problem+json, never an HTML page or a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import path
from rest_framework.request import Request
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urls
from core.guides import problem_sections
from core.middleware import CONTENT_SECURITY_POLICY
from core.problems import problem_catalogue
from providers.models import ApiKey
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


class Exploding(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> None:
        raise RuntimeError("secret internal detail")


urlpatterns = [path("test/explode", Exploding.as_view()), *project_urls]
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"


def test_unknown_url_is_404_problem(api_client):
    assert_problem(api_client.get("/v1/no-such-thing"), 404, "not-found")
    assert_problem(api_client.get("/nothing/here", HTTP_ACCEPT="text/html"), 404, "not-found")


@pytest.mark.parametrize("path", ["/v1/no-such-thing", "/log/no-such-thing", "/ca/nothing"])
def test_unknown_api_url_is_404_problem_with_debug_too(api_client, settings, path):
    # manage.py serve runs with DEBUG on by default: its API answers as production's does.
    settings.DEBUG = True
    assert_problem(api_client.get(path), 404, "not-found")


def test_wrong_method_is_405_problem_with_allow(api_client):
    response = api_client.delete("/v1/me")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response["Allow"]


def test_non_json_body_is_415_problem_and_creates_nothing(api_client):
    before = ApiKey.objects.count()
    response = api_client.post(
        "/v1/keys", "label=x", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert ApiKey.objects.count() == before


def test_malformed_json_is_400_problem(api_client):
    response = api_client.post("/v1/keys", "{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-request")


def test_oversized_body_is_413_problem(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"label": "x" * 2000})
    response = api_client.post("/v1/keys", body, content_type="application/json")
    assert_problem(response, 413, "request-too-large")


def test_throttled_request_is_429_problem_with_retry_after(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/minute", "client_ip": "100/minute"},
    }
    assert api_client.get("/v1/me").status_code == 200
    assert api_client.get("/v1/me").status_code == 200
    response = api_client.get("/v1/me")
    body = assert_problem(response, 429, "rate-limited")
    assert 0 < int(response["Retry-After"]) <= 60
    assert body["retry_after"] == int(response["Retry-After"])


def test_server_error_is_500_problem_without_internals(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.get("/test/explode")
    body = assert_problem(response, 500, "server-error")
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in body["detail"]


def test_problem_type_uri_documents_the_problem(client):
    response = client.get("/problems/rate-limited")
    assert response.status_code == 200
    assert response.json()["status"] == 429
    # Domain problems of every app are documented too.
    assert client.get("/problems/log-range").json()["status"] == 400
    page = client.get("/problems/rate-limited", HTTP_ACCEPT="text/html")
    assert page["Content-Type"].startswith("text/html") and b"Too many requests" in page.content


def _every_problem_type() -> dict[str, tuple[int, str]]:
    """The catalogue once every module that may define a problem type is imported."""
    import importlib
    import pkgutil

    from django.apps import apps

    import config.urls  # noqa: F401  # the views, and the problems they define

    for app in apps.get_app_configs():
        if app.name.split(".")[0] in {"django", "rest_framework", "drf_spectacular", "axes"}:
            continue
        for module in pkgutil.walk_packages([app.path], f"{app.name}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)
    return problem_catalogue()


def test_every_problem_type_has_its_causes_and_fixes():
    sections = problem_sections()
    missing = sorted(set(_every_problem_type()) - set(sections))
    assert missing == [], f"docs/problems.md has no section for {missing}"
    for slug, body in sections.items():
        assert "**Causes.**" in body and "**Fixes.**" in body, slug
    assert sorted(set(sections) - set(problem_catalogue())) == [], "sections for no problem"


def test_a_problem_page_gives_its_causes_and_fixes(client):
    page = client.get("/problems/challenge-expired", HTTP_ACCEPT="text/html")
    content = page.content.decode()
    assert page["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<strong>Causes.</strong>" in content and "Start a new challenge" in content
    assert 'href="/docs/problems/"' in content
