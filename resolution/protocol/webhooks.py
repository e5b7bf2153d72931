"""Standard Webhooks 1.0 signatures, symmetric (``v1``): how the service signs each webhook it
sends and how a receiver checks one (``resolution.client.webhooks``).

The secret is 24 to 64 random bytes, shown as ``whsec_`` and their base64. A delivery carries
three headers: ``webhook-id`` (the event's id, the same on every retry: the receiver's key for
deduplication), ``webhook-timestamp`` (the attempt's time, integer Unix seconds) and
``webhook-signature``, a space-separated list of ``v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}`` with the body's exact bytes. Several signatures let a sender sign
with an old and a new secret while a receiver moves from one to the other.

The maintained ``standardwebhooks`` package does the same in a few lines, but pulls in six
packages (attrs, python-dateutil, Deprecated and stub packages among them) and raises
``ValueError`` rather than its own error on a malformed signature list: the scheme is written
here, and checked against the reference libraries' example in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import Final

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 — a prefix, not a secret
SECRET_BYTES: Final = 32
# What the specification allows a symmetric secret to be: 192 to 512 bits.
SECRET_SIZES: Final = range(24, 65)
SIGNATURE_VERSION: Final = "v1"
# An event id as the service makes them (msg_ and 26 base62 characters), and as a receiver must
# accept them: no ".", which delimits the signed content.
EVENT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class SecretError(ValueError):
    """Not a Standard Webhooks symmetric secret."""


def secret_generate() -> str:
    """A new secret: :data:`SECRET_BYTES` from the CSPRNG, as ``whsec_<base64>``."""
    return secret_format(secrets.token_bytes(SECRET_BYTES))


def secret_format(key: bytes) -> str:
    """``key`` as its owner sees it: ``whsec_`` and its standard base64."""
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_parse(text: str) -> bytes:
    """The key in a ``whsec_`` secret (the prefix may be left out, as the reference libraries
    allow); :class:`SecretError` when it is not one."""
    encoded = text.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("a webhook secret is whsec_ followed by base64") from None
    if len(key) not in SECRET_SIZES:
        raise SecretError(
            f"a webhook secret holds {SECRET_SIZES.start} to {SECRET_SIZES.stop - 1} bytes"
        )
    return key


def event_id_generate() -> str:
    """A new event id: ``msg_`` and 26 base62 characters (151 random bits)."""
    return "msg_" + "".join(secrets.choice(_BASE62) for _ in range(26))


def signed_content(*, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What the signature covers: ``{id}.{timestamp}.{body}``."""
    return f"{msg_id}.{timestamp}.".encode() + body


def _mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    content = signed_content(msg_id=msg_id, timestamp=timestamp, body=body)
    return hmac.new(key, content, hashlib.sha256).digest()


def signature(key: bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` signature of a delivery, as the ``webhook-signature`` header lists it."""
    mac = _mac(key, msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"


def signature_matches(key: bytes, *, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any ``v1`` signature the header lists is the delivery's, each compared in
    constant time; entries of other versions or malformed are passed over."""
    expected = _mac(key, msg_id, timestamp, body)
    matched = False
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every entry is compared: the time taken does not tell which one matched.
        matched |= hmac.compare_digest(expected, candidate)
    return matched
