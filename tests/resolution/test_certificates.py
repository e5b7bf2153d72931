"""Tests for resolution.protocol.certificates: number-certificate paths, CRLs and TNAuthList
coverage.

The PKI here (``Pki``) follows ``ca.authority``: root → issuing CA → end entity, P-256 keys,
critical BasicConstraints and KeyUsage, SKI/AKI, and the TNAuthList on the end entity.
``tests/resolution/test_passport.py`` builds on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from resolution.protocol.certificates import (
    MAX_INTERMEDIATES,
    REASONS,
    CertificateError,
    certificate_chain_verify,
    crl_check,
    crl_for_issuer,
    tn_auth_list_covers,
)
from tests.pki import (
    NOW,
    NUMBER,
    OTHER_NUMBER,
    Pki,
    ca_certificate,
    key_usage,
    name,
    p256,
)
from tests.resolution.test_tnauthlist import pyasn1_encode


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def reason_of(excinfo: pytest.ExceptionInfo[CertificateError]) -> str:
    return excinfo.value.reason


# --- certificate_chain_verify: the good path -------------------------------------------------


def test_chain_verifies_leaf_to_root(pki: Pki) -> None:
    leaf = pki.leaf()
    chain = certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert chain == [leaf, pki.issuing, pki.root]


def test_chain_ignores_extra_and_unordered_intermediates(pki: Pki) -> None:
    stranger = ca_certificate(key=p256(), subject=name("Stranger CA"), path_length=0)
    leaf = pki.leaf()
    chain = certificate_chain_verify(leaf, [stranger, pki.issuing], [stranger, pki.root], at=NOW)
    assert chain == [leaf, pki.issuing, pki.root]


@pytest.mark.parametrize(
    "at",
    [
        pytest.param(NOW - timedelta(minutes=1), id="first-second"),
        pytest.param(NOW + timedelta(days=30), id="last-second"),
    ],
)
def test_validity_period_is_inclusive(pki: Pki, at: datetime) -> None:
    certificate_chain_verify(pki.leaf(), [pki.issuing], [pki.root], at=at)


def test_leaf_without_basic_constraints_is_an_end_entity(pki: Pki) -> None:
    leaf = pki.leaf(basic_constraints=None)
    assert len(certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)) == 3


def _signed_by_our_ca() -> Any:
    """A number certificate as the service's own CA (ca.authority) signs it."""
    from ca.authority import end_entity_sign

    return end_entity_sign(
        public_key=p256().public_key(),
        number_digits=NUMBER,
        serial=x509.random_serial_number(),
        not_before=NOW - timedelta(minutes=1),
        not_after=NOW + timedelta(days=30),
        holder="Test provider",
    )


def test_a_certificate_from_our_ca_verifies() -> None:
    # The real issuer: what ca.authority signs must pass the check the verifiers make.
    from ca.authority import ca_keys

    ca = ca_keys()
    signed = _signed_by_our_ca()
    chain = certificate_chain_verify(signed.certificate, [ca.issuing], [ca.root], at=NOW)
    assert chain == [signed.certificate, ca.issuing, ca.root]
    assert tn_auth_list_covers(signed.certificate, f"+{NUMBER}")


# --- certificate_chain_verify: failures --------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        pytest.param(NOW + timedelta(days=30, seconds=1), "expired", id="expired"),
        pytest.param(NOW - timedelta(minutes=1, seconds=1), "not-yet-valid", id="not-yet-valid"),
    ],
)
def test_leaf_outside_validity(pki: Pki, at: datetime, reason: str) -> None:
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [pki.issuing], [pki.root], at=at)
    assert reason_of(excinfo) == reason


