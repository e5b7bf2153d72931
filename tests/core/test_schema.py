"""The OpenAPI schema builds without warnings, its documentation pages need no CDN, and the
check of every response against it (tests/openapi.py) catches what the schema does not allow."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from tests.openapi import SchemaMismatchError, schema_check

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning and error into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert "/v1/keys" in (tmp_path / "s.yaml").read_text()


def _operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary_and_a_described_task_tag():
    document = SchemaGenerator().get_schema(request=None, public=True)
    described = [tag["name"] for tag in document["tags"]]
    for name, operation in _operations(document):
        assert operation.get("summary"), name
        assert len(operation["tags"]) == 1 and operation["tags"][0] in described, name
    used = {operation["tags"][0] for _, operation in _operations(document)}
    assert used == set(described)


def test_schema_endpoint_serves_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_from_this_service(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


# --- Every response the tests get is checked against the schema (tests/openapi.py) ---------------


def _altered(response, status=None, content_type=None, **changes):
    """``response`` with its status, content type or JSON fields changed (None removes one)."""
    body = json.loads(response.content)
    for name, value in changes.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    response.content = json.dumps(body).encode()
    if status is not None:
        response.status_code = status
    if content_type is not None:
        response["Content-Type"] = content_type
    return response


def test_a_response_as_the_schema_documents_it_passes(api_client):
    schema_check().check(api_client.get("/v1/me"))
    schema_check().check(api_client.get("/v1/numbers/+33612345678", {"service": "telepathy"}))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        pytest.param({"name": None}, "'name' is a required property", id="missing-field"),
        pytest.param({"name": 7}, "7 is not of type 'string'", id="wrong-type"),
        pytest.param({"scopes": ["all"]}, "Additional properties", id="undocumented-field"),
        pytest.param({"status": 418}, "Unknown response http status: 418", id="status"),
    ],
)
def test_a_response_the_schema_does_not_allow_fails(api_client, changes, why):
    response = api_client.get("/v1/me")
    status = changes.pop("status", None)
    with pytest.raises(SchemaMismatchError, match=re.escape(why)):
        schema_check().check(_altered(response, status=status, **changes))


def test_a_problem_is_checked_too(api_client):
    response = api_client.get("/v1/numbers/12")
    with pytest.raises(SchemaMismatchError, match="'title' is a required property"):
        schema_check().check(_altered(response, title=None))
    with pytest.raises(SchemaMismatchError, match="mimetype not found: application/json"):
        schema_check().check(_altered(response, content_type="application/json"))


def test_an_unknown_path_may_only_be_a_404_problem(api_client):
    response = api_client.get("/v1/nothing-here")
    schema_check().check(response)
    with pytest.raises(SchemaMismatchError, match="documents no such path"):
        schema_check().check(_altered(response, status=200))


def test_the_schema_names_this_instance_as_its_server(settings):
    document = SchemaGenerator().get_schema(request=None, public=True)
    assert [server["url"] for server in document["servers"]] == [settings.RS_PUBLIC_URL]
