"""Compact JWS signed with ES256: ECDSA on P-256 with SHA-256 (RFC 7515, RFC 7518 §3.4).

Requests signed with a number certificate's P-256 key, and PASSporTs (RFC 8225), are compact
JWS tokens ``b64url(header) "." b64url(payload) "." b64url(signature)`` (RFC 7515 §7.1).  This
module signs and verifies exactly that and nothing more: one algorithm, ES256; no ``crit``
extensions; no JSON serialisation; no unencoded payloads (RFC 7797).

The parser is strict, so that a token has few spellings and a bad one fails before any
cryptography runs: at most ``MAX_JWS_SIZE`` characters; three segments; unpadded base64url
with no stray characters and zero pad bits; a header that is a JSON object without duplicate
member names (RFC 7515 §4 lets a parser reject them) whose ``alg`` is ``"ES256"``
(RFC 8725 §3.1: the caller, not the token, picks the algorithm); no ``crit`` member
(RFC 7515 §4.1.11: no extension is understood here); and a 64-byte signature. A payload read
as JSON (``jws_payload_json``) holds only numbers I-JSON allows (RFC 7493 §2.2): integers
within ``±MAX_JSON_INTEGER`` and finite floats, so that a claim such as ``iat`` can be compared
with a clock without an overflow.  ECDSA signatures are malleable all the same: ``(r, n - s)``
verifies as well as ``(r, s)``, so the token text must not serve as a replay-cache key; use a
claim such as ``jti``.

The signature is ``R || S``, each a 32-byte big-endian integer (RFC 7518 §3.4), not the DER
``ECDSA-Sig-Value`` that ``cryptography`` produces and expects; it is converted both ways here.

Public API: ``MAX_JWS_SIZE``, ``MAX_JSON_INTEGER``, ``ALG_ES256``, ``JoseError``, ``ParsedJws``,
``b64url_encode``, ``b64url_decode``, ``jws_sign``, ``jws_parse``, ``jws_verify``,
``jws_payload_json``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from resolution.protocol.canonical import CanonicalJSONError, canonical_json, json_parse_strict

MAX_JWS_SIZE: Final = 16 * 1024
"""Longest compact JWS ``jws_parse`` reads, in characters."""

MAX_JSON_INTEGER: Final = 2**53 - 1
"""Largest magnitude of an integer in a JWS payload's claims (RFC 7493 §2.2, I-JSON)."""

ALG_ES256: Final = "ES256"
"""The one ``alg`` header value accepted: ECDSA using P-256 and SHA-256 (RFC 7518 §3.1)."""

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""n, the order of the base point of P-256 (SEC 2 v2 §2.4.2; FIPS 186-4 §D.1.2.3)."""

_COORDINATE_SIZE: Final = 32  # RFC 7518 §3.4: R and S are 32 octets each for ES256
_SIGNATURE_SIZE: Final = 2 * _COORDINATE_SIZE
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")  # RFC 4648 §5 alphabet, no "=" (RFC 7515 §2)


class JoseError(ValueError):
    """A JWS is malformed, uses an unsupported algorithm or key, or does not verify."""


@dataclass(frozen=True)
class ParsedJws:
    """A compact JWS that passed ``jws_parse``: its parts, not yet verified.

    ``signing_input`` is ASCII(BASE64URL(header) "." BASE64URL(payload)) exactly as it
    appeared in the token (RFC 7515 §5.2 step 8), and ``signature`` the raw ``R || S``.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


