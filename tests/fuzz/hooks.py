"""Schemathesis hooks for tests/fuzz/run_schemathesis.sh (SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

Signed requests are ``application/jose`` bodies (a compact JWS, RFC 7515 §7.1), which
schemathesis cannot serialise by itself: send what it generates as the UTF-8 text it is, so
that the signed endpoints are fuzzed too (their answers must be 4xx, never 5xx).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/jose")
def jose_serializer(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "surrogatepass")