def test_untrusted_root(pki: Pki) -> None:
    other = Pki()  # same names, other keys
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [pki.issuing], [other.root], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_leaf_signed_by_another_key(pki: Pki) -> None:
    # Same issuer name, wrong key: an impostor CA.
    leaf = pki.leaf(issuer_key=p256())
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_missing_intermediate(pki: Pki) -> None:
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [], [pki.root], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_no_roots(pki: Pki) -> None:
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [pki.issuing], [], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_expired_intermediate(pki: Pki) -> None:
    issuing = ca_certificate(
        key=pki.issuing_key,
        subject=pki.issuing.subject,
        issuer=pki.root,
        issuer_key=pki.root_key,
        not_after=NOW - timedelta(seconds=1),
    )
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_intermediate_that_may_not_sign_certificates(pki: Pki) -> None:
    issuing = ca_certificate(
        key=pki.issuing_key,
        subject=pki.issuing.subject,
        issuer=pki.root,
        issuer_key=pki.root_key,
        usage=key_usage(crl_sign=True),
    )
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(pki.leaf(), [issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "chain"


def test_path_longer_than_allowed() -> None:
    root_key = p256()
    root = ca_certificate(key=root_key, subject=name("Deep root"), path_length=None)
    certificates, keys = [root], [root_key]
    for depth in range(MAX_INTERMEDIATES + 1):
        keys.append(p256())
        certificates.append(
            ca_certificate(
                key=keys[-1],
                subject=name(f"Level {depth}"),
                issuer=certificates[-1],
                issuer_key=keys[-2],
                path_length=None,
            )
        )
    intermediates = certificates[1:]
    too_deep = Pki().leaf(issuer=certificates[-1], issuer_key=keys[-1])
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(too_deep, intermediates, [root], at=NOW)
    assert reason_of(excinfo) == "chain"
    # One level fewer is within the limit.
    deep = Pki().leaf(issuer=certificates[-2], issuer_key=keys[-2])
    chain = certificate_chain_verify(deep, intermediates[:-1], [root], at=NOW)
    assert chain == [deep, *reversed(certificates[:-1])]


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="p384"),
        pytest.param(
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), id="rsa"
        ),
        pytest.param(ed25519.Ed25519PrivateKey.generate, id="ed25519"),
    ],
)
def test_leaf_key_must_be_p256(pki: Pki, make_key: Any) -> None:
    leaf = pki.leaf(make_key().public_key())
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "key-type"


@pytest.mark.parametrize(
    "usage",
    [
        pytest.param(None, id="no-key-usage"),
        pytest.param(key_usage(key_agreement=True), id="key-agreement-only"),
        pytest.param(key_usage(content_commitment=True), id="non-repudiation-only"),
    ],
)
def test_leaf_key_usage_must_allow_signatures(pki: Pki, usage: x509.KeyUsage | None) -> None:
    leaf = pki.leaf(usage=usage)
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "key-type"


def test_leaf_must_not_be_a_ca(pki: Pki) -> None:
    leaf = pki.leaf(basic_constraints=x509.BasicConstraints(ca=True, path_length=0))
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "chain"


@pytest.mark.parametrize(
    "tn_auth_list",
    [
        pytest.param(None, id="absent"),
        pytest.param(b"\x30\x00", id="empty-sequence"),
        pytest.param(b"\x30\x05\x82\x03123", id="implicit-tag"),
        pytest.param(b"garbage", id="not-der"),
    ],
)
def test_leaf_needs_a_valid_tn_auth_list(pki: Pki, tn_auth_list: bytes | None) -> None:
    leaf = pki.leaf(tn_auth_list=tn_auth_list)
    with pytest.raises(CertificateError) as excinfo:
        certificate_chain_verify(leaf, [pki.issuing], [pki.root], at=NOW)
    assert reason_of(excinfo) == "tnauthlist"


