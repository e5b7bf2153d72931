"""The service's invitation key: the P-256 key that signs SPINvitations (ES256).

Its own key, not the CA's: the issuing CA's key signs certificates and CRLs and nothing else,
so that no token the service hands out can be mistaken for, or turned into, one of those; the
log's keys are Ed25519 (checkpoints, VRF), which ES256 cannot use. Like them it is a PKCS #8
file under ``RS_KEY_DIR`` encrypted with ``RS_KEY_PASSPHRASE``; ``manage.py bootstrap``
creates it (:func:`invitation_key_bootstrap`). Its public half is served as a JWK Set at
``/invitations/keys``, named by its RFC 7638 thumbprint (the SPINvitation's ``kid``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.keyfiles import key_file_create, key_file_load
from resolution.protocol.invitation import jwk_of, jwk_thumbprint

INVITATION_KEY_FILE = "invitation-p256.pem"


def invitation_key_bootstrap() -> str:
    """Create the invitation key if missing (idempotent); say what was done."""
    path = Path(settings.RS_KEY_DIR) / INVITATION_KEY_FILE
    created = key_file_create(path, ec.generate_private_key(ec.SECP256R1()))
    invitation_key.cache_clear()
    kid = jwk_thumbprint(invitation_key().public_key())  # proves the passphrase opens it
    return f"Invitation key {'created' if created else 'found'} in {path.parent}; kid {kid}"


@functools.cache
def invitation_key() -> ec.EllipticCurvePrivateKey:
    """The invitation key, loaded and decrypted once per process."""
    key = key_file_load(Path(settings.RS_KEY_DIR) / INVITATION_KEY_FILE)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured("the invitation key is not a P-256 key")
    return key


def invitation_jwks() -> dict[str, list[dict[str, str]]]:
    """The JWK Set of the invitation key's public half (RFC 7517 §5)."""
    public_key = invitation_key().public_key()
    jwk = jwk_of(public_key) | {
        "kid": jwk_thumbprint(public_key),
        "use": "sig",
        "alg": "ES256",
    }
    return {"keys": [jwk]}
