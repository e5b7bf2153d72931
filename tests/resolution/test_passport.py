"""Tests for resolution.protocol.passport: RFC 8225 vectors, PyJWT interoperability, every
refusal."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import b64url_decode, b64url_encode, jws_sign
from resolution.protocol.passport import (
    FRESHNESS,
    MSG_FRESHNESS,
    REASONS,
    Passport,
    PassportError,
    VerifiedPassport,
    msgi_digest,
    passport_parse,
    passport_sign,
    passport_verify,
)
from tests.pki import NOW, NUMBER, OTHER_NUMBER, Pki, p256
from tests.resolution.test_jose import a3_private_key, a3_public_key

X5U = "https://cert.example.org/passport.cer"
IAT = int(NOW.timestamp())
ORIGID = "123e4567-e89b-12d3-a456-426655440000"
BODY = b"Content-Type: text/plain\r\n\r\nHello from STIR"

# RFC 8225 Appendix A: the example header and claims, and their base64url as the RFC prints them
# (the claims with "iat" 1471375418 and "dest" a uri; keys sorted, no whitespace, §9).
RFC8225_A_HEADER = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9j"
    "ZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9"
)
RFC8225_A_CLAIMS = (
    "eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI"
    "6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19"
)
# RFC 8225 §7.1's example claims ("iat" 1443208345) as Errata ID 5985 corrects them: the RFC
# prints "iat" as a JSON string, which §5.1.1 does not allow.  (The erratum's text ends in "Cg",
# a newline its author's tooling appended; the claims themselves end at "fX0"/"In19".)
RFC8225_71_CLAIMS_CORRECTED = (
    "eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI"
    "6MTQ0MzIwODM0NSwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19"
)
RFC8225_71_CLAIMS_AS_PRINTED = (
    "eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI"
    "6IjE0NDMyMDgzNDUiLCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifX0"
)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return p256()


@pytest.fixture(scope="module")
def leaf(pki: Pki, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return pki.leaf(key.public_key())


def sign(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    arguments: dict[str, Any] = {"x5u": X5U, "orig": NUMBER, "dest": [OTHER_NUMBER], "iat": IAT}
    arguments.update(overrides)
    return passport_sign(key, **arguments)


def verify(token: str, pki: Pki, leaf: x509.Certificate, **overrides: Any) -> VerifiedPassport:
    arguments: dict[str, Any] = {"chain": [leaf, pki.issuing], "roots": [pki.root], "at": NOW}
    arguments.update(overrides)
    return passport_verify(token, **arguments)


def reason(token: str, pki: Pki, leaf: x509.Certificate, **overrides: Any) -> str:
    with pytest.raises(PassportError) as excinfo:
        verify(token, pki, leaf, **overrides)
    assert excinfo.value.reason in REASONS
    return excinfo.value.reason


def raw_token(
    key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: dict[str, Any]
) -> str:
    """A token over any header and claims, canonical, signed: for the checks after the JWS."""
    return jws_sign(header, canonical_json(claims), key)


def good_header(**changes: Any) -> dict[str, Any]:
    return {"alg": "ES256", "typ": "passport", "x5u": X5U, **changes}


def good_claims(**changes: Any) -> dict[str, Any]:
    return {"dest": {"tn": [OTHER_NUMBER]}, "iat": IAT, "orig": {"tn": NUMBER}, **changes}


def segments(token: str) -> list[str]:
    return token.split(".")


# --- RFC 8225 vectors ------------------------------------------------------------------------


def test_rfc8225_appendix_a_segments(key: ec.EllipticCurvePrivateKey) -> None:
    token = passport_sign(
        key,
        x5u=X5U,
        orig="12155551212",
        dest=[],
        dest_uri=["sip:alice@example.com"],
        iat=1471375418,
    )
    header, claims, _ = segments(token)
    assert header == RFC8225_A_HEADER
    assert claims == RFC8225_A_CLAIMS
    parsed = passport_parse(token)
    assert parsed.dest == ()
    assert parsed.dest_uri == ("sip:alice@example.com",)


def test_rfc8225_section_7_1_segments_as_corrected(key: ec.EllipticCurvePrivateKey) -> None:
    token = passport_sign(
        key,
        x5u=X5U,
        orig="12155551212",
        dest=[],
        dest_uri=["sip:alice@example.com"],
        iat=1443208345,
    )
    header, claims, _ = segments(token)
    assert header == RFC8225_A_HEADER
    assert claims == RFC8225_71_CLAIMS_CORRECTED


def test_rfc8225_section_7_1_string_iat_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    # The claims as §7.1 prints them, "iat" a JSON string, signed afresh: not a NumericDate.
    claims = b64url_decode(RFC8225_71_CLAIMS_AS_PRINTED)
    assert claims == (
        b'{"dest":{"uri":["sip:alice@example.com"]},"iat":"1443208345","orig":{"tn":"12155551212"}}'
    )
    token = jws_sign(json.loads(b64url_decode(RFC8225_A_HEADER)), claims, key)
    assert segments(token)[:2] == [RFC8225_A_HEADER, RFC8225_71_CLAIMS_AS_PRINTED]
    with pytest.raises(PassportError) as excinfo:
        passport_parse(token)
    assert excinfo.value.reason == "malformed"


def test_rfc7515_a3_key_through_the_passport_path(pki: Pki) -> None:
    # RFC 7515 Appendix A.3's P-256 key, certified as a number certificate, signs a PASSporT
    # that verifies with the public key as the RFC gives it.
    leaf = pki.leaf(a3_public_key())
    token = sign(a3_private_key())
    verified = verify(token, pki, leaf)
    assert verified.passport.orig == NUMBER
    assert leaf.public_key() == a3_public_key()


# --- signing ---------------------------------------------------------------------------------


def test_signed_segments_are_canonical(key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(key, ppt="shaken", attest="A", origid=ORIGID, dest=[OTHER_NUMBER, "447700900123"])
    header, claims, signature = segments(token)
    assert b64url_decode(header) == (
        b'{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example.org/passport.cer"}'
    )
    assert b64url_decode(claims) == (
        b'{"attest":"A","dest":{"tn":["15551230002","447700900123"]},"iat":'
        + str(IAT).encode()
        + b',"orig":{"tn":"15551230001"},"origid":"123e4567-e89b-12d3-a456-426655440000"}'
    )
    assert len(b64url_decode(signature)) == 64


def test_msg_signs_the_body_digest(key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(key, ppt="msg", body=BODY)
    parsed = passport_parse(token)
    expected = "sha256-" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert parsed.msgi == expected == parsed.claims["msgi"]
    assert parsed.header["ppt"] == "msg"


def test_msgi_digest_of_the_empty_body() -> None:
    # The SHA-256 of nothing, as Subresource Integrity metadata.
    assert msgi_digest(b"") == "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert msgi_digest(b"", algorithm="sha384").startswith("sha384-OLBgp1GsljhM2TJ")
    with pytest.raises(ValueError, match="msgi algorithm"):
        msgi_digest(b"", algorithm="md5")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"orig": f"+{NUMBER}"}, id="orig-with-plus"),
        pytest.param({"orig": ""}, id="orig-empty"),
        pytest.param({"orig": "1" * 16}, id="orig-too-long"),
        pytest.param({"dest": [], "dest_uri": []}, id="no-destination"),
        pytest.param({"dest": OTHER_NUMBER}, id="dest-a-string"),
        pytest.param({"dest": ["12-34"]}, id="dest-not-digits"),
        pytest.param({"iat": -1}, id="iat-negative"),
        pytest.param({"iat": 1.5}, id="iat-float"),
        pytest.param({"iat": True}, id="iat-bool"),
        pytest.param({"x5u": ""}, id="x5u-empty"),
        pytest.param({"ppt": "shaken", "attest": "D", "origid": ORIGID}, id="bad-attest"),
        pytest.param({"ppt": "shaken", "attest": "A", "origid": "not-a-uuid"}, id="bad-origid"),
        pytest.param({"ppt": "shaken", "attest": "A"}, id="shaken-without-origid"),
        pytest.param({"attest": "A", "origid": ORIGID}, id="attest-without-shaken"),
        pytest.param({"ppt": "msg"}, id="msg-without-body"),
        pytest.param({"body": BODY}, id="body-without-msg"),
    ],
)
def test_sign_refuses(key: ec.EllipticCurvePrivateKey, overrides: dict[str, Any]) -> None:
    with pytest.raises(PassportError) as excinfo:
        sign(key, **overrides)
    assert excinfo.value.reason == "malformed"


def test_sign_refuses_unsupported_ppt(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(PassportError) as excinfo:
        sign(key, ppt="div")
    assert excinfo.value.reason == "ppt-unsupported"


def test_sign_refuses_other_curves() -> None:
    with pytest.raises(PassportError) as excinfo:
        sign(ec.generate_private_key(ec.SECP384R1()))
    assert excinfo.value.reason == "key-type"


# --- verifying: what passes -------------------------------------------------------------------


def test_verify_plain(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    verified = verify(sign(key), pki, leaf)
    passport = verified.passport
    assert (passport.orig, passport.dest, passport.iat, passport.x5u) == (
        NUMBER,
        (OTHER_NUMBER,),
        IAT,
        X5U,
    )
    assert passport.ppt is None and passport.attest is None and passport.msgi is None
    assert verified.chain == (leaf, pki.issuing, pki.root)
    assert not verified.revocation_checked and not verified.body_checked


def test_verify_shaken(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    verified = verify(sign(key, ppt="shaken", attest="B", origid=ORIGID), pki, leaf)
    assert (verified.passport.ppt, verified.passport.attest, verified.passport.origid) == (
        "shaken",
        "B",
        ORIGID,
    )


def test_verify_msg_with_body(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    verified = verify(sign(key, ppt="msg", body=BODY), pki, leaf, body=BODY)
    assert verified.body_checked


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_verify_msgi_with_other_sri_algorithms(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate, algorithm: str
) -> None:
    claims = good_claims(msgi=msgi_digest(BODY, algorithm=algorithm))
    token = raw_token(key, good_header(ppt="msg"), claims)
    assert verify(token, pki, leaf, body=BODY).body_checked
    assert reason(token, pki, leaf, body=BODY + b"!") == "msgi-mismatch"


def test_verify_with_crl(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    crl = pki.crl([leaf.serial_number + 1])
    other = Pki("Other").crl([leaf.serial_number])  # another issuer's CRL says nothing of ours
    assert verify(sign(key), pki, leaf, crls=[other, crl]).revocation_checked
    assert not verify(sign(key), pki, leaf, crls=[other]).revocation_checked


@pytest.mark.parametrize("offset", [-FRESHNESS, 0, FRESHNESS])
def test_iat_window_edges_pass(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate, offset: int
) -> None:
    verify(sign(key, iat=IAT + offset), pki, leaf)


def test_parse_reads_x5u_without_verifying() -> None:
    # A server learns where the chain is before it has any certificate to check with.
    token = sign(p256(), x5u="https://certs.example.net/x/chain.pem")
    passport = passport_parse(token)
    assert isinstance(passport, Passport)
    assert passport.x5u == "https://certs.example.net/x/chain.pem"


def test_unknown_claims_and_header_members_are_kept(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    token = raw_token(key, good_header(kid="k1"), good_claims(mky=[{"alg": "sha-256"}]))
    passport = verify(token, pki, leaf).passport
    assert passport.header["kid"] == "k1"
    assert passport.claims["mky"] == [{"alg": "sha-256"}]


# --- PyJWT ----------------------------------------------------------------------------------


def test_pyjwt_verifies_ours(key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(key, ppt="shaken", attest="A", origid=ORIGID)
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"], options={"require": ["iat"]})
    assert claims == {
        "attest": "A",
        "dest": {"tn": [OTHER_NUMBER]},
        "iat": IAT,
        "orig": {"tn": NUMBER},
        "origid": ORIGID,
    }
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256",
        "ppt": "shaken",
        "typ": "passport",
        "x5u": X5U,
    }


def test_we_verify_pyjwt_canonical(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    # PyJWT sorts the header; claims inserted in sorted order come out canonical too.
    token = jwt.encode(
        good_claims(), key, algorithm="ES256", headers={"typ": "passport", "x5u": X5U}
    )
    assert verify(token, pki, leaf).passport.orig == NUMBER


def test_pyjwt_claims_out_of_order_are_non_canonical(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    # Valid JWS, valid signature; but RFC 8225 §9 makes sorted keys a MUST.
    claims = {"orig": {"tn": NUMBER}, "iat": IAT, "dest": {"tn": [OTHER_NUMBER]}}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "passport", "x5u": X5U})
    assert reason(token, pki, leaf) == "non-canonical"


def test_pyjwt_header_out_of_order_is_non_canonical(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    token = jwt.encode(
        good_claims(),
        key,
        algorithm="ES256",
        headers={"x5u": X5U, "typ": "passport"},
        sort_headers=False,
    )
    assert b64url_decode(segments(token)[0]).startswith(b'{"typ":"passport","alg":"ES256"')
    assert reason(token, pki, leaf) == "non-canonical"


def test_whitespace_is_non_canonical(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    token = jws_sign(good_header(), canonical_json(good_claims()).replace(b",", b", "), key)
    assert reason(token, pki, leaf) == "non-canonical"


# --- verifying: tampering -----------------------------------------------------------------


def test_tampered_header(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    _, claims, signature = segments(sign(key))
    header = b64url_encode(canonical_json(good_header(x5u="https://evil.example/chain.pem")))
    assert reason(f"{header}.{claims}.{signature}", pki, leaf) == "signature"


def test_tampered_claims(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    header, _, signature = segments(sign(key))
    claims = b64url_encode(canonical_json(good_claims(dest={"tn": ["15559999999"]})))
    assert reason(f"{header}.{claims}.{signature}", pki, leaf) == "signature"


def test_tampered_signature(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    header, claims, signature = segments(sign(key))
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x40
    assert reason(f"{header}.{claims}.{b64url_encode(bytes(raw))}", pki, leaf) == "signature"


def test_signed_by_another_key(pki: Pki, leaf: x509.Certificate) -> None:
    assert reason(sign(p256()), pki, leaf) == "signature"


# --- verifying: time --------------------------------------------------------------------------


def test_stale(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    assert reason(sign(key, iat=IAT - FRESHNESS - 1), pki, leaf) == "stale"


def test_future(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    assert reason(sign(key, iat=IAT + FRESHNESS + 1), pki, leaf) == "future"


def test_freshness_is_configurable(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    token = sign(key, iat=IAT - 300)
    assert reason(token, pki, leaf) == "stale"
    verify(token, pki, leaf, freshness=300)


def test_msg_has_a_longer_past_window(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    an_hour_ago = IAT - 3600
    verify(sign(key, ppt="msg", body=BODY, iat=an_hour_ago), pki, leaf, body=BODY)
    assert reason(sign(key, iat=an_hour_ago), pki, leaf) == "stale"
    too_old = sign(key, ppt="msg", body=BODY, iat=IAT - MSG_FRESHNESS - 1)
    assert reason(too_old, pki, leaf, body=BODY) == "stale"
    verify(too_old, pki, leaf, body=BODY, msg_freshness=MSG_FRESHNESS + 1)
    # A message delayed in storage is old, not early: the future window stays short.
    early = sign(key, ppt="msg", body=BODY, iat=IAT + FRESHNESS + 1)
    assert reason(early, pki, leaf, body=BODY) == "future"


def test_naive_time_is_refused(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(sign(key), pki, leaf, at=NOW.replace(tzinfo=None))


# --- verifying: certificates -------------------------------------------------------------------


def test_number_not_covered(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    leaf = pki.leaf(key.public_key(), numbers=[OTHER_NUMBER])
    assert reason(sign(key), pki, leaf) == "number-not-covered"


def test_expired_leaf(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    leaf = pki.leaf(
        key.public_key(),
        not_before=NOW - timedelta(days=31),
        not_after=NOW - timedelta(seconds=1),
    )
    assert reason(sign(key), pki, leaf) == "expired"


def test_not_yet_valid_leaf(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    leaf = pki.leaf(key.public_key(), not_before=NOW + timedelta(seconds=1))
    assert reason(sign(key), pki, leaf) == "not-yet-valid"


def test_untrusted_root(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    assert reason(sign(key), pki, leaf, roots=[Pki("Other").root]) == "chain"


def test_missing_intermediate(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    assert reason(sign(key), pki, leaf, chain=[leaf]) == "chain"


def test_empty_chain(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    assert reason(sign(key), pki, leaf, chain=[]) == "chain"


def test_leaf_without_tn_auth_list(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    leaf = pki.leaf(key.public_key(), tn_auth_list=None)
    assert reason(sign(key), pki, leaf) == "tnauthlist"


def test_leaf_with_another_curve(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    leaf = pki.leaf(ec.generate_private_key(ec.SECP384R1()).public_key())
    assert reason(sign(key), pki, leaf) == "key-type"


def test_revoked(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    crl = pki.crl([leaf.serial_number])
    assert reason(sign(key), pki, leaf, crls=[crl]) == "revoked"


def test_stale_crl(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    crl = pki.crl(last_update=NOW - timedelta(days=2), next_update=NOW - timedelta(days=1))
    assert reason(sign(key), pki, leaf, crls=[crl]) == "crl-stale"


def test_crl_signed_by_the_wrong_key(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    # A forged "nothing is revoked" CRL under our issuer's name.
    crl = pki.crl(key=p256())
    assert reason(sign(key), pki, leaf, crls=[crl]) == "crl-invalid"


def test_crl_required(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    assert reason(sign(key), pki, leaf, crl_required=True) == "crl-missing"
    assert verify(sign(key), pki, leaf, crls=[pki.crl()], crl_required=True).revocation_checked


# --- verifying: message bodies ----------------------------------------------------------------


def test_msg_with_a_wrong_body(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    token = sign(key, ppt="msg", body=BODY)
    assert reason(token, pki, leaf, body=BODY.replace(b"Hello", b"Hullo")) == "msgi-mismatch"
    assert reason(token, pki, leaf, body=b"") == "msgi-mismatch"


def test_msg_without_its_body(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    assert reason(sign(key, ppt="msg", body=BODY), pki, leaf) == "body-required"


def test_body_for_a_passport_that_does_not_protect_one(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    assert reason(sign(key), pki, leaf, body=BODY) == "msgi-missing"
    shaken = sign(key, ppt="shaken", attest="A", origid=ORIGID)
    assert reason(shaken, pki, leaf, body=BODY) == "msgi-missing"


# --- verifying: malformed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        pytest.param(good_header(typ="JWT"), good_claims(), id="typ-jwt"),
        pytest.param({"alg": "ES256", "x5u": X5U}, good_claims(), id="typ-missing"),
        pytest.param(good_header(x5u=None), good_claims(), id="x5u-null"),
        pytest.param({"alg": "ES256", "typ": "passport"}, good_claims(), id="x5u-missing"),
        pytest.param(good_header(x5u="https://a b"), good_claims(), id="x5u-space"),
        pytest.param(good_header(ppt=7), good_claims(), id="ppt-number"),
        pytest.param(good_header(), good_claims(iat="1443208345"), id="iat-string"),
        pytest.param(good_header(), good_claims(iat=1443208345.5), id="iat-float"),
        pytest.param(good_header(), good_claims(iat=True), id="iat-bool"),
        pytest.param(good_header(), good_claims(iat=2**53), id="iat-huge"),
        pytest.param(good_header(), {"dest": {"tn": [OTHER_NUMBER]}, "iat": IAT}, id="no-orig"),
        pytest.param(good_header(), good_claims(orig={"uri": "sip:a@b"}), id="orig-uri"),
        pytest.param(good_header(), good_claims(orig={"tn": [NUMBER]}), id="orig-tn-array"),
        pytest.param(good_header(), good_claims(orig={"tn": f"+{NUMBER}"}), id="orig-plus"),
        pytest.param(
            good_header(), good_claims(orig={"tn": NUMBER, "uri": "sip:a@b"}), id="orig-two"
        ),
        pytest.param(good_header(), {"iat": IAT, "orig": {"tn": NUMBER}}, id="no-dest"),
        pytest.param(good_header(), good_claims(dest={}), id="dest-empty"),
        pytest.param(good_header(), good_claims(dest={"tn": []}), id="dest-tn-empty"),
        pytest.param(good_header(), good_claims(dest={"tn": OTHER_NUMBER}), id="dest-tn-string"),
        pytest.param(good_header(), good_claims(dest={"uri": [""]}), id="dest-uri-empty"),
        pytest.param(good_header(), good_claims(dest={"jcard": {}}), id="dest-unknown"),
        pytest.param(
            good_header(ppt="shaken"), good_claims(attest="D", origid=ORIGID), id="shaken-attest-d"
        ),
        pytest.param(
            good_header(ppt="shaken"), good_claims(attest="a", origid=ORIGID), id="shaken-lower"
        ),
        pytest.param(good_header(ppt="shaken"), good_claims(origid=ORIGID), id="shaken-no-attest"),
        pytest.param(good_header(ppt="shaken"), good_claims(attest="A"), id="shaken-no-origid"),
        pytest.param(
            good_header(ppt="shaken"),
            good_claims(attest="A", origid=ORIGID.replace("-", "")),
            id="shaken-origid-not-uuid",
        ),
        pytest.param(good_header(ppt="msg"), good_claims(), id="msg-no-msgi"),
        pytest.param(
            good_header(ppt="msg"),
            good_claims(msgi="md5-" + base64.b64encode(hashlib.md5(BODY).digest()).decode()),  # noqa: S324
            id="msgi-md5",
        ),
        pytest.param(
            good_header(ppt="msg"),
            good_claims(msgi=msgi_digest(BODY).rstrip("=")),
            id="msgi-unpadded",
        ),
        pytest.param(
            good_header(ppt="msg"),
            good_claims(msgi="sha256-" + b64url_encode(hashlib.sha256(BODY).digest())),
            id="msgi-base64url",
        ),
        pytest.param(
            good_header(ppt="msg"),
            good_claims(msgi="sha256-" + base64.b64encode(hashlib.sha1(BODY).digest()).decode()),  # noqa: S324
            id="msgi-short-digest",
        ),
        pytest.param(good_header(ppt="msg"), good_claims(msgi=None), id="msgi-null"),
    ],
)
def test_malformed(
    pki: Pki,
    key: ec.EllipticCurvePrivateKey,
    leaf: x509.Certificate,
    header: dict[str, Any],
    claims: dict[str, Any],
) -> None:
    token = raw_token(key, header, claims)
    with pytest.raises(PassportError) as excinfo:
        passport_parse(token)
    assert excinfo.value.reason == "malformed"
    assert reason(token, pki, leaf, body=BODY) == "malformed"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("a.b", id="two-segments"),
        pytest.param(
            b64url_encode(b'{"alg":"none","typ":"passport","x5u":"https://x"}') + ".e30.",
            id="alg-none",
        ),
        pytest.param(
            b64url_encode(b"[1]") + "." + b64url_encode(b"{}") + "." + "A" * 86, id="header-array"
        ),
        pytest.param(
            b64url_encode(canonical_json(good_header()))
            + "."
            + b64url_encode(b"[]")
            + "."
            + "A" * 86,
            id="claims-array",
        ),
    ],
)
def test_not_a_jws(token: str) -> None:
    with pytest.raises(PassportError) as excinfo:
        passport_parse(token)
    assert excinfo.value.reason == "malformed"


def test_duplicate_claim_is_malformed(key: ec.EllipticCurvePrivateKey) -> None:
    claims = canonical_json(good_claims())[:-1] + b',"iat":1}'
    with pytest.raises(PassportError) as excinfo:
        passport_parse(jws_sign(good_header(), claims, key))
    assert excinfo.value.reason == "malformed"


def test_unsupported_ppt(pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate) -> None:
    # RFC 8225 §8.1: a PASSporT type the verifier does not know is not accepted.
    token = raw_token(key, good_header(ppt="div"), good_claims(div={"tn": NUMBER}))
    assert reason(token, pki, leaf) == "ppt-unsupported"


def test_unknown_reason_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown"):
        PassportError("stail", "typo")


# --- property --------------------------------------------------------------------------------

numbers = st.text(alphabet="0123456789", min_size=1, max_size=15)


@pytest.fixture(scope="module")
def covering_leaf(pki: Pki, key: ec.EllipticCurvePrivateKey) -> Any:
    """Certificates for ``key`` covering one number each, made once per number."""
    cache: dict[str, x509.Certificate] = {}

    def leaf_for(number: str) -> x509.Certificate:
        if number not in cache:
            cache[number] = pki.leaf(key.public_key(), numbers=[number])
        return cache[number]

    return leaf_for


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orig=numbers,
    dest=st.lists(numbers, min_size=1, max_size=5),
    skew=st.integers(min_value=-FRESHNESS, max_value=FRESHNESS),
    kind=st.sampled_from(["plain", "shaken", "msg"]),
    attest=st.sampled_from(sorted("ABC")),
    body=st.binary(max_size=200),
)
def test_sign_verify_round_trip(
    pki: Pki,
    key: ec.EllipticCurvePrivateKey,
    covering_leaf: Any,
    orig: str,
    dest: list[str],
    skew: int,
    kind: str,
    attest: str,
    body: bytes,
) -> None:
    extra: dict[str, Any] = {}
    if kind == "shaken":
        extra = {"ppt": "shaken", "attest": attest, "origid": str(uuid.uuid4())}
    elif kind == "msg":
        extra = {"ppt": "msg", "body": body}
    token = passport_sign(key, x5u=X5U, orig=orig, dest=dest, iat=IAT + skew, **extra)
    verified = passport_verify(
        token,
        chain=[covering_leaf(orig), pki.issuing],
        roots=[pki.root],
        at=NOW,
        body=extra.get("body"),
    )
    passport = verified.passport
    assert (passport.orig, passport.dest, passport.iat) == (orig, tuple(dest), IAT + skew)
    assert passport.attest == extra.get("attest") and passport.origid == extra.get("origid")
    assert verified.body_checked == (kind == "msg")
    # Anyone else's ES256 verifier reads the same claims.
    assert jwt.decode(token, key.public_key(), algorithms=["ES256"], options={"verify_iat": False})[
        "orig"
    ] == {"tn": orig}


def test_leaf_pem_round_trip_still_verifies(
    pki: Pki, key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate
) -> None:
    # What a server fetches from x5u is PEM text: parsed back, the chain verifies the same.
    pem = b"".join(
        certificate.public_bytes(serialization.Encoding.PEM) for certificate in (leaf, pki.issuing)
    )
    chain = x509.load_pem_x509_certificates(pem)
    assert verify(sign(key), pki, leaf, chain=chain).chain[0] == leaf


def test_verified_at_a_later_time(pki: Pki, key: ec.EllipticCurvePrivateKey) -> None:
    later = NOW + timedelta(days=10)
    leaf = pki.leaf(key.public_key())
    token = sign(key, iat=int(later.timestamp()))
    assert verify(token, pki, leaf, at=later).passport.iat == int(later.timestamp())
    assert reason(token, pki, leaf, at=datetime.fromtimestamp(IAT, NOW.tzinfo)) == "future"
