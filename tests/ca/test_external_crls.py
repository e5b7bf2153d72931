"""Which kept CRL speaks for a CA under another trusted root (ca.selectors.external_crl_of):
the one its key signed, never one of another CA that gives the same name. The PASSporT checks
(ca.passports) and signed handler changes (tests.directory.test_external_certificates) ask it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from ca.models import ExternalCrl
from ca.selectors import ca_key_sha256, crl_signed_by, external_crl_of
from tests.pki import NOW, Pki, ca_certificate, key_usage

pytestmark = pytest.mark.django_db


def _kept(
    crl: x509.CertificateRevocationList, *, root: str, signer: x509.Certificate | None
) -> None:
    ExternalCrl.objects.create(
        root=root,
        url=f"http://pki.{root}.example/issuing.crl",
        issuer=crl.issuer.rfc4514_string(),
        issuer_key_sha256=ca_key_sha256(signer) if signer is not None else None,
        der=crl.public_bytes(serialization.Encoding.DER),
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc or NOW,
        fetched_at=timezone.now(),
    )


def _listed(crl: x509.CertificateRevocationList | None) -> list[int]:
    assert crl is not None
    return [entry.serial_number for entry in crl]


@pytest.mark.parametrize("verified", [True, False])
def test_a_newer_crl_of_a_ca_of_the_same_name_is_not_the_cas(verified: bool) -> None:
    a, b = Pki(label="Carrier"), Pki(label="Carrier")
    assert a.issuing.subject == b.issuing.subject
    _kept(a.crl([1]), root="a", signer=a.issuing if verified else None)
    _kept(b.crl([2], last_update=NOW), root="b", signer=b.issuing if verified else None)

    assert _listed(external_crl_of(a.issuing)) == [1]
    assert _listed(external_crl_of(b.issuing)) == [2]
    assert external_crl_of(Pki(label="Carrier").issuing) is None


def test_of_a_cas_crls_the_newest_counts() -> None:
    pki = Pki()
    _kept(pki.crl([1], last_update=NOW - timedelta(hours=1)), root="a", signer=pki.issuing)
    _kept(pki.crl([2]), root="b", signer=None)  # the same CA under two roots' URLs
    assert _listed(external_crl_of(pki.issuing)) == [2]


def test_only_a_key_that_may_sign_crls_signs_one() -> None:
    pki = Pki()
    assert crl_signed_by(pki.crl(), pki.issuing)
    assert not crl_signed_by(pki.crl(), pki.root)  # another name
    assert not crl_signed_by(pki.crl(issuer_name=pki.root.subject), pki.root)  # another key
    pki.issuing = ca_certificate(
        key=pki.issuing_key,
        subject=pki.issuing.subject,
        issuer=pki.root,
        issuer_key=pki.root_key,
        usage=key_usage(key_cert_sign=True),  # no cRLSign
    )
    assert not crl_signed_by(pki.crl(), pki.issuing)


def test_a_crl_of_the_same_key_under_another_name_is_not_the_cas() -> None:
    pki = Pki()
    _kept(pki.crl([1]), root="a", signer=pki.issuing)
    renamed = ca_certificate(
        key=pki.issuing_key,
        subject=Pki(label="Renamed").issuing.subject,
        issuer=pki.root,
        issuer_key=pki.root_key,
    )
    assert external_crl_of(renamed) is None  # crl_check would refuse it: another issuer name
    _kept(pki.crl([2], issuer_name=renamed.subject), root="b", signer=renamed)
    assert _listed(external_crl_of(renamed)) == [2]
    assert _listed(external_crl_of(pki.issuing)) == [1]
