"""Canonical JSON: the one byte encoding of a JSON value that gets hashed, logged and signed.

The encoding is ``json.dumps`` with object keys sorted (by code point), no whitespace
(separators ``","`` and ``":"``), non-ASCII characters written as UTF-8 rather than
``\\uXXXX`` escapes, and no NaN or infinities.  Object keys must be strings.  This is *not*
RFC 8785 (JCS): keys sort by code point rather than UTF-16 unit, and floats use Python's
``repr``.  Records that must be canonical should avoid floats altogether.

``parse_canonical`` accepts a document only if re-encoding its value gives back the same
bytes, so there is exactly one accepted spelling of every value: no whitespace, no
escaped-but-printable characters, no key reordering, no duplicate keys, no ``1.0e0``.

Public API: ``CanonicalJSONError``, ``canonical_json``, ``is_canonical``, ``parse_canonical``.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


class CanonicalJSONError(ValueError):
    """A value cannot be canonically encoded, or a document is not canonical JSON."""


def _check_keys(value: object) -> None:
    # json.dumps silently turns int, float, bool and None keys into strings, so two different
    # values could share one encoding; only string keys are allowed.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise CanonicalJSONError(f"object key {key!r} is not a string")
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def canonical_json(value: object) -> bytes:
    """Return the canonical JSON encoding of ``value`` as UTF-8 bytes.

    Raises ``CanonicalJSONError`` for non-string keys, NaN or infinities, values JSON cannot
    represent, and strings holding lone surrogates.
    """
    _check_keys(value)
    try:
        return _encoder.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise CanonicalJSONError(f"value has no canonical JSON encoding: {exc}") from None


def _reject_constant(name: str) -> NoReturn:
    raise CanonicalJSONError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalJSONError(f"duplicate object key {key!r}")
            seen.add(key)
    return obj


def json_parse_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON strictly: no duplicate member names, no NaN or Infinity."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except CanonicalJSONError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CanonicalJSONError(f"not JSON: {exc}") from None


def _check_canonical(data: bytes, value: Any) -> None:
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is not in canonical form")


def is_canonical(data: bytes) -> bool:
    """Return whether ``data`` is a JSON value (of any type) in canonical form."""
    try:
        _check_canonical(data, json_parse_strict(data))
    except CanonicalJSONError:
        return False
    return True


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse canonical JSON that must be an object; raise ``CanonicalJSONError`` otherwise."""
    value = json_parse_strict(data)
    if not isinstance(value, dict):
        raise CanonicalJSONError(f"JSON value is a {type(value).__name__}, not an object")
    _check_canonical(data, value)
    return value