def b64url_encode(data: bytes) -> str:
    """Return base64url of ``data`` without "=" padding (RFC 7515 §2, RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 §2, RFC 4648 §5); raise ``JoseError`` otherwise.

    Rejects "=" padding, characters outside ``A-Z a-z 0-9 - _`` (whitespace included), a length
    of 1 modulo 4, and non-zero pad bits, so that every byte string has one accepted spelling.
    """
    if not isinstance(text, str):
        raise JoseError(f"base64url input must be a string, not {type(text).__name__}")
    if "=" in text:  # RFC 7515 §2: "with all trailing '=' characters omitted"
        raise JoseError("base64url must not be padded with '='")
    if not _BASE64URL.fullmatch(text):
        raise JoseError("base64url holds a character outside A-Z a-z 0-9 - _")
    if len(text) % 4 == 1:  # RFC 7515 Appendix C: one leftover character is never valid
        raise JoseError(f"base64url of length {len(text)} is not a valid encoding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # not expected after the checks above
        raise JoseError(f"invalid base64url: {exc}") from None
    # RFC 4648 §3.5: pad bits are zero; a decoder that ignores them accepts several spellings.
    if b64url_encode(data) != text:
        raise JoseError("base64url has non-zero pad bits")
    return data


def _parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json_parse_strict(data)
    except CanonicalJSONError as exc:
        raise JoseError(f"{what}: {exc}") from None
    if not isinstance(value, dict):
        raise JoseError(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


def _check_numbers(value: dict[str, Any], what: str) -> None:
    """Refuse integers beyond ``MAX_JSON_INTEGER`` and floats that overflowed to infinity.

    Iterative: the parser accepts nesting almost as deep as Python recurses.
    """
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > MAX_JSON_INTEGER:
            raise JoseError(f"{what} holds an integer beyond ±(2**53 - 1) (RFC 7493 §2.2)")
        elif isinstance(item, float) and not math.isfinite(item):
            raise JoseError(f"{what} holds a number beyond the range of a double")


def _check_header(header: Mapping[str, Any]) -> None:
    alg = header.get("alg")
    if alg != ALG_ES256:  # RFC 8725 §3.1: "none" and every other algorithm are refused
        raise JoseError(f"JWS alg {alg!r} is not accepted, only {ALG_ES256!r}")
    if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood here
        raise JoseError("JWS crit header is not supported")


def _check_p256_curve(curve: ec.EllipticCurve) -> None:
    if not isinstance(curve, ec.SECP256R1):  # RFC 7518 §3.4: ES256 is ECDSA on P-256 only
        raise JoseError(f"ES256 needs a P-256 key, not {curve.name}")


def jws_sign(
    header: Mapping[str, Any], payload: bytes, private_key: ec.EllipticCurvePrivateKey
) -> str:
    """Return the compact JWS of ``payload`` under ``header``, signed with ES256.

    ``header`` must have ``alg`` "ES256" and no ``crit``; it is serialised as canonical JSON
    (sorted keys, no whitespace).  The signature is ECDSA P-256 SHA-256 over
    ASCII(BASE64URL(header) "." BASE64URL(payload)) (RFC 7515 §5.1), written as ``R || S``
    (RFC 7518 §3.4).  Raises ``JoseError`` for any other header or key.
    """
    if not isinstance(header, Mapping):
        raise JoseError(f"JWS header must be a mapping, not {type(header).__name__}")
    _check_header(header)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise JoseError(f"ES256 signs with an elliptic-curve private key, not {private_key!r}")
    _check_p256_curve(private_key.curve)
    if not isinstance(payload, bytes):
        raise JoseError(f"JWS payload must be bytes, not {type(payload).__name__}")
    try:
        header_json = canonical_json(dict(header))
    except CanonicalJSONError as exc:
        raise JoseError(f"JWS header: {exc}") from None
    signing_input = f"{b64url_encode(header_json)}.{b64url_encode(payload)}"
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(_COORDINATE_SIZE, "big") + s.to_bytes(_COORDINATE_SIZE, "big")
    return f"{signing_input}.{b64url_encode(signature)}"


def jws_parse(token: str, *, max_size: int = MAX_JWS_SIZE) -> ParsedJws:
    """Split and check a compact JWS (RFC 7515 §5.2 steps 1-7) without verifying it.

    Raises ``JoseError`` when the token is longer than ``max_size`` (``MAX_JWS_SIZE``, unless
    a kind of document needs more: an advertisement, a map), does not have three
    segments, has an empty header or signature, holds bad base64url, has a header that is not
    a JSON object with unique member names, ``alg`` "ES256" and no ``crit``, or has a
    signature that is not 64 bytes.  The payload may be empty.
    """
    if not isinstance(token, str):
        raise JoseError(f"JWS must be a string, not {type(token).__name__}")
    if len(token) > max_size:
        raise JoseError(f"JWS is {len(token)} characters, more than {max_size}")
    segments = token.split(".")
    if len(segments) != 3:  # RFC 7515 §7.1; five segments would be a JWE (RFC 7516 §9)
        raise JoseError(f"compact JWS has {len(segments)} segments, want 3")
    header_segment, payload_segment, signature_segment = segments
    if not header_segment:
        raise JoseError("JWS header segment is empty")
    if not signature_segment:
        raise JoseError("JWS signature segment is empty (an unsecured JWS is refused)")
    header = _parse_json_object(b64url_decode(header_segment), "JWS header")
    _check_header(header)
    payload = b64url_decode(payload_segment)
    signature = b64url_decode(signature_segment)
    if len(signature) != _SIGNATURE_SIZE:  # RFC 7518 §3.4
        raise JoseError(f"ES256 signature is {len(signature)} bytes, want {_SIGNATURE_SIZE}")
    return ParsedJws(
        header=header,
        payload=payload,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=signature,
    )


def jws_verify(parsed: ParsedJws, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check the ES256 signature of ``parsed`` with a P-256 public key (RFC 7518 §3.4).

    Returns nothing on success; raises ``JoseError`` for a key on another curve, an R or S
    outside ``[1, n)``, or a signature that does not verify.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise JoseError(f"ES256 verifies with an elliptic-curve public key, not {public_key!r}")
    _check_p256_curve(public_key.curve)
    _check_header(parsed.header)  # a ParsedJws can be built without jws_parse
    if len(parsed.signature) != _SIGNATURE_SIZE:
        raise JoseError(f"ES256 signature is {len(parsed.signature)} bytes, want 64")
    r = int.from_bytes(parsed.signature[:_COORDINATE_SIZE], "big")
    s = int.from_bytes(parsed.signature[_COORDINATE_SIZE:], "big")
    # SEC 1 v2 §4.1.4 step 1: r and s must lie in [1, n - 1].
    if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
        raise JoseError("ES256 signature has R or S outside [1, n)")
    try:
        public_key.verify(
            encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise JoseError("signature does not verify") from None


def jws_payload_json(parsed: ParsedJws) -> dict[str, Any]:
    """Return the payload of ``parsed`` as a JSON object with unique member names.

    Raises ``JoseError`` when the payload is not UTF-8 JSON, not an object, repeats a name, or
    holds a number beyond I-JSON's (RFC 7493 §2.2): an integer beyond ``±MAX_JSON_INTEGER``, or
    one too large for a double.
    """
    payload = _parse_json_object(parsed.payload, "JWS payload")
    _check_numbers(payload, "JWS payload")
    return payload
