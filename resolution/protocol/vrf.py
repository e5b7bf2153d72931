"""ECVRF-EDWARDS25519-SHA512-TAI, the verifiable random function of RFC 9381 (suite 0x03).

Phone numbers appear in the transparency log only as VRF outputs: the server proves
``pi = prove(secret_key, alpha)`` for a number ``alpha`` and anybody holding the public key
can check ``verify(public_key, pi, alpha)`` and obtain the 64-byte label ``beta``.

Public API
----------
``generate_secret_key()``, ``public_key(secret_key)``, ``prove(secret_key, alpha)``,
``verify(public_key, pi, alpha)``, ``proof_to_hash(pi)``, ``encode_to_curve(public_key, alpha)``
and the exception ``VRFError`` (a ``ValueError``).  All inputs and outputs are ``bytes``.

Keys
----
The secret key is a 32-byte Ed25519 seed.  As in RFC 8032 section 5.1.5 and RFC 9381
section 5.5, the secret scalar ``x`` is SHA-512(seed)[0:32] with the Ed25519 clamping applied,
and the public key is ``point_to_string(x*B)`` -- the same bytes as the Ed25519 public key for
the same seed.

Implementation notes
--------------------
* Point decoding (``string_to_point``, RFC 8032 section 5.1.3) is implemented here with Python
  integers modulo p = 2^255 - 19.  It accepts every curve point, including points outside the
  prime-order subgroup.  libsodium's checks reject such points, but RFC 9381 needs them: a
  try-and-increment candidate (section 5.4.1.1) is decoded before its cofactor is cleared, and
  a public key or ``Gamma`` with a torsion component is valid (section 5.3 rejects only
  small-order keys).  Candidates are always decoded in Python.  For a public key or
  ``Gamma``, ``crypto_core_ed25519_is_valid_point`` is tried first: it accepts only canonical
  points of order q, and all of those decode.  Whatever it rejects goes to the Python decoder.
* Cofactor multiplication is three doublings with ``crypto_core_ed25519_add``.  That function,
  and ``crypto_core_ed25519_sub``, accept any canonical curve point: small-order and
  mixed-order points and the identity included.
* Scalar multiplication uses libsodium (``crypto_scalarmult_ed25519_noclamp`` and
  ``..._base_noclamp``).  It refuses a point that is non-canonical, of small order or outside
  the prime-order subgroup, an all-zero scalar, and an identity result.  Honest inputs never
  trigger this except with probability about 2^-252 (a nonce ``k`` or ``s`` that is 0 mod q;
  ``x`` mod q is never 0 and H is never the identity).  An attacker can trigger it, though (a
  public key or ``Gamma`` with a torsion component, ``c = 0``, ``s = 0``), and RFC 9381 defines
  the result for those inputs.  So when libsodium refuses, the product is computed with this
  module's own extended-coordinate Edwards arithmetic, which accepts every point and scalar.
  That fallback is variable-time.  It sees secret data only in the 2^-252 cases.
* Scalar arithmetic on secrets (reducing ``x`` and ``k``, and ``s = k + c*x mod q``) uses
  libsodium's ``crypto_core_ed25519_scalar_*`` functions.

Side channels: only the secret-scalar operations that run inside libsodium (scalar
multiplication by ``x`` and ``k``, and the scalar reduce/mul/add) are constant-time.  That is a
nice-to-have here, not a guarantee: hashing the seed, clamping, and Python's handling of the
secret byte strings (which are never zeroised) are not hardened.  Verification handles only
public data.

Cost, measured as CPU time on a shared 2-core AMD EPYC virtual machine over 5000 random inputs:
``prove`` has a median of 0.6 ms and a 99th percentile of 1.2 ms, and ``verify`` 0.9 ms and
1.6 ms.  The spread comes from try-and-increment: about two candidates per input on average,
each costing about 0.2 ms for the Python square root, or about 0.05 ms when the Jacobi-symbol
early exit rejects it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from nacl import bindings as _sodium
from nacl.exceptions import RuntimeError as _SodiumRefused

__all__ = [
    "OUTPUT_LENGTH",
    "PROOF_LENGTH",
    "PUBLIC_KEY_LENGTH",
    "SECRET_KEY_LENGTH",
    "SUITE_NAME",
    "SUITE_STRING",
    "VRFError",
    "encode_to_curve",
    "generate_secret_key",
    "proof_to_hash",
    "prove",
    "public_key",
    "verify",
]

# --- Suite parameters (RFC 9381 section 5.5, ECVRF-EDWARDS25519-SHA512-TAI) -------------------

SUITE_NAME: Final = "ECVRF-EDWARDS25519-SHA512-TAI"
"""The suite's name, as ``GET /log/key`` gives it (``vrf_suite``)."""
SUITE_STRING: Final = b"\x03"
SECRET_KEY_LENGTH: Final = 32
PUBLIC_KEY_LENGTH: Final = 32  # ptLen
_C_LEN: Final = 16  # cLen: challenge length in octets
_Q_LEN: Final = 32  # qLen: scalar length in octets
PROOF_LENGTH: Final = PUBLIC_KEY_LENGTH + _C_LEN + _Q_LEN  # 80
OUTPUT_LENGTH: Final = 64  # hLen: SHA-512 output length

