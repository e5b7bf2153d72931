"""PASSporT (RFC 8225): sign and verify, with the types "shaken" (RFC 8588) and "msg" (RFC 9475).

A PASSporT is a compact JWS (RFC 8225 §6; ``resolution.protocol.jose``) signed with ES256 by the
key of a number certificate (RFC 8226; ``resolution.protocol.certificates``)::

    header  {"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://…/chain.pem"}
    claims  {"attest":"A","dest":{"tn":["15551230002"]},"iat":1700000000,
             "orig":{"tn":"15551230001"},"origid":"<UUID>"}

* Header (RFC 8225 §4): ``alg`` "ES256", ``typ`` "passport", ``x5u`` the URL of the signer's
  certificate chain (RFC 7515 §4.1.5), and ``ppt`` for an extension type (RFC 8225 §8.1).
* Claims (RFC 8225 §5): ``iat``, an integer NumericDate (§5.1.1); ``orig`` with one ``tn``
  (§5.2); ``dest`` with an array ``tn`` and/or an array ``uri`` (§5.2).  Telephone numbers
  are in the canonical form of RFC 8224 §8.3: digits only, no "+".  Here they must be 1 to 15
  digits, since the originating number is checked against the certificate's TNAuthList.
* ``shaken`` (RFC 8588): claims ``attest``, one of "A", "B", "C" (§4), and ``origid``, a UUID
  (§5).
* ``msg`` (RFC 9475, the ``ppt`` registered by its §3.2): claim ``msgi``, the integrity digest
  of the message body, written as W3C Subresource Integrity metadata: the hash algorithm's
  name, "-", and the standard padded base64 (RFC 4648 §4) of the digest of the body bytes,
  e.g. ``"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`` for the empty body.  We sign
  with SHA-256 and verify "sha256", "sha384" and "sha512", the SRI algorithms.  The body is
  the message body exactly as it was sent (for SIP MESSAGE, the request body, MIME headers
  of its parts included).  NOTE: the text of RFC 9475 could not be consulted when this was
  written; the msgi format follows the draft (draft-ietf-stir-messaging) as remembered, and
  should be checked against RFC 9475 before interworking with other implementations.

Both segments are canonical JSON, keys sorted and no whitespace (RFC 8225 §9, "Deterministic
JSON Serialization").  §9 makes that form a MUST for PASSporTs, so a token whose header or
claims are valid JSON in any other form is refused as "non-canonical" even when its signature
verifies: it was not made by a conforming signer, and accepting it would give one PASSporT
several spellings.  Only the full form is read; the compact form ``..signature`` (RFC 8225 §7)
is not, as it needs the SIP request to rebuild the claims.

``passport_parse`` checks the form alone, so that a server can learn ``x5u`` before it fetches
the chain; ``passport_verify`` checks everything (see its docstring) and raises
``PassportError`` whose ``reason`` is one of ``REASONS``, a stable machine code.

Public API: ``PassportError``, ``REASONS``, ``Passport``, ``VerifiedPassport``, ``TYP``,
``PPT_SHAKEN``, ``PPT_MSG``, ``ATTESTATIONS``, ``FRESHNESS``, ``MSG_FRESHNESS``,
``msgi_digest``, ``passport_sign``, ``passport_parse``, ``passport_verify``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.protocol.canonical import CanonicalJSONError, canonical_json, is_canonical
from resolution.protocol.certificates import (
    CertificateError,
    certificate_chain_verify,
    crl_check,
    crl_for_issuer,
    tn_auth_list_covers,
)
from resolution.protocol.jose import (
    ALG_ES256,
    JoseError,
    ParsedJws,
    b64url_decode,
    jws_parse,
    jws_payload_json,
    jws_sign,
    jws_verify,
)

TYP: Final = "passport"
"""The ``typ`` header of every PASSporT (RFC 8225 §4.1)."""

PPT_SHAKEN: Final = "shaken"
"""``ppt`` of SHAKEN PASSporTs (RFC 8588 §3)."""

PPT_MSG: Final = "msg"
"""``ppt`` of messaging PASSporTs (RFC 9475 §3.2)."""

ATTESTATIONS: Final = frozenset({"A", "B", "C"})
"""The values of the ``attest`` claim (RFC 8588 §4): full, partial and gateway attestation."""

FRESHNESS: Final = 60
"""Seconds ``iat`` may lie from the verifier's clock, either way (DESIGN §4.4; RFC 8224 §6.2)."""

