"""Invitations (DESIGN §7.5): the inviter's signed request, and the SPINvitation the service
sends the invited number, for the server that makes them and the apps that read them.

The request is a compact JWS (ES256) made with the inviter's number certificate key, its header
naming the certificate by serial (``kid``), over ``INVITE_FIELDS``::

    {"to": "+33698765432", "service": "messaging", "iat": 1767225600, "jti": "..."}

The SPINvitation is a PASSporT-style compact JWS (RFC 8225 shapes) signed by the service's own
invitation key (ES256, P-256; not the CA's key, which signs only certificates and CRLs)::

    header   {"alg": "ES256", "typ": "spinvitation", "kid": <RFC 7638 thumbprint of the key>}
    claims   {"orig": {"tn": "33612345678"}, "dest": {"tn": ["33698765432"]},
              "service": "messaging", "iat": 1767225600, "exp": 1769817600,
              "jti": <the invitation's id>, "callback": <the invitation's URL at the service>}

``tn`` values are digits only (RFC 8224 §8.3). The service publishes its invitation key as a
JWK Set (RFC 7517 §5) at ``/invitations/keys``; ``kid`` picks the key. A reader checks the
signature with :func:`spinvitation_verify`, then trusts ``orig`` as the number the service saw
proven (the inviter held a valid number certificate for it when it asked).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from resolution.protocol.canonical import CanonicalJSONError, canonical_json
from resolution.protocol.jose import (
    JoseError,
    b64url_decode,
    b64url_encode,
    jws_parse,
    jws_payload_json,
    jws_sign,
    jws_verify,
)

INVITE_FIELDS: Final = frozenset({"to", "service", "iat", "jti"})
"""The payload of an inviter's request (``POST /v1/invitations``)."""

SPINVITATION_TYPE: Final = "spinvitation"
"""The ``typ`` of a SPINvitation's header."""

SPINVITATION_CLAIMS: Final = frozenset({"orig", "dest", "service", "iat", "exp", "jti", "callback"})
"""The claims every SPINvitation carries, and no others."""

_COORDINATE_SIZE: Final = 32


class SpinvitationError(ValueError):
    """A token that is not a SPINvitation signed by the key given; the message says why."""


@dataclass(frozen=True)
class Spinvitation:
    """A verified SPINvitation: ``orig`` invited ``dest`` (E.164, with ``+``) to ``service``."""

    orig: str
    dest: str
    service: str
    issued_at: int
    expires_at: int
    invitation: str
    callback: str


def jwk_of(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK of a P-256 key (RFC 7518 §6.2.1), its members only: no ``kid``."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORDINATE_SIZE, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORDINATE_SIZE, "big")),
    }


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of the key's JWK: its ``kid``."""
    # RFC 7638 §3.2: the required members, in lexicographic order, no whitespace.
    return b64url_encode(hashlib.sha256(canonical_json(jwk_of(public_key))).digest())


def jwk_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 key of a JWK; ``SpinvitationError`` for anything else."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise SpinvitationError("the key is not an EC P-256 JWK")
    try:
        x, y = b64url_decode(jwk["x"]), b64url_decode(jwk["y"])
        if len(x) != _COORDINATE_SIZE or len(y) != _COORDINATE_SIZE:
            raise ValueError("coordinates of 32 bytes")
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except (KeyError, TypeError, ValueError, JoseError) as error:
        raise SpinvitationError(f"the JWK's coordinates are not a P-256 point: {error}") from None


def spinvitation_sign(
    *,
    key: ec.EllipticCurvePrivateKey,
    orig: str,
    dest: str,
    service: str,
    issued_at: int,
    expires_at: int,
    invitation: str,
    callback: str,
) -> str:
    """The SPINvitation of invitation ``invitation``, signed with ``key`` (the service's)."""
    claims = {
        "orig": {"tn": orig.removeprefix("+")},
        "dest": {"tn": [dest.removeprefix("+")]},
        "service": service,
        "iat": issued_at,
        "exp": expires_at,
        "jti": invitation,
        "callback": callback,
    }
    header = {"alg": "ES256", "typ": SPINVITATION_TYPE, "kid": jwk_thumbprint(key.public_key())}
    return jws_sign(header, canonical_json(claims), key)


def _tn(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.isdigit() or not 1 <= len(value) <= 15:
        raise SpinvitationError(f"{what} is not 1 to 15 digits")
    return f"+{value}"


def spinvitation_verify(
    token: str, public_key: ec.EllipticCurvePublicKey, *, now: int | None = None
) -> Spinvitation:
    """Check ``token``'s signature with ``public_key`` and its claims' shapes (and, when ``now``
    is given, that it has not expired); the invitation it carries."""
    try:
        parsed = jws_parse(token)
        if parsed.header.get("typ") != SPINVITATION_TYPE:
            raise SpinvitationError(f"the header's typ is not {SPINVITATION_TYPE!r}")
        jws_verify(parsed, public_key)
        claims = jws_payload_json(parsed)
    except (JoseError, CanonicalJSONError) as error:
        raise SpinvitationError(str(error)) from None
    if claims.keys() != SPINVITATION_CLAIMS:
        want = sorted(SPINVITATION_CLAIMS)
        raise SpinvitationError(f"the claims are {sorted(claims)}, want {want}")
    orig, dest = claims["orig"], claims["dest"]
    if not isinstance(orig, dict) or orig.keys() != {"tn"}:
        raise SpinvitationError("orig is not {'tn': digits}")
    if not isinstance(dest, dict) or dest.keys() != {"tn"} or not isinstance(dest["tn"], list):
        raise SpinvitationError("dest is not {'tn': [digits]}")
    if len(dest["tn"]) != 1:
        raise SpinvitationError("a SPINvitation invites exactly one number")
    for name in ("iat", "exp"):
        if type(claims[name]) is not int:
            raise SpinvitationError(f"{name} is not an integer")
    for name in ("service", "jti", "callback"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise SpinvitationError(f"{name} is not a non-empty string")
    if now is not None and claims["exp"] <= now:
        raise SpinvitationError("the invitation has expired")
    return Spinvitation(
        orig=_tn(orig["tn"], "orig.tn"),
        dest=_tn(dest["tn"][0], "dest.tn"),
        service=claims["service"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        invitation=claims["jti"],
        callback=claims["callback"],
    )
