"""JSON bodies nested deeper than Python recurses are a 400 on every JSON endpoint, not a 500
(issue 16, item 8): DRF's parser lets RecursionError through, core.parsers does not."""

from __future__ import annotations

from typing import Any

import pytest

from ca.models import Challenge
from providers.models import ApiKey
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

# Deeper than Python's recursion limit, well under the request size limit.
DEPTH = 5000


@pytest.mark.parametrize(
    "path", ["/v1/challenges", "/v1/keys", "/v1/passports/verify", "/v1/certificates"]
)
def test_json_nested_deeper_than_python_recurses_is_malformed(api_client: Any, path: str) -> None:
    keys = ApiKey.objects.count()

    for body in ("[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH):
        response = api_client.post(path, body, content_type="application/json")
        assert_problem(response, 400, "malformed-request")

    assert not Challenge.objects.exists()
    assert ApiKey.objects.count() == keys


def test_a_number_too_long_for_python_to_read_is_malformed(api_client: Any) -> None:
    response = api_client.post(
        "/v1/challenges", '{"number": ' + "9" * 5000 + "}", content_type="application/json"
    )

    assert_problem(response, 400, "malformed-request")
    assert not Challenge.objects.exists()
