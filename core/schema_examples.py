"""OpenAPI examples, taken from real answers of this service.

``openapi_examples.json`` beside this module holds, for each operation (by operation id), the
request body and the answer of each status that a walk through every operation got from the
service: the test that makes that walk (tests/core/test_examples.py) checks that each example
still has the shape of what the service answers today, and writes the file anew when asked
(``RS_UPDATE_EXAMPLES=1``). :func:`examples_postprocess` puts them in the schema: a request
body's ``example``, each response's ``example``, and for a problem, ``examples`` named by the
problem's slug. The payload of a signed request (a compact JWS, ``application/jose``) is shown
decoded on its payload schema too, so a reader sees what to sign.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings

EXAMPLES_PATH = Path(__file__).with_name("openapi_examples.json")

JWS_MEDIA_TYPE = "application/jose"
PROBLEM_MEDIA_TYPE = "application/problem+json"


# Where the walk's answers were served from (the tests' RS_PUBLIC_URL): in the schema, the
# problem types and certificate URLs of the examples name this instance instead.
RECORDED_URL = "http://testserver"


@functools.cache
def _recorded_text() -> str:
    return EXAMPLES_PATH.read_text(encoding="utf-8")


def recorded_examples() -> dict[str, Any]:
    """``{operation_id: {"request": {media: body}, "responses": {status: {media: body}},
    "problems": {status: {slug: body}}}}``, as the file holds them, with this instance's URL."""
    # Within JSON strings: the URL has no character JSON escapes.
    text = _recorded_text().replace(f'"{RECORDED_URL}', f'"{settings.RS_PUBLIC_URL}')
    examples: dict[str, Any] = json.loads(text)
    return examples


def jws_payload_of(token: str) -> Any:
    """The JSON payload of a compact JWS, or None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None


def examples_postprocess(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Each operation's recorded examples, where the schema documents that body."""
    examples = recorded_examples()
    schemas = result.get("components", {}).get("schemas", {})
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict) or operation.get("operationId") not in examples:
                continue
            recorded = examples[operation["operationId"]]
            _request_examples(operation, recorded.get("request", {}), schemas)
            _response_examples(operation, recorded.get("responses", {}))
            _problem_examples(operation, recorded.get("problems", {}))
    return result


def _request_examples(
    operation: dict[str, Any], recorded: dict[str, Any], schemas: dict[str, Any]
) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    for media, body in recorded.items():
        if media not in content:
            continue
        content[media]["example"] = body
        if media == JWS_MEDIA_TYPE:
            _payload_example(operation, body, schemas)


def _payload_example(operation: dict[str, Any], token: str, schemas: dict[str, Any]) -> None:
    """The decoded payload of a signed request, on the payload's schema (core.schema)."""
    reference = operation.get("x-jws-payload", {}).get("$ref", "")
    payload = jws_payload_of(token)
    name = reference.rpartition("/")[2]
    if payload is not None and name in schemas:
        schemas[name]["example"] = payload


def _response_examples(operation: dict[str, Any], recorded: dict[str, Any]) -> None:
    for status, bodies in recorded.items():
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        for media, body in bodies.items():
            if media in content:
                content[media]["example"] = body


def _problem_examples(operation: dict[str, Any], recorded: dict[str, Any]) -> None:
    for status, problems in recorded.items():
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        if PROBLEM_MEDIA_TYPE not in content:
            continue
        content[PROBLEM_MEDIA_TYPE]["examples"] = {
            slug: {"summary": body.get("title", slug), "value": body}
            for slug, body in sorted(problems.items())
        }
