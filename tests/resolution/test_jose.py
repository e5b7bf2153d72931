"""Tests for resolution.protocol.jose, against RFC 7515 Appendix A.3 and PyJWT."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from resolution.protocol.jose import (
    MAX_JWS_SIZE,
    JoseError,
    ParsedJws,
    b64url_decode,
    b64url_encode,
    jws_parse,
    jws_payload_json,
    jws_sign,
    jws_verify,
)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# RFC 7515 Appendix A.3: ES256 over the payload of A.1, whose JSON holds CRLF and spaces.
A3_HEADER = "eyJhbGciOiJFUzI1NiJ9"
A3_PAYLOAD = (
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
A3_SIGNATURE = (
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
A3_TOKEN = f"{A3_HEADER}.{A3_PAYLOAD}.{A3_SIGNATURE}"
A3_X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
A3_Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
A3_D = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"


def coordinate(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def a3_public_key() -> ec.EllipticCurvePublicKey:
    numbers = ec.EllipticCurvePublicNumbers(coordinate(A3_X), coordinate(A3_Y), ec.SECP256R1())
    return numbers.public_key()


def a3_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(coordinate(A3_D), ec.SECP256R1())


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def with_signature(token: str, signature: bytes) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{b64url_encode(signature)}"


def unsigned_token(header: bytes, payload: bytes = b"{}", signature: bytes = b"\x01" * 64) -> str:
    """A token with the given raw header JSON, for tests that never reach verification."""
    return ".".join(b64url_encode(part) for part in (header, payload, signature))


# --- base64url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"f", "Zg"),
        (b"fo", "Zm8"),
        (b"foo", "Zm9v"),
        (b"\xfb\xff\xbf", "-_-_"),  # the two characters that differ from standard base64
        (bytes([3, 236, 255, 224, 193]), "A-z_4ME"),  # RFC 7515 Appendix C
    ],
)
def test_b64url(data: bytes, text: str) -> None:
    assert b64url_encode(data) == text
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param("Zg==", "padded", id="padding"),
        pytest.param("Zm8=", "padded", id="single-padding"),
        pytest.param("+/+/", "outside", id="standard-alphabet"),
        pytest.param("Zm 9v", "outside", id="space"),
        pytest.param("Zm9v\n", "outside", id="newline"),
        pytest.param("Zm9v\u0661", "outside", id="non-ascii-digit"),
        pytest.param("Zm9v.", "outside", id="dot"),
        pytest.param("Z", "length 1", id="length-1-mod-4"),
        pytest.param("Zm9vZ", "length 5", id="length-5"),
        pytest.param("Zh", "pad bits", id="non-zero-pad-bits-one-byte"),
        pytest.param("Zm9", "pad bits", id="non-zero-pad-bits-two-bytes"),
    ],
)
def test_b64url_decode_rejects(text: str, match: str) -> None:
    with pytest.raises(JoseError, match=match):
        b64url_decode(text)


def test_b64url_decode_rejects_bytes() -> None:
    with pytest.raises(JoseError):
        b64url_decode(b"Zm9v")  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_b64url_round_trip_property(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data


@given(st.text(max_size=40))
def test_b64url_decode_raises_only_jose_error(text: str) -> None:
    with contextlib.suppress(JoseError):
        assert b64url_encode(b64url_decode(text)) == text


# --- RFC 7515 Appendix A.3 --------------------------------------------------------------------


def test_rfc7515_a3_verifies() -> None:
    parsed = jws_parse(A3_TOKEN)
    assert parsed.header == {"alg": "ES256"}
    assert parsed.signing_input == f"{A3_HEADER}.{A3_PAYLOAD}".encode("ascii")
    assert parsed.payload == (
        b'{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
    )
    jws_verify(parsed, a3_public_key())
    assert jws_payload_json(parsed) == {
        "iss": "joe",
        "exp": 1300819380,
        "http://example.com/is_root": True,
    }


def test_rfc7515_a3_private_key_matches() -> None:
    assert a3_private_key().public_key() == a3_public_key()
    token = jws_sign({"alg": "ES256"}, b"Payload", a3_private_key())
    jws_verify(jws_parse(token), a3_public_key())


def test_rfc7515_a3_tampered_payload_fails() -> None:
    payload = b64url_encode(jws_parse(A3_TOKEN).payload.replace(b"true", b"fals"))
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(f"{A3_HEADER}.{payload}.{A3_SIGNATURE}"), a3_public_key())


# --- signing ----------------------------------------------------------------------------------


def test_sign_serialises_header_canonically(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"typ": "JWT", "alg": "ES256", "kid": "k1"}, b"hello", key)
    header, payload, signature = token.split(".")
    assert b64url_decode(header) == b'{"alg":"ES256","kid":"k1","typ":"JWT"}'
    assert b64url_decode(payload) == b"hello"
    assert len(b64url_decode(signature)) == 64
    parsed = jws_parse(token)
    assert parsed.header == {"alg": "ES256", "kid": "k1", "typ": "JWT"}
    assert parsed.payload == b"hello"
    jws_verify(parsed, key.public_key())


def test_sign_empty_payload(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"", key)
    assert token.split(".")[1] == ""
    parsed = jws_parse(token)
    assert parsed.payload == b""
    jws_verify(parsed, key.public_key())


def test_signature_is_raw_r_and_s(key: ec.EllipticCurvePrivateKey) -> None:
    # PyJWT's own R || S to DER conversion gives a signature cryptography accepts; over many
    # signatures some R or S has a leading zero byte, which must be kept as padding.
    for index in range(32):
        parsed = jws_parse(jws_sign({"alg": "ES256"}, str(index).encode(), key))
        der = jwt.utils.raw_to_der_signature(parsed.signature, ec.SECP256R1())
        key.public_key().verify(der, parsed.signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        assert parsed.signature == r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({}, id="no-alg"),
        pytest.param({"alg": "none"}, id="alg-none"),
        pytest.param({"alg": "HS256"}, id="alg-hs256"),
        pytest.param({"alg": "ES384"}, id="alg-es384"),
        pytest.param({"alg": "es256"}, id="alg-lowercase"),
        pytest.param({"alg": "ES256", "crit": ["exp"]}, id="crit"),
        pytest.param({"alg": "ES256", 1: "x"}, id="non-string-key"),
        pytest.param({"alg": "ES256", "x": float("nan")}, id="nan"),
        pytest.param([("alg", "ES256")], id="not-a-mapping"),
    ],
)
def test_sign_rejects_header(header: Any, key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(JoseError):
        jws_sign(header, b"{}", key)


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="p384"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), id="secp256k1"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, id="ed25519"),
        pytest.param(
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), id="rsa"
        ),
        pytest.param(lambda: None, id="none"),
    ],
)
def test_sign_rejects_key(make_key: Any) -> None:
    with pytest.raises(JoseError):
        jws_sign({"alg": "ES256"}, b"{}", make_key())


def test_sign_rejects_text_payload(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(JoseError):
        jws_sign({"alg": "ES256"}, "{}", key)  # type: ignore[arg-type]


# --- interoperability with PyJWT --------------------------------------------------------------


def test_pyjwt_verifies_our_token(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256", "kid": "k1"}, b"\x00\xffraw bytes", key)
    decoded = jwt.api_jws.PyJWS().decode_complete(token, key.public_key(), algorithms=["ES256"])
    assert decoded["payload"] == b"\x00\xffraw bytes"
    assert decoded["header"] == {"alg": "ES256", "kid": "k1"}


def test_pyjwt_verifies_our_json_token(key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"iss": "+15551234567", "iat": 1700000000, "nonce": "é"}
    payload = json.dumps(claims).encode()
    token = jws_sign({"alg": "ES256", "typ": "JWT"}, payload, key)
    assert jwt.decode(token, key.public_key(), algorithms=["ES256"]) == claims


def test_pyjwt_rejects_our_token_with_another_key(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.PyJWS().decode_complete(token, other, algorithms=["ES256"])


def test_we_verify_pyjwt_jws(key: ec.EllipticCurvePrivateKey) -> None:
    token = jwt.api_jws.PyJWS().encode(b"raw payload", key, algorithm="ES256")
    parsed = jws_parse(token)
    jws_verify(parsed, key.public_key())
    assert parsed.payload == b"raw payload"


def test_we_verify_pyjwt_jwt(key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"sub": "15551234567", "n": [1, 2, {"x": None}]}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "abc"})
    parsed = jws_parse(token)
    jws_verify(parsed, key.public_key())
    assert parsed.header == {"alg": "ES256", "kid": "abc", "typ": "JWT"}
    assert jws_payload_json(parsed) == claims


def test_pyjwt_jws_with_another_key_fails(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode({"sub": "x"}, other, algorithm="ES256")
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(token), key.public_key())


# --- tampering --------------------------------------------------------------------------------


def test_tampered_header_fails(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256", "kid": "a"}, b"{}", key)
    _, payload, signature = token.split(".")
    header = b64url_encode(b'{"alg":"ES256","kid":"b"}')
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(f"{header}.{payload}.{signature}"), key.public_key())


def test_reserialised_header_fails(key: ec.EllipticCurvePrivateKey) -> None:
    # Same JSON value, other bytes: the signature covers the text, not the value.
    token = jws_sign({"alg": "ES256", "kid": "a"}, b"{}", key)
    _, payload, signature = token.split(".")
    header = b64url_encode(b'{"kid":"a","alg":"ES256"}')
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(f"{header}.{payload}.{signature}"), key.public_key())


def test_tampered_payload_fails(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b'{"amount":1}', key)
    header, _, signature = token.split(".")
    payload = b64url_encode(b'{"amount":9}')
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(f"{header}.{payload}.{signature}"), key.public_key())


@pytest.mark.parametrize("byte", [0, 31, 32, 63])
def test_tampered_signature_fails(key: ec.EllipticCurvePrivateKey, byte: int) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    signature = bytearray(jws_parse(token).signature)
    signature[byte] ^= 0x01
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(with_signature(token, bytes(signature))), key.public_key())


def test_swapped_r_and_s_fails(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    signature = jws_parse(token).signature
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(
            jws_parse(with_signature(token, signature[32:] + signature[:32])), key.public_key()
        )


def test_other_key_fails(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(JoseError, match="does not verify"):
        jws_verify(jws_parse(token), other)


def test_high_s_twin_verifies(key: ec.EllipticCurvePrivateKey) -> None:
    # ECDSA malleability, documented in the module: (r, n - s) is a second valid signature.
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    signature = jws_parse(token).signature
    s = int.from_bytes(signature[32:], "big")
    twin = signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    jws_verify(jws_parse(with_signature(token, twin)), key.public_key())


@pytest.mark.parametrize(
    ("r", "s"),
    [
        pytest.param(0, 1, id="r-zero"),
        pytest.param(1, 0, id="s-zero"),
        pytest.param(P256_ORDER, 1, id="r-equals-n"),
        pytest.param(1, P256_ORDER, id="s-equals-n"),
        pytest.param(2**256 - 1, 1, id="r-max"),
        pytest.param(1, P256_ORDER + 1, id="s-above-n"),
    ],
)
def test_signature_scalars_out_of_range(key: ec.EllipticCurvePrivateKey, r: int, s: int) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(JoseError, match=r"outside \[1, n\)"):
        jws_verify(jws_parse(with_signature(token, signature)), key.public_key())


# --- algorithms -------------------------------------------------------------------------------


def test_alg_none_rejected() -> None:
    # PyJWT refuses to encode alg "none" without a key; this is the token it would produce.
    token = b64url_encode(b'{"alg":"none"}') + "." + b64url_encode(b"{}") + "."
    with pytest.raises(JoseError, match="signature segment is empty"):
        jws_parse(token)


def test_alg_none_with_signature_rejected() -> None:
    with pytest.raises(JoseError, match="alg 'none'"):
        jws_parse(unsigned_token(b'{"alg":"none"}'))


def test_alg_hs256_rejected() -> None:
    token = jwt.encode({"sub": "x"}, "a shared secret of thirty-two bytes!", algorithm="HS256")
    with pytest.raises(JoseError, match="alg 'HS256'"):
        jws_parse(token)


def test_alg_rs256_rejected() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "x"}, rsa_key, algorithm="RS256")
    with pytest.raises(JoseError, match="alg 'RS256'"):
        jws_parse(token)


def test_alg_es384_rejected() -> None:
    token = jwt.encode({"sub": "x"}, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")
    with pytest.raises(JoseError, match="alg 'ES384'"):
        jws_parse(token)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"{}", id="missing"),
        pytest.param(b'{"alg":null}', id="null"),
        pytest.param(b'{"alg":["ES256"]}', id="list"),
        pytest.param(b'{"alg":"ES256 "}', id="trailing-space"),
        pytest.param(b'{"alg":"es256"}', id="lowercase"),
        pytest.param(b'{"alg":"EdDSA"}', id="eddsa"),
    ],
)
def test_other_alg_values_rejected(header: bytes) -> None:
    with pytest.raises(JoseError, match="alg"):
        jws_parse(unsigned_token(header))


def test_verify_rechecks_alg(key: ec.EllipticCurvePrivateKey) -> None:
    # A ParsedJws built by hand, not by jws_parse, still has its alg checked.
    parsed = jws_parse(jws_sign({"alg": "ES256"}, b"{}", key))
    forged = ParsedJws(
        header={"alg": "none"},
        payload=parsed.payload,
        signing_input=parsed.signing_input,
        signature=parsed.signature,
    )
    with pytest.raises(JoseError, match="alg"):
        jws_verify(forged, key.public_key())


# --- header checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b'{"alg":"ES256","alg":"ES256"}', id="same-value"),
        pytest.param(b'{"alg":"none","alg":"ES256"}', id="last-wins-would-be-es256"),
        pytest.param(b'{"alg":"ES256","kid":"a","kid":"b"}', id="kid"),
        pytest.param(b'{"alg":"ES256","x":{"y":1,"y":2}}', id="nested"),
    ],
)
def test_duplicate_header_members_rejected(header: bytes) -> None:
    with pytest.raises(JoseError, match="duplicate object key"):
        jws_parse(unsigned_token(header))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b'{"alg":"ES256","crit":["exp"],"exp":1}', id="crit-exp"),
        pytest.param(b'{"alg":"ES256","crit":["b64"],"b64":false}', id="crit-b64"),
        pytest.param(b'{"alg":"ES256","crit":[]}', id="crit-empty"),
    ],
)
def test_crit_rejected(header: bytes) -> None:
    with pytest.raises(JoseError, match="crit"):
        jws_parse(unsigned_token(header))


@pytest.mark.parametrize(
    ("header", "match"),
    [
        pytest.param(b'["alg","ES256"]', "not an object", id="array"),
        pytest.param(b'"ES256"', "not an object", id="string"),
        pytest.param(b"null", "not an object", id="null"),
        pytest.param(b'{"alg":"ES256"', "not JSON", id="truncated"),
        pytest.param(b'{"alg":"ES256"} x', "not JSON", id="trailing-garbage"),
        pytest.param(b'{"alg":"ES256","n":NaN}', "NaN is not JSON", id="nan"),
        pytest.param(b'{"alg":"ES256","n":Infinity}', "Infinity is not JSON", id="infinity"),
        pytest.param(b'{"alg":"ES\xff256"}', "not JSON", id="invalid-utf8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "not", id="deep-nesting"),
        pytest.param(b"", "header segment is empty", id="empty-json"),
    ],
)
def test_bad_header_json_rejected(header: bytes, match: str) -> None:
    with pytest.raises(JoseError, match=match):
        jws_parse(unsigned_token(header))


# --- framing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="one-segment"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9.e30", id="two-segments"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9.e30.AA.AA", id="four-segments"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9.e30.AA.AA.AA", id="five-segments-jwe"),
        pytest.param(".e30." + "A" * 86, id="empty-header"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9.e30.", id="empty-signature"),
    ],
)
def test_bad_segments_rejected(token: str) -> None:
    with pytest.raises(JoseError, match="segment"):
        jws_parse(token)


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param(0, id="header"),
        pytest.param(1, id="payload"),
        pytest.param(2, id="signature"),
    ],
)
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text + "=" * (-len(text) % 4 or 4), id="padding"),
        pytest.param(lambda text: text.replace("-", "+").replace("_", "/") + "+/", id="std"),
        pytest.param(lambda text: text[:4] + " " + text[4:], id="space"),
        pytest.param(lambda text: text + "A" * ((1 - len(text)) % 4 or 4), id="length-1-mod-4"),
    ],
)
def test_bad_base64_rejected(key: ec.EllipticCurvePrivateKey, segment: int, damage: Any) -> None:
    parts = jws_sign({"alg": "ES256"}, b'{"a":"payload"}', key).split(".")
    parts[segment] = damage(parts[segment])
    with pytest.raises(JoseError, match="base64url"):
        jws_parse(".".join(parts))


@pytest.mark.parametrize("size", [1, 32, 63, 65, 72, 128])
def test_signature_length_rejected(size: int) -> None:
    with pytest.raises(JoseError, match=f"signature is {size} bytes"):
        jws_parse(unsigned_token(b'{"alg":"ES256"}', signature=b"\x01" * size))


def test_der_signature_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    parsed = jws_parse(token)
    der = key.sign(parsed.signing_input, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(JoseError, match="want 64"):
        jws_parse(with_signature(token, der))


def test_oversize_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"x" * MAX_JWS_SIZE, key)
    assert len(token) > MAX_JWS_SIZE
    with pytest.raises(JoseError, match="more than"):
        jws_parse(token)


def test_size_limit_is_inclusive(key: ec.EllipticCurvePrivateKey) -> None:
    # header (20) + "." + payload + "." + signature (86): pad the payload to hit the limit.
    payload_chars = MAX_JWS_SIZE - 20 - 1 - 1 - 86
    payload = b"x" * (payload_chars * 3 // 4)
    token = jws_sign({"alg": "ES256"}, payload, key)
    assert len(token) == MAX_JWS_SIZE
    jws_verify(jws_parse(token), key.public_key())
    with pytest.raises(JoseError, match="more than"):
        jws_parse(token + "A")


def test_parse_rejects_bytes(key: ec.EllipticCurvePrivateKey) -> None:
    token = jws_sign({"alg": "ES256"}, b"{}", key)
    with pytest.raises(JoseError, match="must be a string"):
        jws_parse(token.encode())  # type: ignore[arg-type]


# --- keys -------------------------------------------------------------------------------------


def test_verify_rejects_p384_key(key: ec.EllipticCurvePrivateKey) -> None:
    parsed = jws_parse(jws_sign({"alg": "ES256"}, b"{}", key))
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(JoseError, match="P-256"):
        jws_verify(parsed, p384)


def test_verify_rejects_p256_private_key(key: ec.EllipticCurvePrivateKey) -> None:
    parsed = jws_parse(jws_sign({"alg": "ES256"}, b"{}", key))
    with pytest.raises(JoseError, match="public key"):
        jws_verify(parsed, key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(lambda: ed25519.Ed25519PrivateKey.generate().public_key(), id="ed25519"),
        pytest.param(
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
            id="rsa",
        ),
        pytest.param(lambda: b"\x04" + b"\x00" * 64, id="bytes"),
    ],
)
def test_verify_rejects_non_ec_keys(key: ec.EllipticCurvePrivateKey, make_key: Any) -> None:
    parsed = jws_parse(jws_sign({"alg": "ES256"}, b"{}", key))
    with pytest.raises(JoseError, match="elliptic-curve public key"):
        jws_verify(parsed, make_key())


# --- payload JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        pytest.param(b'{"a":1,"a":2}', "duplicate object key 'a'", id="duplicate"),
        pytest.param(b"[1,2]", "not an object", id="array"),
        pytest.param(b"", "not JSON", id="empty"),
        pytest.param(b"\xff{}", "not JSON", id="not-utf8"),
        pytest.param(b'{"a":NaN}', "NaN", id="nan"),
    ],
)
def test_payload_json_rejects(key: ec.EllipticCurvePrivateKey, payload: bytes, match: str) -> None:
    parsed = jws_parse(jws_sign({"alg": "ES256"}, payload, key))
    with pytest.raises(JoseError, match=match):
        jws_payload_json(parsed)


def test_payload_json_accepts_any_whitespace(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    parsed = jws_parse(jws_sign({"alg": "ES256"}, b' { "a" : [1, "\\u00e9"] } ', key))
    assert jws_payload_json(parsed) == {"a": [1, "é"]}


# --- properties -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=30, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(max_size=8).filter(lambda name: name not in {"alg", "crit"}),
        json_values,
        max_size=4,
    ),
    payload=st.binary(max_size=300),
)
def test_sign_parse_verify_property(
    key: ec.EllipticCurvePrivateKey, extra: dict[str, Any], payload: bytes
) -> None:
    header = {**extra, "alg": "ES256"}
    token = jws_sign(header, payload, key)
    parsed = jws_parse(token)
    assert parsed.header == header
    assert parsed.payload == payload
    jws_verify(parsed, key.public_key())
    assert (
        jwt.api_jws.PyJWS().decode_complete(token, key.public_key(), algorithms=["ES256"])[
            "payload"
        ]
        == payload
    )


@given(st.text(max_size=300))
def test_parse_arbitrary_text_raises_only_jose_error(token: str) -> None:
    with contextlib.suppress(JoseError):
        jws_parse(token)


@given(
    st.lists(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        min_size=3,
        max_size=3,
    )
)
def test_parse_arbitrary_segments_raises_only_jose_error(segments: list[str]) -> None:
    with contextlib.suppress(JoseError):
        jws_parse(".".join(segments))


@given(header=st.binary(max_size=100), payload=st.binary(max_size=100))
def test_parse_arbitrary_header_bytes_raises_only_jose_error(header: bytes, payload: bytes) -> None:
    with contextlib.suppress(JoseError):
        parsed = jws_parse(unsigned_token(header, payload))
        jws_payload_json(parsed)
