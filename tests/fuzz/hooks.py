"""Schemathesis hooks for tests/fuzz/run_schemathesis.sh (SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

Signed requests are ``application/jose`` bodies (a compact JWS, RFC 7515 §7.1), which
schemathesis cannot serialise by itself: send what it generates as the UTF-8 text it is, so
that the signed endpoints are fuzzed too (their answers must be 4xx, never 5xx).

A well-formed ``Idempotency-Key`` is made new for each request, as a client makes one per
request: the fuzzer shrinks the keys it draws to a few values, and sending one key with another
body is rightly 422 (idempotency-key-reused), which would otherwise have to be accepted as an
answer to any request. A malformed key is sent as drawn, to be refused with 400.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation


@schemathesis.serializer("application/jose")
def jose_serializer(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "surrogatepass")


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers
    if not headers or "Idempotency-Key" not in headers:
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return  # headers drawn to break the schema: the key may be the malformed one
    headers["Idempotency-Key"] = str(uuid.uuid4())
