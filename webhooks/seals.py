"""Endpoint secrets at rest: sealed with AES-GCM under a key derived from ``SECRET_KEY`` and
bound to the endpoint's id, as a challenge's code is (ca.codes). The database, the admin and
the logs never hold a secret in clear; a worker opens it only to sign a delivery.

Changing ``SECRET_KEY`` makes every sealed secret unreadable: rotate each endpoint's secret
afterwards (``POST /v1/webhooks/{id}/secret``).
"""

from __future__ import annotations

import base64
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils.crypto import salted_hmac

_NONCE_BYTES = 12


class SecretUnreadableError(ValueError):
    """A sealed secret that does not open: sealed under another SECRET_KEY, or tampered with."""


def _cipher() -> AESGCM:
    return AESGCM(salted_hmac("rs.webhooks.secret-seal", "v1", algorithm="sha256").digest())


def secret_seal(endpoint_id: uuid.UUID, secret: str) -> str:
    """``secret`` (``whsec_…``) encrypted for the endpoint's row: URL-safe base64 of the nonce
    and the ciphertext."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = nonce + _cipher().encrypt(nonce, secret.encode("ascii"), endpoint_id.bytes)
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def secret_open(endpoint_id: uuid.UUID, sealed: str) -> str:
    """The secret in ``sealed``; :class:`SecretUnreadableError` if it was not sealed for this
    endpoint under this ``SECRET_KEY``."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        plain = _cipher().decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], endpoint_id.bytes)
    except (ValueError, InvalidTag) as unreadable:
        raise SecretUnreadableError("the endpoint's secret does not open") from unreadable
    return plain.decode("ascii")
