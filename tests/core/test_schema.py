"""The OpenAPI schema builds without warnings, its documentation pages need no CDN, and the
check of every response against it (tests/openapi.py) catches what the schema does not allow."""

from __future__ import annotations

import copy
import json
import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from core.problems import problem_catalogue
from tests.openapi import PROBLEM_CONTENT_TYPE, SchemaMismatchError, schema_check

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


def test_a_problem_type_its_operation_does_not_declare_fails(api_client, settings):
    response = api_client.get("/v1/numbers/12")
    assert response.json()["type"].endswith("/problems/number-malformed")
    undeclared = f"{settings.RS_PUBLIC_URL}/problems/challenge-code-wrong"
    with pytest.raises(
        SchemaMismatchError,
        match=r"operation numbers_lookup does not declare the problem type "
        r"'challenge-code-wrong' for 400 .*core\.schema\.problem",
    ):
        schema_check().check(_altered(response, type=undeclared))


def test_an_unknown_path_may_only_be_a_404_problem(api_client):
    response = api_client.get("/v1/nothing-here")
    schema_check().check(response)
    with pytest.raises(SchemaMismatchError, match="documents no such path"):
        schema_check().check(_altered(response, status=200))


def test_the_schema_names_this_instance_as_its_server(settings):
    document = SchemaGenerator().get_schema(request=None, public=True)
    assert [server["url"] for server in document["servers"]] == [settings.RS_PUBLIC_URL]


# --- Each problem response names the problem types it may carry (core.schema.problem) ----------


def _problem_type_errors(document):
    """What is wrong with the problem types the operations of ``document`` declare."""
    catalogue = problem_catalogue()
    errors = []
    for name, operation in _operations(document):
        for status, response in operation["responses"].items():
            if PROBLEM_CONTENT_TYPE not in response.get("content", {}):
                continue
            slugs = response.get("x-problem-types")
            if not slugs:
                errors.append(f"{name} {status}: no x-problem-types")
                continue
            if slugs != sorted(set(slugs)):
                errors.append(f"{name} {status}: x-problem-types not sorted: {slugs}")
            for slug in slugs:
                if slug not in catalogue:
                    errors.append(f"{name} {status}: {slug!r} is no problem type")
                elif str(catalogue[slug][0]) != status:
                    errors.append(f"{name} {status}: {slug!r} is a {catalogue[slug][0]}")
                elif f"[`{slug}`](/problems/{slug}): " not in response["description"]:
                    errors.append(f"{name} {status}: {slug!r} is not linked in the description")
    return errors


def test_every_problem_response_names_its_problem_types_under_their_status():
    document = SchemaGenerator().get_schema(request=None, public=True)
    assert _problem_type_errors(document) == []


def test_a_problem_type_declared_under_another_status_or_none_is_found():
    document = SchemaGenerator().get_schema(request=None, public=True)
    broken = copy.deepcopy(document)
    verify = broken["paths"]["/v1/challenges/{challenge_id}/verify"]["post"]["responses"]
    verify["404"]["x-problem-types"].append("rate-limited")
    verify["410"].pop("x-problem-types")
    assert _problem_type_errors(broken) == [
        "POST /v1/challenges/{challenge_id}/verify 404: 'rate-limited' is a 429",
        "POST /v1/challenges/{challenge_id}/verify 410: no x-problem-types",
    ]


def test_a_status_a_view_and_the_shared_machinery_both_declare_has_both_problem_types():
    document = SchemaGenerator().get_schema(request=None, public=True)
    responses = document["paths"]["/v1/challenges/{challenge_id}/verify"]["post"]["responses"]
    # challenge-code-wrong is the view's; the others come from its JSON body and its
    # Idempotency-Key (core.schema.AutoSchema._shared_problems).
    assert {
        "challenge-code-wrong",
        "malformed-request",
        "validation-error",
        "idempotency-key-invalid",
    } <= set(responses["400"]["x-problem-types"])
    assert {"challenge-not-found", "not-found"} <= set(responses["404"]["x-problem-types"])
    described = responses["400"]["description"]
    assert described.startswith("`attempts_left` says how many remain.")
    assert "- [`challenge-code-wrong`](/problems/challenge-code-wrong): Wrong code" in described