MSG_FRESHNESS: Final = 24 * 60 * 60
"""Seconds a ``msg`` PASSporT's ``iat`` may lie in the past: messages are stored and forwarded,
so they can arrive long after they were signed (RFC 9475; DESIGN §4.4)."""

REASONS: Final = frozenset(
    {
        "malformed",  # not a PASSporT: bad JWS, JSON, header or claims
        "non-canonical",  # header or claims not in the RFC 8225 §9 form
        "ppt-unsupported",  # a ppt this verifier does not implement (RFC 8225 §8.1)
        "signature",  # the ES256 signature does not verify with the leaf's key
        "stale",  # iat too far in the past
        "future",  # iat too far in the future
        "number-not-covered",  # the leaf's TNAuthList does not cover orig.tn
        "msgi-mismatch",  # the body's digest is not msgi
        "body-required",  # a msg PASSporT verified without its body
        "msgi-missing",  # a body was given but the PASSporT does not protect one
        # from resolution.protocol.certificates:
        "chain",
        "expired",
        "not-yet-valid",
        "key-type",
        "tnauthlist",
        "revoked",
        "crl-invalid",
        "crl-stale",
        "crl-missing",
    }
)
"""Every ``PassportError.reason``."""

_SUPPORTED_PPT: Final = frozenset({PPT_SHAKEN, PPT_MSG})
_TN: Final = re.compile(r"[0-9]{1,15}")
# RFC 4122 §3 string form, whose hex digits are read in either case.
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_MSGI_SIGN_ALGORITHM: Final = "sha256"
# W3C Subresource Integrity §3.2: the hash algorithms a verifier supports.
_MSGI_ALGORITHMS: Final[Mapping[str, Callable[[bytes], Any]]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_DEST_KEYS: Final = frozenset({"tn", "uri"})
_MAX_NUMERIC_DATE: Final = 2**53 - 1  # the largest integer every JSON parser reads exactly


class PassportError(ValueError):
    """A PASSporT is malformed or does not verify.

    ``reason`` is a stable machine code from ``REASONS``; the message says what failed.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:  # a typo here would leak an undocumented code to clients
            raise ValueError(f"unknown PASSporT error reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Passport:
    """A PASSporT whose form ``passport_parse`` checked; nothing about it is verified yet.

    ``orig`` and ``dest`` are telephone numbers as the claims hold them (digits, no "+");
    ``dest_uri`` the ``dest.uri`` array.  ``attest`` and ``origid`` are set for ``shaken``,
    ``msgi`` for ``msg``.  ``header`` and ``claims`` are the whole decoded objects, unknown
    members included.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    x5u: str
    ppt: str | None
    iat: int
    orig: str
    dest: tuple[str, ...]
    dest_uri: tuple[str, ...]
    attest: str | None
    origid: str | None
    msgi: str | None
    jws: ParsedJws


@dataclass(frozen=True)
class VerifiedPassport:
    """A PASSporT that ``passport_verify`` accepted.

    ``chain`` is the validated path, leaf first and trust anchor last.  ``revocation_checked``
    says whether a CRL of the leaf's issuer was consulted, ``body_checked`` whether a message
    body was checked against ``msgi``.
    """

    passport: Passport
    chain: tuple[x509.Certificate, ...]
    revocation_checked: bool
    body_checked: bool


def _malformed(message: str) -> PassportError:
    return PassportError("malformed", message)


def msgi_digest(body: bytes, *, algorithm: str = _MSGI_SIGN_ALGORITHM) -> str:
    """Return the ``msgi`` value of ``body``: ``"<algorithm>-" + base64(digest(body))``.

    The format is Subresource Integrity metadata, which RFC 9475 uses for ``msgi``;
    ``algorithm`` is "sha256" (the default), "sha384" or "sha512".
    """
    if not isinstance(body, bytes):
        raise TypeError(f"the message body must be bytes, not {type(body).__name__}")
    hash_function = _MSGI_ALGORITHMS.get(algorithm)
    if hash_function is None:
        raise ValueError(f"msgi algorithm {algorithm!r} is not one of {sorted(_MSGI_ALGORITHMS)}")
    digest = hash_function(body).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def _msgi_parse(value: object) -> tuple[str, bytes]:
    """Split a ``msgi`` value into its algorithm and digest; raise "malformed" otherwise."""
    if not isinstance(value, str):
        raise _malformed("msgi must be a string")
    algorithm, separator, encoded = value.partition("-")
    hash_function = _MSGI_ALGORITHMS.get(algorithm)
    if not separator or hash_function is None:
        raise _malformed(f"msgi must start with one of {sorted(_MSGI_ALGORITHMS)} and '-'")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("msgi digest is not base64") from None
    # One spelling per digest: standard alphabet, padded, the digest's exact length.
    if (
        len(digest) != hash_function(b"").digest_size
        or base64.b64encode(digest).decode("ascii") != encoded
    ):
        raise _malformed(f"msgi digest is not a base64 {algorithm} digest")
    return algorithm, digest


def _check_tn(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TN.fullmatch(value):
        raise _malformed(f"{what} must be 1 to 15 digits without '+' (RFC 8224 §8.3)")
    return value


def _check_header(header: Mapping[str, Any]) -> tuple[str, str | None]:
    """Check the PASSporT members of a JWS header; return ``x5u`` and ``ppt``."""
    if header.get("typ") != TYP:  # RFC 8225 §4.1
        raise _malformed(f"header typ must be {TYP!r}, not {header.get('typ')!r}")
    x5u = header.get("x5u")
    # RFC 8225 §4.3; what may be fetched from it is the fetcher's decision.
    if not isinstance(x5u, str) or not x5u or not x5u.isprintable() or " " in x5u:
        raise _malformed("header x5u must be a non-empty URL")
    ppt = header.get("ppt")
    if ppt is None and "ppt" not in header:
        return x5u, None
    if not isinstance(ppt, str):
        raise _malformed("header ppt must be a string")
    # RFC 8225 §8.1: a verifier that does not understand a ppt must not accept the PASSporT.
    if ppt not in _SUPPORTED_PPT:
        raise PassportError("ppt-unsupported", f"PASSporT type {ppt!r} is not supported")
    return x5u, ppt


def _check_claims(
    claims: Mapping[str, Any], ppt: str | None
) -> tuple[int, str, tuple[str, ...], tuple[str, ...], str | None, str | None, str | None]:
    """Check the claims for ``ppt``; return iat, orig, dest, dest_uri, attest, origid, msgi."""
    iat = claims.get("iat")
    # RFC 8225 §5.1.1: a NumericDate; whole seconds here, and bool is not a number.
    if not isinstance(iat, int) or isinstance(iat, bool) or not 0 <= iat <= _MAX_NUMERIC_DATE:
        raise _malformed("claim iat must be an integer number of seconds")
    orig = claims.get("orig")
    # RFC 8225 §5.2.  Only tn: a uri cannot be checked against a TNAuthList.
    if not isinstance(orig, dict) or set(orig) != {"tn"}:
        raise _malformed('claim orig must be an object holding only "tn"')
    orig_tn = _check_tn(orig["tn"], "orig.tn")
    dest = claims.get("dest")
    if not isinstance(dest, dict) or not dest or not _DEST_KEYS.issuperset(dest):
        raise _malformed('claim dest must be an object holding "tn" and/or "uri"')
    dest_tn = dest.get("tn", [])
    dest_uri = dest.get("uri", [])
    if not isinstance(dest_tn, list) or ("tn" in dest and not dest_tn):
        raise _malformed("dest.tn must be a non-empty array")
    if not isinstance(dest_uri, list) or ("uri" in dest and not dest_uri):
        raise _malformed("dest.uri must be a non-empty array")
    for uri in dest_uri:
        if not isinstance(uri, str) or not uri:
            raise _malformed("dest.uri must hold non-empty strings")
    dest_numbers = tuple(_check_tn(tn, "dest.tn[]") for tn in dest_tn)
    attest = origid = msgi = None
    if ppt == PPT_SHAKEN:
        attest = claims.get("attest")
        if attest not in ATTESTATIONS:  # RFC 8588 §4
            raise _malformed(f"claim attest must be one of {sorted(ATTESTATIONS)}")
        origid = claims.get("origid")
        if not isinstance(origid, str) or not _UUID.fullmatch(origid):  # RFC 8588 §5
            raise _malformed("claim origid must be a UUID")
    elif ppt == PPT_MSG:
        if "msgi" not in claims:
            raise _malformed("a msg PASSporT must carry a msgi claim (RFC 9475)")
        msgi = claims["msgi"]
        _msgi_parse(msgi)
    return iat, orig_tn, dest_numbers, tuple(dest_uri), attest, origid, msgi


def passport_sign(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    x5u: str,
    orig: str,
    dest: Sequence[str],
    iat: int,
    dest_uri: Sequence[str] = (),
    ppt: str | None = None,
    attest: str | None = None,
    origid: str | None = None,
    body: bytes | None = None,
) -> str:
    """Return a PASSporT signed with ES256 by ``private_key`` (RFC 8225 §6).

    ``orig`` and each of ``dest`` are numbers in RFC 8224 §8.3 form (1 to 15 digits, no "+");
    ``dest_uri`` adds ``dest.uri`` (RFC 8225 §5.2); ``dest`` and ``dest_uri`` are not both
    empty.  ``ppt`` "shaken" needs ``attest`` and ``origid`` (RFC 8588); ``ppt`` "msg" needs
    the message ``body``, whose ``msgi`` digest is signed (RFC 9475).  Header and claims are
    written in canonical form (RFC 8225 §9).  Raises ``PassportError`` ("malformed") for
    arguments that would not make a valid PASSporT, and "key-type" for a key that is not P-256.
    """
    if isinstance(dest, str) or isinstance(dest_uri, str):  # a str is a Sequence[str] too
        raise _malformed("dest and dest_uri must be sequences of strings, not a string")
    if (ppt == PPT_SHAKEN) != (attest is not None or origid is not None):
        raise _malformed('attest and origid go with, and only with, ppt "shaken"')
    if (ppt == PPT_MSG) != (body is not None):
        raise _malformed('a message body goes with, and only with, ppt "msg"')
    header: dict[str, Any] = {"alg": ALG_ES256, "typ": TYP, "x5u": x5u}
    if ppt is not None:
        header["ppt"] = ppt
    destination: dict[str, Any] = {}
    if dest:
        destination["tn"] = list(dest)
    if dest_uri:
        destination["uri"] = list(dest_uri)
    claims: dict[str, Any] = {"dest": destination, "iat": iat, "orig": {"tn": orig}}
    if attest is not None:
        claims["attest"] = attest
    if origid is not None:
        claims["origid"] = origid
    if body is not None:
        claims["msgi"] = msgi_digest(body)
    # The checks the verifier makes, so that nothing is signed that it would refuse.
    _check_header(header)
    _check_claims(claims, ppt)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise PassportError("key-type", "PASSporTs are signed with a P-256 key (ES256)")
    try:
        return jws_sign(header, canonical_json(claims), private_key)
    except (JoseError, CanonicalJSONError) as exc:  # not expected after the checks above
        raise _malformed(str(exc)) from None


def passport_parse(token: str) -> Passport:
    """Parse a PASSporT and check its form, without verifying anything about it.

    Checks the JWS (``jose.jws_parse``: ES256, strict base64url), the canonical form of header
    and claims ("non-canonical", RFC 8225 §9), the header (``typ``, ``x5u``, a supported
    ``ppt``: else "malformed" or "ppt-unsupported") and the claims the type requires.  A server
    reads ``x5u`` from the result to fetch the chain for ``passport_verify``.
    """
    try:
        parsed = jws_parse(token)
        claims = jws_payload_json(parsed)
    except JoseError as exc:
        raise _malformed(f"not a PASSporT: {exc}") from None
    header_segment = parsed.signing_input.split(b".", 1)[0].decode("ascii")
    if not is_canonical(b64url_decode(header_segment)):
        raise PassportError("non-canonical", "header is not canonical JSON (RFC 8225 §9)")
    try:
        canonical_claims = canonical_json(claims)
    except CanonicalJSONError as exc:  # pragma: no cover - strict parsing rules this out
        raise _malformed(f"claims: {exc}") from None
    if canonical_claims != parsed.payload:
        raise PassportError("non-canonical", "claims are not canonical JSON (RFC 8225 §9)")
    x5u, ppt = _check_header(parsed.header)
    iat, orig, dest, dest_uri, attest, origid, msgi = _check_claims(claims, ppt)
    return Passport(
        header=parsed.header,
        claims=claims,
        x5u=x5u,
        ppt=ppt,
        iat=iat,
        orig=orig,
        dest=dest,
        dest_uri=dest_uri,
        attest=attest,
        origid=origid,
        msgi=msgi,
        jws=parsed,
    )


def _certificate_error(exc: CertificateError) -> PassportError:
    return PassportError(exc.reason, str(exc))


def passport_verify(
    token: str,
    *,
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime,
    crls: Sequence[x509.CertificateRevocationList] = (),
    crl_required: bool = False,
    freshness: int = FRESHNESS,
    msg_freshness: int = MSG_FRESHNESS,
    body: bytes | None = None,
) -> VerifiedPassport:
    """Verify a PASSporT at the moment ``at``; return it with the validated chain.

    ``chain`` is what ``x5u`` served: the signer's certificate first, then intermediates.  In
    order, raising ``PassportError`` with the reason in brackets:

    1. the form, as ``passport_parse`` checks it;
    2. the ES256 signature with the leaf's key ("signature"; "key-type" for a key not P-256);
    3. ``iat`` at most ``freshness`` seconds after ``at`` ("future") and at most ``freshness``
       seconds before it ("stale"), or ``msg_freshness`` before it for ``ppt`` "msg", since
       stored messages arrive late while clocks drift no more for messages than for calls;
    4. the certificate path to one of ``roots`` (``certificates.certificate_chain_verify``:
       "expired", "not-yet-valid", "key-type", "tnauthlist", "chain");
    5. the leaf's TNAuthList covers ``orig.tn`` ("number-not-covered"; RFC 8226 §9);
    6. when ``crls`` holds a CRL of the leaf's issuer, it is valid, current and does not list
       the leaf ("crl-invalid", "crl-stale", "revoked"); with ``crl_required``, such a CRL
       must be given ("crl-missing");
    7. for ``ppt`` "msg", ``body`` is required ("body-required") and its digest must equal
       ``msgi`` ("msgi-mismatch"); a body given for another PASSporT is "msgi-missing", as
       nothing in it protects the body.

    ``dest`` is not checked: the caller compares it with where the call or message went.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("'at' must be a timezone-aware datetime")
    passport = passport_parse(token)
    if not chain:
        raise PassportError("chain", "no certificate chain was given")
    leaf = chain[0]
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PassportError("key-type", "the signer's certificate does not hold a P-256 key")
    try:
        jws_verify(passport.jws, key)
    except JoseError as exc:
        raise PassportError("signature", f"PASSporT signature: {exc}") from None

    now = at.timestamp()
    past_window = msg_freshness if passport.ppt == PPT_MSG else freshness
    if passport.iat > now + freshness:
        raise PassportError("future", f"iat {passport.iat} is more than {freshness} s ahead")
    if passport.iat < now - past_window:
        raise PassportError("stale", f"iat {passport.iat} is more than {past_window} s old")

    try:
        validated = certificate_chain_verify(leaf, chain[1:], roots, at=at)
        if not tn_auth_list_covers(leaf, f"+{passport.orig}"):
            raise PassportError(
                "number-not-covered",
                f"the certificate's TNAuthList does not cover orig.tn {passport.orig}",
            )
        if len(validated) < 2:  # a self-signed end entity among the roots
            raise PassportError("chain", "the signer's certificate is not issued by a CA")
        issuer = validated[1]
        crl = crl_for_issuer(crls, issuer, required=crl_required)
        if crl is not None:
            crl_check(leaf, issuer, crl, at=at)
    except CertificateError as exc:
        raise _certificate_error(exc) from None

    body_checked = False
    if passport.ppt == PPT_MSG:
        if body is None:
            raise PassportError("body-required", "a msg PASSporT is verified with its body")
        algorithm, expected = _msgi_parse(passport.msgi)
        actual = _MSGI_ALGORITHMS[algorithm](body).digest()
        if not hmac.compare_digest(actual, expected):
            raise PassportError("msgi-mismatch", "the message body does not match msgi")
        body_checked = True
    elif body is not None:
        raise PassportError("msgi-missing", "the PASSporT does not protect a message body")

    return VerifiedPassport(
        passport=passport,
        chain=tuple(validated),
        revocation_checked=crl is not None,
        body_checked=body_checked,
    )
