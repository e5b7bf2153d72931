"""Tests for resolution.protocol.canonical."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.canonical import (
    CanonicalJSONError,
    canonical_json,
    is_canonical,
    parse_canonical,
)


def test_encoding() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"é": "ü\u2028", "A": ""}, "c": '"\\\n'}
    want = '{"a":{"A":"","é":"ü\u2028"},"b":[1,2.5,null,true],"c":"\\"\\\\\\n"}'
    assert canonical_json(value) == want.encode("utf-8")
    assert canonical_json([]) == b"[]"
    assert canonical_json("x") == b'"x"'
    assert canonical_json((1, 2)) == b"[1,2]"


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key"},
        {"ok": {None: 1}},
        [{"a": {True: 1}}],
        {(1, 2): 3},
        math.nan,
        {"x": math.inf},
        [-math.inf],
        {"x": {1, 2}},
        {"x": b"bytes"},
        {"x": "\ud800"},
        object(),
    ],
)
def test_encoding_rejects(value: Any) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(value)


def test_parse() -> None:
    data = '{"a":{"A":"","é":"ü"},"b":[1,-0.5,null,false],"n":12345678901234567890}'.encode()
    value = parse_canonical(data)
    assert value["a"]["é"] == "ü"
    assert value["n"] == 12345678901234567890
    assert is_canonical(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" ",
        b"{",
        b'{"a":1} ',
        b' {"a":1}',
        b'{"a": 1}',
        b'{"a":1,"a":1}',
        b'{"b":1,"a":2}',
        b'{"a":"\\u00e9"}',
        b'{"a":"\\/"}',
        b'{"a":1.0e0}',
        b'{"a":1E2}',
        b'{"a":-0}',
        b'{"a":01}',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":"\xff"}',
        b'\xef\xbb\xbf{"a":1}',
        '{"a":1}'.encode("utf-16"),
        b'{"a":"\xed\xa0\x80"}',
        b'{"a":"\\ud800"}',
        b"[1]",
        b'"a"',
        b"1",
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_parse_rejects(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        parse_canonical(data)


def test_duplicate_key_message() -> None:
    with pytest.raises(CanonicalJSONError, match="duplicate object key 'k'"):
        parse_canonical(b'{"k":1,"z":{},"k":2}')


def test_is_canonical_accepts_any_canonical_value() -> None:
    assert is_canonical(b"[1,2]")
    assert is_canonical(b'"x"')
    assert not is_canonical(b"[1, 2]")
    assert not is_canonical(b"not json")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), json_values))
def test_round_trip(value: dict[str, Any]) -> None:
    data = canonical_json(value)
    assert is_canonical(data)
    assert parse_canonical(data) == value
    # Any other spelling of the same value is rejected.
    spaced = json.dumps(value, sort_keys=True, indent=1).encode()
    if spaced != data:
        assert not is_canonical(spaced)


def test_package_never_imports_django() -> None:
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, resolution.protocol.canonical, resolution.protocol.merkle, "
        "resolution.protocol.tiles, resolution.protocol.note, resolution.protocol.checkpoint; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
