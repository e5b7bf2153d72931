"""One-time SMS codes: made by a CSPRNG, kept only as an HMAC, sealed on their way to the sender.

The code must reach the worker that sends the SMS, which may run on another machine; it waits
in the outbox's row (``outbox.models.Message``) sealed (AES-GCM under a key derived from
``SECRET_KEY``, bound to the challenge id), so neither the database, the admin nor a log ever
holds it in clear, and the broker never holds it at all.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils.crypto import salted_hmac

MIN_DIGITS = 6
_NONCE_BYTES = 12


def code_generate(digits: int) -> str:
    """A uniformly random code of ``digits`` decimal digits (at least six)."""
    digits = max(digits, MIN_DIGITS)
    return str(secrets.randbelow(10**digits)).zfill(digits)


def code_digest(challenge_id: uuid.UUID, code: str) -> bytes:
    """What is stored: HMAC-SHA256 of the code keyed from ``SECRET_KEY``, bound to the challenge."""
    return salted_hmac(
        "rs.ca.challenge-code", f"{challenge_id}:{code}", algorithm="sha256"
    ).digest()


def code_matches(challenge_id: uuid.UUID, code: str, digest: bytes) -> bool:
    """Whether ``code`` is the challenge's code, compared in constant time."""
    return hmac.compare_digest(code_digest(challenge_id, code), bytes(digest))


def _seal_key() -> AESGCM:
    return AESGCM(salted_hmac("rs.ca.sms-seal", "v1", algorithm="sha256").digest())


def code_seal(challenge_id: uuid.UUID, code: str) -> str:
    """The code encrypted for its SMS's outbox message (URL-safe base64 of nonce and ciphertext)."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = nonce + _seal_key().encrypt(nonce, code.encode(), challenge_id.bytes)
    return base64.urlsafe_b64encode(sealed).decode()


class SealBrokenError(ValueError):
    """A sealed code that does not open: tampered with, or sealed under another SECRET_KEY."""


def code_unseal(challenge_id: uuid.UUID, sealed: str) -> str:
    """The code in ``sealed``; :class:`SealBrokenError` if it was not sealed for this challenge."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = _seal_key().decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], challenge_id.bytes)
    except (ValueError, InvalidTag) as broken:
        raise SealBrokenError("sealed code does not open for this challenge") from broken
    return plain.decode()
