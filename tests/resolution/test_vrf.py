"""Tests for resolution.protocol.vrf (ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381 suite 0x03).

The RFC 9381 Appendix B.3 vectors are checked byte for byte.  Property tests cover round trips
and rejection.  Hand-built proofs then exercise the parts of the RFC that honest proofs never
reach: a small-order key (section 5.4.5), s >= q (section 5.4.4), and torsion components in Y
and Gamma (sections 5.2 and 5.3).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings as sodium
from nacl.exceptions import RuntimeError as SodiumRefused
from nacl.signing import SigningKey

from resolution.protocol import vrf

VECTORS_FILE = (
    Path(__file__).resolve().parents[1] / "vectors" / "vrf" / "rfc9381-edwards25519-sha512-tai.json"
)
VECTORS: list[dict[str, str]] = json.loads(VECTORS_FILE.read_text())["vectors"]
VECTOR_IDS = [f"example-{16 + i}" for i in range(len(VECTORS))]

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P

IDENTITY = bytes.fromhex("01" + "00" * 31)
ORDER_2 = bytes.fromhex("ec" + "ff" * 30 + "7f")  # (0, -1)
# The eight points of small order, canonically encoded (orders 1, 2, 4, 4, 8, 8, 8, 8).
SMALL_ORDER_POINTS = [
    IDENTITY,
    ORDER_2,
    bytes.fromhex("00" * 32),
    bytes.fromhex("00" * 31 + "80"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
]

# No example database: the tests must not write files into the checkout.
PROPERTY = settings(database=None, deadline=None, max_examples=100)

secret_keys = st.binary(min_size=32, max_size=32)
alphas = st.binary(max_size=64)


def scalar(n: int) -> bytes:
    return (n % Q).to_bytes(32, "little")


def vector(v: dict[str, str], field: str) -> bytes:
    return bytes.fromhex(v[field])


def add(p1: bytes, p2: bytes) -> bytes:
    return sodium.crypto_core_ed25519_add(p1, p2)


def is_square_ratio(y: int) -> bool:
    """Euler's criterion for (y^2 - 1) / (d*y^2 + 1), independent of the module's decoder."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    return pow(u * pow(v, -1, P) % P, (P - 1) // 2, P) in (0, 1)


def recomputed_challenge(pk: bytes, pi: bytes, alpha: bytes) -> bytes:
    """c' from RFC 9381 section 5.3 steps 7-10 alone (no validate_key, no s < q check)."""
    gamma, c, s = pi[:32], pi[32:48], pi[48:]
    c_scalar = c + bytes(16)
    h = vrf.encode_to_curve(pk, alpha)
    u = sodium.crypto_core_ed25519_sub(vrf._scalarmult_base(s), vrf._scalarmult(c_scalar, pk))
    v = sodium.crypto_core_ed25519_sub(vrf._scalarmult(s, h), vrf._scalarmult(c_scalar, gamma))
    return vrf._challenge_generation(pk, h, gamma, u, v)


def challenge_holds(pk: bytes, pi: bytes, alpha: bytes) -> bool:
    """Whether step 11's c == c' holds, ignoring the other checks of section 5.3."""
    return recomputed_challenge(pk, pi, alpha) == pi[32:48]


# --- RFC 9381 Appendix B.3 vectors --------------------------------------------------------


def test_vector_file_is_the_expected_suite() -> None:
    assert len(VECTORS) == 3
    assert "0x03" in json.loads(VECTORS_FILE.read_text())["suite"]


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_public_key_and_secret_scalar(v: dict[str, str]) -> None:
    sk = vector(v, "SK")
    assert vrf.public_key(sk) == vector(v, "PK")
    assert vrf._secret_scalar(sk) == vector(v, "x")


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_encode_to_curve(v: dict[str, str]) -> None:
    assert vrf.encode_to_curve(vector(v, "PK"), vector(v, "alpha")) == vector(v, "H")


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_nonce(v: dict[str, str]) -> None:
    assert "k" in v, "every RFC 9381 B.3 vector carries its nonce k"
    k_string = vrf._nonce_hash(vector(v, "SK"), vector(v, "H"))
    assert k_string == vector(v, "k")
    k = sodium.crypto_core_ed25519_scalar_reduce(k_string)
    if "U" in v:
        assert sodium.crypto_scalarmult_ed25519_base_noclamp(k) == vector(v, "U")
    if "V" in v:
        assert sodium.crypto_scalarmult_ed25519_noclamp(k, vector(v, "H")) == vector(v, "V")


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_proof(v: dict[str, str]) -> None:
    assert vrf.prove(vector(v, "SK"), vector(v, "alpha")) == vector(v, "pi")


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_beta(v: dict[str, str]) -> None:
    pk, pi, alpha = vector(v, "PK"), vector(v, "pi"), vector(v, "alpha")
    assert vrf.verify(pk, pi, alpha) == vector(v, "beta")
    assert vrf.proof_to_hash(pi) == vector(v, "beta")


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_rejected_with_other_alpha(v: dict[str, str]) -> None:
    with pytest.raises(vrf.VRFError, match="challenge mismatch"):
        vrf.verify(vector(v, "PK"), vector(v, "pi"), vector(v, "alpha") + b"\x00")


