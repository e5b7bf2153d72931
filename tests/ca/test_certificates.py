"""Certificate issuance through the HTTP API, checked by independent tools (openssl, pyasn1)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from django.utils import timezone
from pyasn1.codec.der.decoder import decode as der_decode
from pyasn1_modules import rfc8226

from ca.choices import ChallengeStatus
from ca.models import Certificate, Challenge
from providers.services import api_key_create
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID
from tests.ca.flow import (
    NUMBER,
    certificate_obtained,
    challenge_started,
    challenge_verified,
    csr_pem,
)
from tests.factories import ProviderFactory
from tests.problems import assert_problem
from tests.transparency.logdata import entry_of, entry_opened
from transparency.models import Entry, EntryOpening

pytestmark = pytest.mark.django_db


def _issue(client: Any, challenge: Any, csr: str) -> Any:
    return client.post("/v1/certificates", {"challenge": str(challenge), "csr": csr}, format="json")


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)


def test_the_full_flow_issues_a_certificate_for_the_verified_number(
    api_client: Any, sms_outbox: list[Any], provider: Any
) -> None:
    holder = certificate_obtained(api_client, sms_outbox)
    issued = holder.issued
    certificate = holder.certificate

    assert issued["serial"] == f"{certificate.serial_number:032x}"
    assert certificate.public_key() == holder.key.public_key()
    stored = Certificate.objects.get(serial=issued["serial"])
    assert issued["x5u"] == f"http://testserver/ca/certs/{stored.repository_id}.pem"
    assert timezone.now() + timedelta(days=29) < certificate.not_valid_after_utc
    assert certificate.not_valid_after_utc <= timezone.now() + timedelta(days=30)
    assert entry_of(issued["log"]["leaf_hash"]) == Entry.objects.get(kind="certificate")
    assert (stored.number, stored.provider) == (NUMBER, provider)
    assert stored.challenge.status == ChallengeStatus.USED


def test_the_certificate_has_the_rfc_8226_profile(api_client: Any, sms_outbox: list[Any]) -> None:
    certificate = certificate_obtained(api_client, sms_outbox).certificate
    extensions = {extension.oid: extension for extension in certificate.extensions}

    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256)
    assert certificate.serial_number.bit_length() > 64
    basic = extensions[ExtensionOID.BASIC_CONSTRAINTS]
    assert basic.critical and basic.value.ca is False
    usage = extensions[ExtensionOID.KEY_USAGE]
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.key_cert_sign or usage.value.crl_sign or usage.value.key_agreement)
    assert ExtensionOID.SUBJECT_KEY_IDENTIFIER in extensions
    assert ExtensionOID.AUTHORITY_KEY_IDENTIFIER in extensions
    assert ExtensionOID.EXTENDED_KEY_USAGE not in extensions  # no EKU exists for STIR
    (point,) = extensions[ExtensionOID.CRL_DISTRIBUTION_POINTS].value
    assert [name.value for name in point.full_name] == ["http://testserver/ca/crl"]
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in extensions


def test_the_tn_auth_list_names_exactly_the_number(api_client: Any, sms_outbox: list[Any]) -> None:
    certificate = certificate_obtained(api_client, sms_outbox).certificate
    extension = certificate.extensions.get_extension_for_oid(
        x509.ObjectIdentifier(TN_AUTH_LIST_OID)
    )

    assert isinstance(extension.value, x509.UnrecognizedExtension)
    decoded, rest = der_decode(extension.value.value, asn1Spec=rfc8226.TNAuthorizationList())

    assert rest == b""
    entries = [(entry.getName(), str(entry.getComponent())) for entry in decoded]
    assert entries == [("one", NUMBER[1:])]  # digits, no "+" (RFC 8224 §8.3)


def test_openssl_verifies_the_chain(
    api_client: Any, anonymous_client: Any, sms_outbox: list[Any], tmp_path: Path
) -> None:
    holder = certificate_obtained(api_client, sms_outbox)
    root = anonymous_client.get("/ca/root.pem")
    chain = anonymous_client.get(holder.x5u)
    assert root.status_code == chain.status_code == 200
    assert chain["Content-Type"] == "application/pem-certificate-chain"
    leaf_pem, issuing_pem = chain.content.decode().split("-----END CERTIFICATE-----\n")[:2]
    (tmp_path / "root.pem").write_bytes(root.content)
    (tmp_path / "issuing.pem").write_text(issuing_pem + "-----END CERTIFICATE-----\n")
    (tmp_path / "leaf.pem").write_text(leaf_pem + "-----END CERTIFICATE-----\n")
    assert leaf_pem + "-----END CERTIFICATE-----\n" == holder.issued["certificate"]
    assert issuing_pem + "-----END CERTIFICATE-----\n" == holder.issued["chain"][0]

    verified = _openssl(
        "verify",
        "-x509_strict",
        "-CAfile",
        str(tmp_path / "root.pem"),
        "-untrusted",
        str(tmp_path / "issuing.pem"),
        str(tmp_path / "leaf.pem"),
    )

    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.decode().strip().endswith("leaf.pem: OK")
    # Without the issuing CA there is no path: the root does not sign number certificates.
    alone = _openssl("verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem"))
    assert alone.returncode != 0


def test_the_csr_subject_and_extensions_are_ignored(api_client: Any, sms_outbox: list[Any]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "+33699999999")]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    response = _issue(api_client, challenge_verified(api_client, sms_outbox), csr)

    assert response.status_code == 201
    certificate = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert "+33699999999" not in certificate.subject.rfc4514_string()
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_each_issuance_is_logged_without_the_number(
    api_client: Any, sms_outbox: list[Any], provider: Any
) -> None:
    holder = certificate_obtained(api_client, sms_outbox)
    entry = entry_of(holder.issued["log"]["leaf_hash"])
    payload, content = entry_opened(holder.issued["log"]["leaf_hash"])
    der = holder.certificate.public_bytes(serialization.Encoding.DER)
    spki = holder.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert payload == {
        "v": 2,
        "kind": "certificate",
        "label": payload["label"],
        "commitment": payload["commitment"],
    }
    want = {
        "number": NUMBER,
        "provider": provider.slug,
        "serial": holder.serial,
        "certificate_sha256": hashes_hex(der),
        "public_key_sha256": hashes_hex(spki),
        "not_before": holder.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": holder.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert content == want
    # The holder gets the opening and content with its certificate, to check its own entry.
    assert holder.issued["log"]["content"] == want
    assert base64.b64decode(holder.issued["log"]["opening"]) == bytes(
        EntryOpening.objects.get(entry_id=entry.pk).opening
    )
    assert len(bytes.fromhex(payload["label"])) == 64
    assert_no_number(bytes(entry.data), NUMBER)


def hashes_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def assert_no_number(data: bytes, e164: str) -> None:
    """Neither the E.164 form, nor the digits, nor the national significant number, nor a
    hash of any of them, appears in ``data``."""
    import hashlib

    digits = e164[1:]
    national = "0" + digits[2:]  # a French number's national form
    forms = {e164, digits, national, digits[2:]}
    for form in forms:
        assert form.encode() not in data
        for hashed in (hashlib.sha256(form.encode()).digest(),):
            assert hashed.hex().encode() not in data
            assert hashed not in data


def test_a_challenge_gives_one_certificate(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_verified(api_client, sms_outbox)
    assert _issue(api_client, challenge, csr_pem()).status_code == 201

    assert_problem(_issue(api_client, challenge, csr_pem()), 409, "challenge-used")
    assert Certificate.objects.count() == 1
    assert Entry.objects.count() == 1


def test_an_unanswered_challenge_gives_no_certificate(api_client: Any) -> None:
    challenge = challenge_started(api_client)
    assert_problem(_issue(api_client, challenge["id"], csr_pem()), 409, "challenge-not-verified")
    assert not Certificate.objects.exists()
    assert not Entry.objects.exists()


def test_a_failed_challenge_gives_no_certificate(api_client: Any) -> None:
    challenge = challenge_started(api_client)
    Challenge.objects.filter(pk=challenge["id"]).update(status=ChallengeStatus.FAILED)
    assert_problem(_issue(api_client, challenge["id"], csr_pem()), 409, "challenge-failed")


def test_an_expired_challenge_gives_no_certificate(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_verified(api_client, sms_outbox)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert_problem(_issue(api_client, challenge, csr_pem()), 410, "challenge-expired")
    assert Challenge.objects.get(pk=challenge).status == ChallengeStatus.VERIFIED


def test_another_providers_challenge_gives_no_certificate(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    challenge = challenge_verified(api_client, sms_outbox)
    other = client_for(api_key_create(provider=ProviderFactory()).secret)

    # Not found, as an unknown challenge is: the answer does not say it exists.
    assert_problem(_issue(other, challenge, csr_pem()), 404, "challenge-not-found")
    assert Challenge.objects.get(pk=challenge).status == ChallengeStatus.VERIFIED
    assert not Entry.objects.exists()


def test_an_unknown_challenge_gives_no_certificate(api_client: Any) -> None:
    assert_problem(_issue(api_client, uuid.uuid4(), csr_pem()), 404, "challenge-not-found")


def _other_key_csr(key: Any) -> str:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, algorithm)
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def _tampered_csr() -> str:
    """A P-256 CSR whose signature no longer matches its content."""
    der = bytearray(
        x509.load_pem_x509_csr(csr_pem(common_name="aaaa").encode()).public_bytes(
            serialization.Encoding.DER
        )
    )
    at = bytes(der).index(b"aaaa")
    der[at] = ord("b")
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("make_csr", "slug"),
    [
        (lambda: "not a csr", "csr-malformed"),
        (
            lambda: (
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            ),
            "csr-malformed",
        ),
        (lambda: csr_pem().replace("CERTIFICATE REQUEST", "CERTIFICATE"), "csr-malformed"),
        (lambda: _other_key_csr(ec.generate_private_key(ec.SECP384R1())), "csr-key-unsupported"),
        (lambda: _other_key_csr(rsa.generate_private_key(65537, 2048)), "csr-key-unsupported"),
        (lambda: _other_key_csr(ed25519.Ed25519PrivateKey.generate()), "csr-key-unsupported"),
        (_tampered_csr, "csr-signature-invalid"),
        (lambda: "x" * 9000, "validation-error"),
    ],
    ids=["text", "empty-pem", "wrong-label", "p384", "rsa", "ed25519", "bad-signature", "huge"],
)
def test_bad_csrs_are_refused_and_spend_nothing(
    api_client: Any, sms_outbox: list[Any], make_csr: Any, slug: str
) -> None:
    challenge = challenge_verified(api_client, sms_outbox)

    assert_problem(_issue(api_client, challenge, make_csr()), 400, slug)

    assert Challenge.objects.get(pk=challenge).status == ChallengeStatus.VERIFIED
    assert not Certificate.objects.exists()
    assert not Entry.objects.exists()
    # The challenge is still good for a correct CSR.
    assert _issue(api_client, challenge, csr_pem()).status_code == 201


@pytest.mark.parametrize(
    "body",
    [{}, {"challenge": "not-a-uuid", "csr": "x"}, {"challenge": str(uuid.uuid4())}, {"csr": 3}],
)
def test_malformed_issue_requests_are_refused(api_client: Any, body: Any) -> None:
    assert_problem(
        api_client.post("/v1/certificates", body, format="json"), 400, "validation-error"
    )


def test_a_crash_before_commit_leaves_neither_certificate_nor_entry(
    api_client: Any, sms_outbox: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = challenge_verified(api_client, sms_outbox)

    def crash(**fields: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Certificate.objects, "create", crash)
    api_client.raise_request_exception = False
    response = api_client.post(
        "/v1/certificates",
        {"challenge": challenge, "csr": csr_pem()},
        content_type="application/json",
    )

    assert_problem(response, 500, "server-error")
    assert not Entry.objects.exists()
    assert Challenge.objects.get(pk=challenge).status == ChallengeStatus.VERIFIED


def test_certificate_state_is_readable(
    api_client: Any, sms_outbox: list[Any], provider: Any
) -> None:
    holder = certificate_obtained(api_client, sms_outbox)
    response = api_client.get(f"/v1/certificates/{holder.serial}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "valid"
    assert body["provider"] == provider.slug
    assert body["log_index"] == entry_of(holder.issued["log"]["leaf_hash"]).index
    assert body["revoked_at"] is None
    assert body["x5u"] == holder.x5u  # its own provider may see it
    assert NUMBER not in response.content.decode()
    assert_problem(api_client.get("/v1/certificates/" + "0" * 32), 404, "certificate-not-found")
    assert_problem(api_client.get("/v1/certificates/zz"), 404, "certificate-not-found")


def test_another_provider_cannot_tell_a_certificate_exists(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    holder = certificate_obtained(api_client, sms_outbox)
    other = client_for(api_key_create(provider=ProviderFactory(), label="other").secret)
    unknown = "0" * 32

    for serial in (holder.serial, unknown):
        answer = other.get(f"/v1/certificates/{serial}")
        assert_problem(answer, 404, "certificate-not-found")
        assert holder.x5u not in answer.content.decode()
        # Revoking, even with a malformed token, answers the same for both: not found.
        revoke = other.post(
            f"/v1/certificates/{serial}/revoke", "not-a-jws", content_type="application/jose"
        )
        assert_problem(revoke, 404, "certificate-not-found")
    known = other.get(f"/v1/certificates/{holder.serial}").json()
    absent = other.get(f"/v1/certificates/{unknown}").json()
    assert known == absent
    assert Certificate.objects.get(serial=holder.serial).revoked_at is None


def test_the_repository_names_certificates_by_an_unguessable_id(
    api_client: Any, anonymous_client: Any, sms_outbox: list[Any]
) -> None:
    first = certificate_obtained(api_client, sms_outbox)
    second = certificate_obtained(api_client, sms_outbox, "+33698765432")
    ids = [
        Certificate.objects.get(serial=holder.serial).repository_id for holder in (first, second)
    ]

    assert ids[0] != ids[1]
    for holder, repository_id in zip((first, second), ids, strict=True):
        assert holder.x5u == f"http://testserver/ca/certs/{repository_id}.pem"
        # At least 128 random bits: 32 base64url characters carry 192.
        random_bytes = base64.urlsafe_b64decode(repository_id + "=" * (-len(repository_id) % 4))
        assert len(random_bytes) * 8 >= 128
        assert holder.serial not in repository_id.lower()
        assert anonymous_client.get(holder.x5u).status_code == 200
    # The serial, which the CRL lists, opens nothing: the same 404 as an id that does not exist.
    by_serial = anonymous_client.get(f"/ca/certs/{first.serial}.pem")
    assert_problem(by_serial, 404, "certificate-not-found")
    unknown = anonymous_client.get("/ca/certs/" + "A" * 32 + ".pem")
    assert_problem(unknown, 404, "certificate-not-found")
    assert by_serial.json()["detail"] == unknown.json()["detail"]


def test_the_repository_serves_only_known_certificates(anonymous_client: Any) -> None:
    assert_problem(
        anonymous_client.get("/ca/certs/" + "0" * 32 + ".pem"), 404, "certificate-not-found"
    )
    assert_problem(anonymous_client.get("/ca/certs/..%2Froot.pem"), 404, "not-found")
    assert_problem(anonymous_client.get("/ca/certs/ZZ.pem"), 404, "certificate-not-found")
    assert_problem(
        anonymous_client.get("/ca/certs/" + "é" * 32 + ".pem"), 404, "certificate-not-found"
    )
