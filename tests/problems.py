"""Assertions on RFC 9457 problem responses."""

from __future__ import annotations

import json
from typing import Any


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The response is problem+json with this status and type; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}")
    assert body["title"] and body["detail"]
    return body