# Domain separators (RFC 9381 sections 5.2, 5.4.1.1, 5.4.3).
_ENCODE_TO_CURVE_FRONT: Final = b"\x01"
_CHALLENGE_FRONT: Final = b"\x02"
_PROOF_TO_HASH_FRONT: Final = b"\x03"
_BACK: Final = b"\x00"

# --- edwards25519 (RFC 8032 section 5.1) ---------------------------------------------------

_P: Final = 2**255 - 19
_Q: Final = 2**252 + 27742317777372353535851937790883648493  # prime order of B
_D: Final = -121665 * pow(121666, _P - 2, _P) % _P
_D2: Final = 2 * _D % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)

# Extended homogeneous coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, x*y = T/Z.
_Point = tuple[int, int, int, int]
_IDENTITY: Final[_Point] = (0, 1, 1, 0)
_IDENTITY_ENCODING: Final = b"\x01" + bytes(31)


class VRFError(ValueError):
    """A VRF input is malformed or a proof does not verify; the message says which check failed."""


def _is_nonsquare(a: int) -> bool:
    """True iff a is a quadratic non-residue mod p (Jacobi symbol, binary algorithm).

    Costs about a quarter of the exponentiation in _recover_x.  Half of all try-and-increment
    candidates fail it, so it is an early exit, not a correctness check: step 3 of
    _recover_x still verifies every root it accepts.
    """
    n, a, result = _P, a % _P, 1
    while a:
        twos = (a & -a).bit_length() - 1
        a >>= twos
        if twos & 1 and n & 7 in (3, 5):
            result = -result
        if a & 3 == 3 and n & 3 == 3:
            result = -result
        a, n = n % a, a
    return n == 1 and result == -1