# --- Public API basics -------------------------------------------------------------------


def test_generate_secret_key() -> None:
    keys = {vrf.generate_secret_key() for _ in range(8)}
    assert len(keys) == 8
    assert all(isinstance(k, bytes) and len(k) == vrf.SECRET_KEY_LENGTH for k in keys)


def test_sizes() -> None:
    sk = vrf.generate_secret_key()
    pi = vrf.prove(sk, b"+15551234567")
    assert len(vrf.public_key(sk)) == vrf.PUBLIC_KEY_LENGTH == 32
    assert len(pi) == vrf.PROOF_LENGTH == 80
    assert len(vrf.proof_to_hash(pi)) == vrf.OUTPUT_LENGTH == 64


def test_bytes_like_inputs_accepted_and_other_types_refused() -> None:
    sk = bytes(range(32))
    pk, pi = vrf.public_key(sk), vrf.prove(sk, b"a")
    # Annotated as bytes, but bytes-like objects work at run time.
    beta = vrf.verify(bytearray(pk), memoryview(pi), bytearray(b"a"))  # type: ignore[arg-type]
    assert beta == vrf.proof_to_hash(pi)
    with pytest.raises(TypeError):
        vrf.verify(pk, pi, "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vrf.prove(sk.hex(), b"a")  # type: ignore[arg-type]


def test_vrferror_is_a_valueerror() -> None:
    assert issubclass(vrf.VRFError, ValueError)


# --- Properties ----------------------------------------------------------------------------


@PROPERTY
@given(sk=secret_keys, alpha=alphas)
def test_prove_verify_round_trip(sk: bytes, alpha: bytes) -> None:
    pk = vrf.public_key(sk)
    pi = vrf.prove(sk, alpha)
    beta = vrf.verify(pk, pi, alpha)
    assert len(beta) == 64
    assert beta == vrf.proof_to_hash(pi)
    assert vrf.prove(sk, alpha) == pi  # deterministic


@PROPERTY
@given(sk=secret_keys)
def test_public_key_is_the_ed25519_public_key(sk: bytes) -> None:
    assert vrf.public_key(sk) == SigningKey(sk).verify_key.encode()


@PROPERTY
@given(sk=secret_keys, alpha=alphas, bit=st.integers(min_value=0, max_value=8 * 80 - 1))
def test_any_single_bit_flip_in_pi_is_rejected(sk: bytes, alpha: bytes, bit: int) -> None:
    pi = bytearray(vrf.prove(sk, alpha))
    pi[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(vrf.VRFError):
        vrf.verify(vrf.public_key(sk), bytes(pi), alpha)


@PROPERTY
@given(sk=secret_keys, alpha=alphas, other=alphas)
def test_other_alpha_is_rejected(sk: bytes, alpha: bytes, other: bytes) -> None:
    if other == alpha:
        other = alpha + b"!"
    with pytest.raises(vrf.VRFError):
        vrf.verify(vrf.public_key(sk), vrf.prove(sk, alpha), other)


@PROPERTY
@given(sk=secret_keys, other_sk=secret_keys, alpha=alphas)
def test_other_public_key_is_rejected(sk: bytes, other_sk: bytes, alpha: bytes) -> None:
    if other_sk == sk:
        other_sk = bytes([sk[0] ^ 1]) + sk[1:]
    with pytest.raises(vrf.VRFError):
        vrf.verify(vrf.public_key(other_sk), vrf.prove(sk, alpha), alpha)


@PROPERTY
@given(
    sk=secret_keys,
    alpha=alphas,
    bad_pk=st.binary(max_size=64).filter(lambda b: len(b) != 32),
    bad_pi=st.binary(max_size=160).filter(lambda b: len(b) != 80),
    bad_sk=st.binary(max_size=64).filter(lambda b: len(b) != 32),
)
def test_malformed_lengths_raise_vrferror(
    sk: bytes, alpha: bytes, bad_pk: bytes, bad_pi: bytes, bad_sk: bytes
) -> None:
    pk, pi = vrf.public_key(sk), vrf.prove(sk, alpha)
    with pytest.raises(vrf.VRFError, match="public key must be 32 bytes"):
        vrf.verify(bad_pk, pi, alpha)
    with pytest.raises(vrf.VRFError, match="proof must be 80 bytes"):
        vrf.verify(pk, bad_pi, alpha)
    with pytest.raises(vrf.VRFError, match="proof must be 80 bytes"):
        vrf.proof_to_hash(bad_pi)
    with pytest.raises(vrf.VRFError, match="secret key must be 32 bytes"):
        vrf.prove(bad_sk, alpha)
    with pytest.raises(vrf.VRFError, match="secret key must be 32 bytes"):
        vrf.public_key(bad_sk)
    with pytest.raises(vrf.VRFError, match="public key must be 32 bytes"):
        vrf.encode_to_curve(bad_pk, alpha)


@PROPERTY
@given(pk=st.binary(min_size=32, max_size=32), alpha=alphas)
def test_encode_to_curve_lands_in_the_prime_order_subgroup(pk: bytes, alpha: bytes) -> None:
    h = vrf.encode_to_curve(pk, alpha)
    assert sodium.crypto_core_ed25519_is_valid_point(h)  # canonical, order q, not identity


@PROPERTY
@given(pk=st.binary(min_size=32, max_size=32), alpha=alphas)
def test_encode_to_curve_matches_a_pure_python_reference(pk: bytes, alpha: bytes) -> None:
    """Section 5.4.1.1 with the module's Python arithmetic only (no libsodium)."""
    for ctr in range(256):
        digest = hashlib.sha512(b"\x03\x01" + pk + alpha + bytes([ctr, 0])).digest()
        candidate = vrf._decode(digest[:32])
        if candidate is None:
            continue
        h = vrf._encode(vrf._double(vrf._double(vrf._double(candidate))))
        if h != IDENTITY:
            break
    assert vrf.encode_to_curve(pk, alpha) == h


# --- Key validation and proof decoding (RFC 9381 sections 5.4.4, 5.4.5) ----------------


@pytest.mark.parametrize("small", SMALL_ORDER_POINTS, ids=lambda b: b.hex()[:8] + b.hex()[-2:])
def test_small_order_public_key_is_rejected(small: bytes) -> None:
    # The encoding decodes (RFC 8032) and 8*Y is the identity.
    assert vrf._decode(small) is not None
    assert vrf._mul_by_cofactor(small) == IDENTITY
    # Without validate_key, a proof with Gamma = identity would pass for every alpha whenever
    # c*Y is the identity (c divisible by the order of Y, at most 8).  Forge one.
    alpha = b"+15550000000"
    h = vrf.encode_to_curve(small, alpha)
    for i in range(200):
        k = sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(bytes([i])).digest())
        u, v = sodium.crypto_scalarmult_ed25519_base_noclamp(k), vrf._scalarmult(k, h)
        c = vrf._challenge_generation(small, h, IDENTITY, u, v)
        if c[0] % 8 == 0:
            break
    else:
        raise AssertionError("no challenge divisible by 8 in 200 tries")  # probability < 2^-38
    forged = IDENTITY + c + k
    assert challenge_holds(small, forged, alpha)
    with pytest.raises(vrf.VRFError, match="small order"):
        vrf.verify(small, forged, alpha)


@PROPERTY
@given(small=st.sampled_from(SMALL_ORDER_POINTS), pi=st.binary(min_size=80, max_size=80))
def test_small_order_public_key_is_rejected_for_any_proof(small: bytes, pi: bytes) -> None:
    with pytest.raises(vrf.VRFError, match="small order"):
        vrf.verify(small, pi, b"x")


def test_non_canonical_public_key_encodings_are_rejected() -> None:
    # y in [p, 2^255): non-canonical encodings of y - p, with either sign bit.
    for y in range(P, 2**255):
        for sign in (0, 1):
            pk = (y | sign << 255).to_bytes(32, "little")
            with pytest.raises(vrf.VRFError, match="not a valid point encoding"):
                vrf.verify(pk, bytes(80), b"")
    # x = 0 with the sign bit set (RFC 8032 section 5.1.3 step 4).
    for y in (1, P - 1):
        with pytest.raises(vrf.VRFError, match="not a valid point encoding"):
            vrf.verify((y | 1 << 255).to_bytes(32, "little"), bytes(80), b"")


def test_off_curve_public_key_and_gamma_are_rejected() -> None:
    y = next(y for y in range(2, 1000) if not is_square_ratio(y))
    off_curve = y.to_bytes(32, "little")
    assert vrf._decode(off_curve) is None
    with pytest.raises(vrf.VRFError, match="public key is not a valid point encoding"):
        vrf.verify(off_curve, bytes(80), b"")
    sk = bytes(32)
    pi = vrf.prove(sk, b"")
    with pytest.raises(vrf.VRFError, match="Gamma"):
        vrf.verify(vrf.public_key(sk), off_curve + pi[32:], b"")
    with pytest.raises(vrf.VRFError, match="Gamma"):
        vrf.proof_to_hash(off_curve + pi[32:])


@PROPERTY
@given(y=st.integers(min_value=0, max_value=P - 1), sign=st.integers(0, 1))
def test_decode_agrees_with_the_curve_equation(y: int, sign: int) -> None:
    encoded = (y | sign << 255).to_bytes(32, "little")
    point = vrf._decode(encoded)
    x_zero = y in (1, P - 1)
    assert (point is not None) == (is_square_ratio(y) and not (x_zero and sign == 1))
    if point is not None:
        x, y_dec, z, t = point
        assert z == 1 and y_dec == y and x % 2 == sign and t == x * y % P
        assert (-x * x + y * y - 1 - D * x * x * y * y) % P == 0
        assert vrf._encode(point) == encoded


@PROPERTY
@given(a=st.integers(min_value=0, max_value=P - 1))
def test_nonsquare_early_exit_agrees_with_euler(a: int) -> None:
    assert vrf._is_nonsquare(a) == (pow(a, (P - 1) // 2, P) == P - 1)
    assert not vrf._is_nonsquare(a * a)


def test_s_not_reduced_is_rejected() -> None:
    sk, alpha = bytes(range(32)), b"+15551234567"
    pi = vrf.prove(sk, alpha)
    s = int.from_bytes(pi[48:], "little")
    unreduced = pi[:48] + (s + Q).to_bytes(32, "little")
    # s + q acts exactly like s on points of order q: only the s < q check rejects it.
    assert challenge_holds(vrf.public_key(sk), unreduced, alpha)
    with pytest.raises(vrf.VRFError, match="s >= q"):
        vrf.verify(vrf.public_key(sk), unreduced, alpha)
    with pytest.raises(vrf.VRFError, match="s >= q"):
        vrf.proof_to_hash(unreduced)


def test_challenge_must_match_in_full() -> None:
    # Tamper with c until the recomputed c' agrees with it in the first byte only.
    sk, alpha = bytes(range(32)), b"+15551234567"
    pk, pi = vrf.public_key(sk), vrf.prove(sk, alpha)
    for i in range(5000):
        tampered = pi[:33] + hashlib.sha512(i.to_bytes(2, "little")).digest()[:15] + pi[48:]
        if recomputed_challenge(pk, tampered, alpha)[0] == tampered[32]:
            break
    else:
        raise AssertionError("no near miss in 5000 tries")  # probability about 2^-28
    with pytest.raises(vrf.VRFError, match="challenge mismatch"):
        vrf.verify(pk, tampered, alpha)


@pytest.mark.parametrize("gamma", SMALL_ORDER_POINTS, ids=lambda b: b.hex()[:8] + b.hex()[-2:])
@pytest.mark.parametrize("c", [bytes(16), b"\x01" + bytes(15)], ids=["c=0", "c=1"])
@pytest.mark.parametrize("s", [bytes(32), scalar(1)], ids=["s=0", "s=1"])
def test_degenerate_proofs_fail_with_vrferror(gamma: bytes, c: bytes, s: bytes) -> None:
    # libsodium refuses several of these products; the Python fallback must take over.
    pk = vrf.public_key(bytes(32))
    with pytest.raises(vrf.VRFError, match="challenge mismatch"):
        vrf.verify(pk, gamma + c + s, b"alpha")
    assert (
        vrf.proof_to_hash(gamma + c + s)
        == hashlib.sha512(b"\x03\x03" + IDENTITY + b"\x00").digest()
    )


# --- Torsion components (RFC 9381 sections 5.2, 5.3) ---------------------------------------


def forge_with_even_challenge(
    sk: bytes, y: bytes, alpha: bytes, gamma_torsion: bytes = IDENTITY
) -> bytes:
    """A proof for key bytes y built from sk's scalar, using a nonce that makes c even.

    With c even, c*T = identity for T = ORDER_2, so torsion added to y or Gamma cancels out.
    """
    x = vrf._reduced_secret_scalar(sk)
    h = vrf.encode_to_curve(y, alpha)
    gamma = add(sodium.crypto_scalarmult_ed25519_noclamp(x, h), gamma_torsion)
    for i in range(200):
        k = sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(sk + bytes([i])).digest())
        u = sodium.crypto_scalarmult_ed25519_base_noclamp(k)
        c = vrf._challenge_generation(
            y, h, gamma, u, sodium.crypto_scalarmult_ed25519_noclamp(k, h)
        )
        if c[0] % 2 == 0:
            s = sodium.crypto_core_ed25519_scalar_add(
                k, sodium.crypto_core_ed25519_scalar_mul(c + bytes(16), x)
            )
            return gamma + c + s
    raise AssertionError("no even challenge in 200 tries")  # probability 2^-200


@PROPERTY
@given(sk=secret_keys, alpha=alphas)
def test_mixed_order_public_key_is_accepted(sk: bytes, alpha: bytes) -> None:
    # Y + T (T of order 2) has a nonzero prime-order part, so validate_key accepts it;
    # libsodium refuses to multiply it, so verification runs on the Python fallback.
    mixed = add(vrf.public_key(sk), ORDER_2)
    with pytest.raises(SodiumRefused):
        sodium.crypto_scalarmult_ed25519_noclamp(scalar(3), mixed)
    pi = forge_with_even_challenge(sk, mixed, alpha)
    assert vrf.verify(mixed, pi, alpha) == vrf.proof_to_hash(pi)


@PROPERTY
@given(sk=secret_keys, alpha=alphas)
def test_torsion_in_gamma_does_not_change_beta(sk: bytes, alpha: bytes) -> None:
    # proof_to_hash clears the cofactor, so Gamma + T gives the honest beta.
    pk = vrf.public_key(sk)
    honest_beta = vrf.verify(pk, vrf.prove(sk, alpha), alpha)
    malleated = forge_with_even_challenge(sk, pk, alpha, gamma_torsion=ORDER_2)
    assert not sodium.crypto_core_ed25519_is_valid_point(malleated[:32])
    assert vrf.verify(pk, malleated, alpha) == honest_beta


# --- The Python arithmetic against libsodium --------------------------------------------


def times(n: int, point: bytes) -> bytes:
    """n*point by repeated libsodium addition (for small n)."""
    result = IDENTITY
    for _ in range(n):
        result = add(result, point)
    return result


@PROPERTY
@given(
    m=st.integers(min_value=1, max_value=Q - 1),
    n=st.integers(min_value=0, max_value=2**255 - 1),
    torsion=st.sampled_from(SMALL_ORDER_POINTS),
)
def test_python_arithmetic_matches_libsodium(m: int, n: int, torsion: bytes) -> None:
    point = sodium.crypto_scalarmult_ed25519_base_noclamp(scalar(m))
    decoded = vrf._decode(point)
    assert decoded is not None
    assert vrf._encode(decoded) == point
    assert vrf._encode(vrf._py_scalarmult(m, vrf._BASE)) == point
    # n*P for P of order q depends only on n mod q.
    n_point = IDENTITY if n % Q == 0 else sodium.crypto_scalarmult_ed25519_noclamp(scalar(n), point)
    assert vrf._encode(vrf._py_scalarmult(n, decoded)) == n_point
    assert vrf._scalarmult(scalar(n), point) == n_point
    # Cofactor clearing with libsodium's addition equals Python's 8*P, torsion or not.
    mixed = add(point, torsion)
    mixed_decoded = vrf._decode(mixed)
    assert mixed_decoded is not None
    cleared = vrf._mul_by_cofactor(mixed)
    assert cleared == vrf._encode(vrf._py_scalarmult(8, mixed_decoded))
    assert cleared == sodium.crypto_scalarmult_ed25519_base_noclamp(scalar(8 * m))
    # libsodium refuses the mixed-order point; the fallback gives n*P + n*T, n unreduced.
    expected = add(n_point, times(n % 8, torsion))
    assert vrf._scalarmult(n.to_bytes(32, "little"), mixed) == expected