def test_naive_time_is_refused(pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        certificate_chain_verify(pki.leaf(), [pki.issuing], [pki.root], at=datetime(2026, 1, 1))


def test_unknown_reason_is_a_bug() -> None:
    assert "chain" in REASONS
    with pytest.raises(ValueError, match="unknown"):
        CertificateError("chian", "typo")


# --- CRLs ---------------------------------------------------------------------------------------


def test_crl_not_listing_the_leaf_passes(pki: Pki) -> None:
    leaf = pki.leaf()
    crl_check(leaf, pki.issuing, pki.crl([leaf.serial_number + 1]), at=NOW)


def test_crl_listing_the_leaf(pki: Pki) -> None:
    leaf = pki.leaf()
    with pytest.raises(CertificateError) as excinfo:
        crl_check(leaf, pki.issuing, pki.crl([12345, leaf.serial_number]), at=NOW)
    assert reason_of(excinfo) == "revoked"


@pytest.mark.parametrize(
    "next_update",
    [
        pytest.param(NOW, id="next-update-now"),
        pytest.param(NOW - timedelta(seconds=1), id="next-update-past"),
    ],
)
def test_stale_crl(pki: Pki, next_update: datetime) -> None:
    crl = pki.crl(last_update=NOW - timedelta(days=2), next_update=next_update)
    with pytest.raises(CertificateError) as excinfo:
        crl_check(pki.leaf(), pki.issuing, crl, at=NOW)
    assert reason_of(excinfo) == "crl-stale"


def test_crl_signed_by_another_key(pki: Pki) -> None:
    leaf = pki.leaf()
    with pytest.raises(CertificateError) as excinfo:
        crl_check(leaf, pki.issuing, pki.crl([leaf.serial_number], key=p256()), at=NOW)
    assert reason_of(excinfo) == "crl-invalid"


def test_crl_of_another_issuer(pki: Pki) -> None:
    other = Pki("Other")
    with pytest.raises(CertificateError) as excinfo:
        crl_check(pki.leaf(), pki.issuing, other.crl(), at=NOW)
    assert reason_of(excinfo) == "crl-invalid"


def test_crl_checked_against_the_wrong_issuer_certificate(pki: Pki) -> None:
    with pytest.raises(CertificateError) as excinfo:
        crl_check(pki.leaf(), pki.root, pki.crl(), at=NOW)
    assert reason_of(excinfo) == "crl-invalid"


def test_crl_issuer_without_crl_sign(pki: Pki) -> None:
    issuing = ca_certificate(
        key=pki.issuing_key,
        subject=pki.issuing.subject,
        issuer=pki.root,
        issuer_key=pki.root_key,
        usage=key_usage(key_cert_sign=True),
    )
    with pytest.raises(CertificateError) as excinfo:
        crl_check(pki.leaf(), issuing, pki.crl(), at=NOW)
    assert reason_of(excinfo) == "crl-invalid"


def test_delta_crl_is_not_a_full_crl(pki: Pki) -> None:
    crl = pki.crl(extensions=[(x509.DeltaCRLIndicator(1), True)])
    with pytest.raises(CertificateError) as excinfo:
        crl_check(pki.leaf(), pki.issuing, crl, at=NOW)
    assert reason_of(excinfo) == "crl-invalid"


def test_crl_from_our_ca_lists_revocations() -> None:
    from ca.authority import RevokedSerial, ca_keys, crl_sign

    ca = ca_keys()
    signed = _signed_by_our_ca()
    leaf = signed.certificate
    empty = x509.load_der_x509_crl(
        crl_sign(number=1, revoked=[], this_update=NOW, next_update=NOW + timedelta(hours=1))
    )
    crl_check(leaf, ca.issuing, empty, at=NOW)
    listing = x509.load_der_x509_crl(
        crl_sign(
            number=2,
            revoked=[RevokedSerial(leaf.serial_number, NOW, "keyCompromise")],
            this_update=NOW,
            next_update=NOW + timedelta(hours=1),
        )
    )
    with pytest.raises(CertificateError) as excinfo:
        crl_check(leaf, ca.issuing, listing, at=NOW)
    assert reason_of(excinfo) == "revoked"


def test_crl_for_issuer_picks_the_newest(pki: Pki) -> None:
    older = pki.crl(last_update=NOW - timedelta(hours=2))
    newer = pki.crl(last_update=NOW - timedelta(hours=1))
    other = Pki("Other").crl(last_update=NOW)
    assert crl_for_issuer([older, other, newer], pki.issuing) is newer
    assert crl_for_issuer([other], pki.issuing) is None
    assert crl_for_issuer([], pki.issuing) is None


def test_crl_for_issuer_required(pki: Pki) -> None:
    with pytest.raises(CertificateError) as excinfo:
        crl_for_issuer([Pki("Other").crl()], pki.issuing, required=True)
    assert reason_of(excinfo) == "crl-missing"


# --- TNAuthList coverage ---------------------------------------------------------------------


def test_tn_auth_list_covers_its_numbers(pki: Pki) -> None:
    leaf = pki.leaf(numbers=[NUMBER, "447700900123"])
    assert tn_auth_list_covers(leaf, f"+{NUMBER}")
    assert tn_auth_list_covers(leaf, "+447700900123")
    assert not tn_auth_list_covers(leaf, f"+{OTHER_NUMBER}")
    assert not tn_auth_list_covers(leaf, f"+{NUMBER}0")


def test_tn_auth_list_range(pki: Pki) -> None:
    leaf = pki.leaf(tn_auth_list=pyasn1_encode(("range", ("15551230000", 100))))
    assert tn_auth_list_covers(leaf, "+15551230099")
    assert not tn_auth_list_covers(leaf, "+15551230100")


@pytest.mark.parametrize("number", [NUMBER, f"+{NUMBER}x", "+", f"++{NUMBER}", "+1234567890123456"])
def test_tn_auth_list_covers_wants_e164(pki: Pki, number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        tn_auth_list_covers(pki.leaf(), number)


def test_tn_auth_list_covers_without_extension(pki: Pki) -> None:
    with pytest.raises(CertificateError) as excinfo:
        tn_auth_list_covers(pki.leaf(tn_auth_list=None), f"+{NUMBER}")
    assert reason_of(excinfo) == "tnauthlist"
