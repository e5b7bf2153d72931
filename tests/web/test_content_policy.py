"""Every page loads only what this service serves: a strict CSP, and no other host named."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User

from core.middleware import API_DOCS_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY
from tests.web.logbuild import BuiltLog, log_built_through_services

pytestmark = pytest.mark.django_db

# A URL naming a host, anywhere in the page.
ABSOLUTE_URL = re.compile(r"""https?://([A-Za-z0-9.\-]+(?::\d+)?)""", re.I)
# Where a browser would fetch something by itself (attributes and CSS that load resources),
# with a host: absolute or protocol-relative ("//host/...").
LOADING = re.compile(
    r"""(?:\b(?:src|href|srcset|action|data|poster|formaction)\s*=\s*["']?|url\(\s*["']?"""
    r"""|@import\s+["']?)\s*((?:https?:)?//[^\s"')>]+)""",
    re.I,
)
# Namespaces are names, not requests.
NAMESPACES = {"www.w3.org"}


@pytest.fixture
def log(provider: Any) -> BuiltLog:
    return log_built_through_services(provider)


@pytest.fixture
def staff(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("root", "root@example.net", "pw"))
    return client


def pages(log: BuiltLog) -> list[str]:
    return [
        "/",
        "/explorer/",
        "/explorer/?period=24h",
        "/explorer/entries/",
        f"/explorer/entries/{log.handler_index}",
        f"/explorer/entries/{log.size + 10}",  # the 404 page
        "/admin/",
        "/admin/dashboard/",
        "/admin/dashboard/?period=7d",
        "/admin/transparency/entry/",
        "/admin/ca/challengevolume/",
    ]


def external_references(content: str) -> list[str]:
    """Every URL in the page that names a host, and every resource loaded from a host."""
    hosts = [host for host in ABSOLUTE_URL.findall(content) if host not in NAMESPACES]
    loads = [url for url in LOADING.findall(content) if "www.w3.org" not in url]
    return [host for host in hosts if host.split(":")[0] != "testserver"] + loads


def test_every_page_has_the_strict_policy_and_names_no_other_host(
    staff: Any, log: BuiltLog
) -> None:
    for url in pages(log):
        response = staff.get(url)
        assert response.status_code in (200, 404), url
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
        content = response.content.decode()
        assert external_references(content) == [], url
        assert "<script>" not in content and " onload=" not in content, url
        assert "fonts.g" not in content and "@font-face" not in content, url


def test_the_policy_allows_only_our_own_scripts_styles_and_connections() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_run_only_our_scripts_and_load_no_fonts_from_elsewhere(
    client: Any, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == API_DOCS_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in API_DOCS_CONTENT_SECURITY_POLICY
    content = response.content.decode()
    assert external_references(content) == []
    assert "<script>" not in content  # Swagger UI's settings come from a script of ours


def test_swagger_ui_settings_are_a_script_of_its_own(client: Any) -> None:
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.content.decode()


def test_json_and_files_carry_no_page_policy(client: Any, log: BuiltLog) -> None:
    assert "Content-Security-Policy" not in client.get("/v1/log/checkpoint")
    assert "Content-Security-Policy" not in client.get("/log/checkpoint")
    assert "Content-Security-Policy" not in client.get("/static/web/logcheck.js")


def test_scripts_and_styles_are_served_by_the_service(client: Any, db: Any) -> None:
    for path in (
        "web/logcheck.js",
        "web/badge.js",
        "web/entry.js",
        "web/explorer.js",
        "web/site.css",
        "web/charts.css",
        "web/dashboard.css",
    ):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content)
        assert not LOADING.findall(body.decode()), path
        # ES modules import only each other, by relative path.
        for target in re.findall(rb'from "([^"]+)"', body):
            assert target.startswith(b"./"), (path, target)
