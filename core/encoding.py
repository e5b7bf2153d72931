"""Bytes in the API's JSON: standard, padded base64 (RFC 4648 §4)."""

from __future__ import annotations

import binascii


def b64(data: bytes) -> str:
    """``data`` as standard, padded base64 (RFC 4648 §4), the API's text form of bytes."""
    # binascii directly: a lookup encodes some seventy hashes and blobs.
    return binascii.b2a_base64(data, newline=False).decode("ascii")
