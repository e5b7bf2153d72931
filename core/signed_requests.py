"""Requests signed with a number certificate's key: a compact JWS (ES256) in the body.

The body is ``application/jose`` (RFC 7515 §9.2.1). The payload is a JSON object with an
``iat`` within five minutes of our clock, so a captured request cannot be replayed later;
callers that must not accept a replay within those minutes also check a ``jti``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from core.problems import Problem
from resolution.protocol.jose import JoseError, ParsedJws, jws_parse, jws_payload_json, jws_verify

MAX_CLOCK_SKEW = timedelta(minutes=5)
MEDIA_TYPE = "application/jose"
# What a payload's ``jti`` may be: 8 to 128 printable ASCII characters.
JTI = re.compile(r"[\x21-\x7e]{8,128}")


class SignedRequestMalformed(Problem):
    slug = "jws-malformed"
    title = "The body is not a valid compact JWS"
    status_code = 400


class SignedRequestSignatureInvalid(Problem):
    slug = "jws-signature-invalid"
    title = "The JWS signature does not verify with the certificate's key"
    status_code = 403


class SignedRequestStale(Problem):
    slug = "jws-stale"
    title = "The JWS 'iat' is not within five minutes of the server's clock"
    status_code = 400


class SignedRequestMismatch(Problem):
    slug = "jws-payload-mismatch"
    title = "The JWS payload does not match the request"
    status_code = 400


class SignedRequestReplayed(Problem):
    slug = "jws-replayed"
    title = "This JWS 'jti' was already used"
    status_code = 409


class JoseParser(BaseParser):
    """DRF parser for ``application/jose``: the compact serialisation, as text."""

    media_type = MEDIA_TYPE

    def parse(  # type: ignore[override]  # the body is text, not a mapping
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> str:
        raw = stream.read() if stream is not None else b""
        try:
            return bytes(raw).decode("ascii").strip()
        except UnicodeDecodeError:
            raise SignedRequestMalformed("A compact JWS is ASCII.") from None


class JoseRenderer(BaseRenderer):
    """DRF renderer for ``application/jose``, so that a client asking for it (``Accept:
    application/jose``) is answered: views that serve a compact JWS return it as an
    HttpResponse themselves (problems stay ``application/problem+json``)."""

    media_type = MEDIA_TYPE
    format = "jose"
    charset = None

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data.encode("ascii") if isinstance(data, str) else data


def signed_request_parse(token: object) -> ParsedJws:
    """Parse the body; the header can then name the certificate (``kid``) before verifying."""
    if not isinstance(token, str):
        raise SignedRequestMalformed(f"Send a compact JWS as {MEDIA_TYPE}.")
    try:
        return jws_parse(token)
    except JoseError as error:
        raise SignedRequestMalformed(f"Not a valid JWS: {error}") from None


def signed_request_verify(
    parsed: ParsedJws, public_key: ec.EllipticCurvePublicKey, *, now: datetime
) -> dict[str, Any]:
    """Verify the signature and freshness; return the payload object."""
    try:
        jws_verify(parsed, public_key)
    except JoseError:
        raise SignedRequestSignatureInvalid(
            "The signature does not verify with the certificate's public key."
        ) from None
    try:
        payload = jws_payload_json(parsed)
    except JoseError as error:
        raise SignedRequestMalformed(f"The payload is not a JSON object: {error}") from None
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise SignedRequestMalformed("The payload needs 'iat', seconds since the epoch.")
    skew = abs(now.timestamp() - iat)
    if skew > MAX_CLOCK_SKEW.total_seconds():
        raise SignedRequestStale(
            f"'iat' is {int(skew)} s away from the server's clock; "
            f"at most {int(MAX_CLOCK_SKEW.total_seconds())} s is accepted."
        )
    return payload