def _recover_x(y: int, sign: int) -> int | None:
    """Return x with -x^2 + y^2 = 1 + d*x^2*y^2 and x mod 2 == sign (RFC 8032 section 5.1.3)."""
    if y >= _P:  # step 1: non-canonical y
        return None
    # Step 2: x = u*v^3 * (u*v^7)^((p-5)/8) is a candidate square root of u/v.
    y2 = y * y % _P
    u = (y2 - 1) % _P
    v = (_D * y2 + 1) % _P  # never 0: -1/d is not a square mod p
    if _is_nonsquare(u * v):  # u/v is a square iff u*v is; early exit, see _is_nonsquare
        return None
    v3 = v * v % _P * v % _P
    x = u * v3 % _P * pow(u * v3 % _P * v3 % _P * v % _P, (_P - 5) // 8, _P) % _P
    # Step 3: fix up the root, or fail if u/v is not a square.
    vx2 = v * x % _P * x % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = x * _SQRT_M1 % _P
    else:
        return None
    # Step 4: pick the root with the requested sign; x = 0 with sign 1 is invalid.
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def _decode(s: bytes) -> _Point | None:
    """string_to_point (RFC 9381 section 5.5 / RFC 8032 section 5.1.3) for any curve point.

    Unlike libsodium, this accepts points outside the prime-order subgroup (including small-order
    points and the identity); it rejects non-canonical y (y >= p), x = 0 with the sign bit set,
    and strings that are not the encoding of a curve point.  Returns None for INVALID.
    """
    if len(s) != 32:
        return None
    n = int.from_bytes(s, "little")
    y = n & ((1 << 255) - 1)
    x = _recover_x(y, n >> 255)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def _encode(pt: _Point) -> bytes:
    """point_to_string (RFC 8032 section 5.1.2): y little-endian, sign of x in bit 255."""
    x_ext, y_ext, z_ext, _ = pt
    z_inv = pow(z_ext, -1, _P)
    x = x_ext * z_inv % _P
    y = y_ext * z_inv % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _add(p1: _Point, p2: _Point) -> _Point:
    """Complete twisted-Edwards addition (RFC 8032 section 5.1.4)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 % _P * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _double(pt: _Point) -> _Point:
    """Point doubling (RFC 8032 section 5.1.4, dedicated formulas)."""
    x1, y1, z1, _ = pt
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _negate(pt: _Point) -> _Point:
    x, y, z, t = pt
    return (-x % _P, y, z, -t % _P)


def _py_scalarmult(n: int, pt: _Point) -> _Point:
    """n*pt by double-and-add.  Variable time: used only as the fallback described above."""
    result = _IDENTITY
    for bit in bin(n)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add(result, pt)
    return result


def _decode_known(s: bytes) -> _Point:
    """Decode an encoding this module produced or already decoded (so always valid)."""
    pt = _decode(s)
    if pt is None:  # pragma: no cover - unreachable: callers pass validated encodings
        raise VRFError("internal error: invalid point encoding")
    return pt


# The base point B: y = 4/5, x even (RFC 8032 section 5.1).
_BASE: Final[_Point] = _decode_known(bytes.fromhex("58" + "66" * 31))


# --- Group operations on 32-byte encodings: libsodium first, Python when it refuses ----------


def _scalarmult(n: bytes, point: bytes) -> bytes:
    """n*point for a 32-byte little-endian scalar n < 2^255 and a valid point encoding.

    libsodium refuses small-order and mixed-order points, n = 0 and identity results; those
    (attacker-supplied or probability-2^-252) cases are computed in Python instead.
    """
    try:
        return _sodium.crypto_scalarmult_ed25519_noclamp(n, point)
    except _SodiumRefused:
        return _encode(_py_scalarmult(int.from_bytes(n, "little"), _decode_known(point)))


def _scalarmult_base(n: bytes) -> bytes:
    """n*B for a 32-byte little-endian scalar; libsodium refuses only n*B = identity."""
    try:
        return _sodium.crypto_scalarmult_ed25519_base_noclamp(n)
    except _SodiumRefused:
        return _encode(_py_scalarmult(int.from_bytes(n, "little"), _BASE))


def _mul_by_cofactor(point: bytes) -> bytes:
    """cofactor * point, cofactor = 8 (RFC 9381 section 5.5), as three doublings.

    crypto_core_ed25519_add accepts every canonical curve point -- small-order and mixed-order
    points and the identity included -- so this works for the not-yet-cofactor-cleared points
    of sections 5.2, 5.4.1.1 and 5.4.5.
    """
    for _ in range(3):
        point = _sodium.crypto_core_ed25519_add(point, point)
    return point


def _is_point(s: bytes) -> bool:
    """True iff string_to_point(s) is not INVALID (RFC 8032 section 5.1.3).

    Fast path: libsodium accepts canonical prime-order points other than the identity.  Other
    strings (torsion components, small order, or simply invalid) are decided in Python.
    """
    return _sodium.crypto_core_ed25519_is_valid_point(s) or _decode(s) is not None


def _sub(p1: bytes, p2: bytes) -> bytes:
    """p1 - p2.  libsodium accepts every curve point here; the fallback is belt and braces."""
    try:
        return _sodium.crypto_core_ed25519_sub(p1, p2)
    except _SodiumRefused:  # pragma: no cover - libsodium accepts all valid encodings
        return _encode(_add(_decode_known(p1), _negate(_decode_known(p2))))


# --- RFC 9381 building blocks ----------------------------------------------------------------


def _require_bytes(value: object, name: str, length: int | None = None) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    data = bytes(value)
    if length is not None and len(data) != length:
        raise VRFError(f"{name} must be {length} bytes, got {len(data)}")
    return data


def _secret_scalar(secret_key: bytes) -> bytes:
    """The clamped secret scalar x as 32 bytes (RFC 9381 section 5.5 / RFC 8032 section 5.1.5).

    Not reduced mod q; it has bit 254 set and its low three bits clear, so x mod q != 0 (the
    smallest multiple of 8*q exceeds 2^255).
    """
    h = bytearray(hashlib.sha512(secret_key).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return bytes(h)


def _reduced_secret_scalar(secret_key: bytes) -> bytes:
    """x mod q as 32 bytes (libsodium scalar reduction, constant-time)."""
    return _sodium.crypto_core_ed25519_scalar_reduce(_secret_scalar(secret_key) + bytes(32))


def _encode_to_curve(salt: bytes, alpha: bytes) -> bytes:
    """ECVRF_encode_to_curve_try_and_increment (RFC 9381 section 5.4.1.1).

    The salt is PK_string for this suite (section 5.5).  Returns point_to_string(H); H is in the
    prime-order subgroup and is never the identity.
    """
    # Steps 1-3: counter and domain separators; the hash prefix is the same for every ctr.
    prefix = hashlib.sha512(SUITE_STRING + _ENCODE_TO_CURVE_FRONT + salt)
    prefix.update(alpha)
    # Step 5: loop while H is INVALID or the identity.  ctr_string is int_to_string(ctr, 1), so
    # at most 256 candidates exist; each is valid with probability about 1/2.
    for ctr in range(256):
        # 5a-5b: hash_string = Hash(suite || 0x01 || salt || alpha || ctr_string || 0x00)
        attempt = prefix.copy()
        attempt.update(bytes((ctr,)) + _BACK)
        hash_string = attempt.digest()
        # 5c: interpret_hash_value_as_a_point = string_to_point(hash_string[0:32]) (section
        # 5.5); this candidate is not yet cofactor-cleared and may lie outside the subgroup.
        candidate = hash_string[:32]
        if _decode(candidate) is None:
            continue
        # A string that decodes is the canonical encoding of its point (y < p, the sign bit
        # is x mod 2, and x = 0 with sign 1 is rejected), so it can go to libsodium as is.
        # 5d: H = cofactor * H.
        h = _mul_by_cofactor(candidate)
        if h == _IDENTITY_ENCODING:
            continue
        return h
    raise VRFError("encode_to_curve found no valid point in 256 attempts")  # pragma: no cover


def _nonce_hash(secret_key: bytes, h_string: bytes) -> bytes:
    """k_string of ECVRF_nonce_generation_RFC8032 (RFC 9381 section 5.4.2.2), unreduced."""
    # Steps 1-2: hashed_sk_string = Hash(SK); keep its second half.
    truncated_hashed_sk_string = hashlib.sha512(secret_key).digest()[32:]
    # Step 3: k_string = Hash(truncated_hashed_sk_string || h_string).
    return hashlib.sha512(truncated_hashed_sk_string + h_string).digest()


def _challenge_generation(y: bytes, h: bytes, gamma: bytes, u: bytes, v: bytes) -> bytes:
    """ECVRF_challenge_generation (RFC 9381 section 5.4.3): c as its 16-byte string."""
    # Steps 1-5: suite || 0x02 || Y || H || Gamma || U || V || 0x00 (all point_to_string).
    data = SUITE_STRING + _CHALLENGE_FRONT + y + h + gamma + u + v + _BACK
    # Steps 6-8: c_string = Hash(str) truncated to cLen = 16 octets (little-endian c).
    return hashlib.sha512(data).digest()[:_C_LEN]


def _decode_proof(pi: bytes) -> tuple[bytes, bytes, bytes]:
    """ECVRF_decode_proof (RFC 9381 section 5.4.4).

    Returns (gamma_string, c_string, s_string), gamma_string being the canonical encoding of a
    curve point (not necessarily of prime order), or raises VRFError.
    """
    if len(pi) != PROOF_LENGTH:
        raise VRFError(f"proof must be {PROOF_LENGTH} bytes, got {len(pi)}")
    # Steps 1-3: split pi into gamma_string || c_string || s_string.
    gamma_string = pi[:PUBLIC_KEY_LENGTH]
    c_string = pi[PUBLIC_KEY_LENGTH : PUBLIC_KEY_LENGTH + _C_LEN]
    s_string = pi[PUBLIC_KEY_LENGTH + _C_LEN :]
    # Steps 4-5: Gamma = string_to_point(gamma_string), any curve point.
    if not _is_point(gamma_string):
        raise VRFError("proof's Gamma is not a valid point encoding")
    # Steps 6-8: s = string_to_int(s_string); reject s >= q.
    if int.from_bytes(s_string, "little") >= _Q:
        raise VRFError("proof's scalar s is not reduced (s >= q)")
    return gamma_string, c_string, s_string


def _gamma_to_hash(gamma: bytes) -> bytes:
    """Steps 4-7 of ECVRF_proof_to_hash (RFC 9381 section 5.2) for a decoded Gamma."""
    # beta = Hash(suite || 0x03 || point_to_string(cofactor * Gamma) || 0x00)
    cleared = _mul_by_cofactor(gamma)
    return hashlib.sha512(SUITE_STRING + _PROOF_TO_HASH_FRONT + cleared + _BACK).digest()


def _validate_key(pk: bytes) -> None:
    """string_to_point(PK_string) and ECVRF_validate_key (RFC 9381 sections 5.3, 5.4.5).

    Raises VRFError if PK_string does not decode or if cofactor*Y is the identity (Y has small
    order).  Keys with a torsion component but a nonzero prime-order part are valid, as the RFC
    specifies.
    """
    if _sodium.crypto_core_ed25519_is_valid_point(pk):
        return  # canonical, on the curve, of order q: decodes and is not of small order
    if _decode(pk) is None:
        raise VRFError("public key is not a valid point encoding")
    if _mul_by_cofactor(pk) == _IDENTITY_ENCODING:
        raise VRFError("public key has small order")


# --- Public API --------------------------------------------------------------------------


def generate_secret_key() -> bytes:
    """Return a fresh 32-byte secret key (an Ed25519 seed) from the OS CSPRNG."""
    return secrets.token_bytes(SECRET_KEY_LENGTH)


def public_key(secret_key: bytes) -> bytes:
    """Return the 32-byte public key Y = x*B for a 32-byte secret key (RFC 9381 section 5.1 step 1).

    Equal to the Ed25519 public key of the same seed.  Raises VRFError for a wrong length.
    """
    sk = _require_bytes(secret_key, "secret key", SECRET_KEY_LENGTH)
    return _scalarmult_base(_reduced_secret_scalar(sk))


def encode_to_curve(public_key: bytes, alpha: bytes) -> bytes:
    """Return point_to_string(H) for H = ECVRF_encode_to_curve(PK_string, alpha).

    Try-and-increment of RFC 9381 section 5.4.1.1; the public key is used only as the salt
    (section 5.5), so it is not validated beyond its 32-byte length.
    """
    pk = _require_bytes(public_key, "public key", PUBLIC_KEY_LENGTH)
    return _encode_to_curve(pk, _require_bytes(alpha, "alpha"))


def prove(secret_key: bytes, alpha: bytes) -> bytes:
    """Return the 80-byte proof pi = Gamma || c || s for input alpha (RFC 9381 section 5.1).

    Deterministic: the same key and alpha always give the same proof.  Raises VRFError for a
    secret key that is not 32 bytes.
    """
    sk = _require_bytes(secret_key, "secret key", SECRET_KEY_LENGTH)
    alpha_string = _require_bytes(alpha, "alpha")
    # Step 1: secret scalar x (reduced mod q; x*P is unchanged for P of order q) and Y = x*B.
    x = _reduced_secret_scalar(sk)
    y = _scalarmult_base(x)
    # Steps 2-3: H = ECVRF_encode_to_curve(PK_string, alpha); h_string = point_to_string(H).
    h = _encode_to_curve(y, alpha_string)
    # Step 4: Gamma = x*H.  H has order q and x mod q != 0, so libsodium always accepts this.
    gamma = _scalarmult(x, h)
    # Step 5: k = ECVRF_nonce_generation(SK, h_string) (section 5.4.2.2), reduced mod q.
    k = _sodium.crypto_core_ed25519_scalar_reduce(_nonce_hash(sk, h))
    # Step 6: c = ECVRF_challenge_generation(Y, H, Gamma, k*B, k*H) (section 5.4.3).
    c = _challenge_generation(y, h, gamma, _scalarmult_base(k), _scalarmult(k, h))
    # Step 7: s = (k + c*x) mod q, with libsodium's constant-time scalar arithmetic.
    c_scalar = c + bytes(_Q_LEN - _C_LEN)
    s = _sodium.crypto_core_ed25519_scalar_add(
        k, _sodium.crypto_core_ed25519_scalar_mul(c_scalar, x)
    )
    # Step 8: pi_string = point_to_string(Gamma) || int_to_string(c, 16) || int_to_string(s, 32).
    return gamma + c + s


def proof_to_hash(pi: bytes) -> bytes:
    """Return the 64-byte VRF output beta of a proof (RFC 9381 section 5.2).

    This does not check the proof.  Use it only on a proof you produced or one that
    ``verify`` accepted; ``verify`` already returns the same beta.  Raises VRFError if pi does
    not decode (section 5.4.4).
    """
    # Steps 1-3: D = ECVRF_decode_proof(pi_string); INVALID -> VRFError.
    gamma, _, _ = _decode_proof(_require_bytes(pi, "proof"))
    # Steps 4-7: beta = Hash(suite || 0x03 || point_to_string(8*Gamma) || 0x00).
    return _gamma_to_hash(gamma)


def verify(public_key: bytes, pi: bytes, alpha: bytes) -> bytes:
    """Check proof pi for alpha under public_key and return beta (RFC 9381 section 5.3).

    Runs ECVRF_validate_key (section 5.4.5), so small-order public keys are rejected.  Returns
    the 64-byte beta when the proof is valid.  Otherwise raises VRFError, whose message names
    the check that failed: a length, the public key encoding, a small-order key, the proof
    encoding, s >= q, or a challenge mismatch.
    """
    pk = _require_bytes(public_key, "public key", PUBLIC_KEY_LENGTH)
    proof = _require_bytes(pi, "proof")
    alpha_string = _require_bytes(alpha, "alpha")
    # Steps 1-3: Y = string_to_point(PK_string), then ECVRF_validate_key (section 5.4.5).
    _validate_key(pk)
    # Steps 4-6: (Gamma, c, s) = ECVRF_decode_proof(pi_string) (section 5.4.4).
    gamma, c, s = _decode_proof(proof)
    c_scalar = c + bytes(_Q_LEN - _C_LEN)
    # Step 7: H = ECVRF_encode_to_curve(PK_string, alpha_string).
    h = _encode_to_curve(pk, alpha_string)
    # Step 8: U = s*B - c*Y.
    u = _sub(_scalarmult_base(s), _scalarmult(c_scalar, pk))
    # Step 9: V = s*H - c*Gamma.
    v = _sub(_scalarmult(s, h), _scalarmult(c_scalar, gamma))
    # Step 10: c' = ECVRF_challenge_generation(Y, H, Gamma, U, V).
    c_prime = _challenge_generation(pk, h, gamma, u, v)
    # Step 11: valid iff c == c'; then beta = ECVRF_proof_to_hash(pi_string).
    if not hmac.compare_digest(c, c_prime):
        raise VRFError("proof does not verify (challenge mismatch)")
    return _gamma_to_hash(gamma)
