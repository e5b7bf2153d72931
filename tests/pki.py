"""A test PKI as ``ca.authority`` builds it, for certificates issued outside this service.

Root → issuing CA → end entity, P-256 keys, critical BasicConstraints and KeyUsage, SKI/AKI,
and the TNAuthList on the end entity; CRLs from the issuing CA. Tests of path validation,
PASSporTs and trusted roots build on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, encode_tn_auth_list

NOW = datetime.now(UTC).replace(microsecond=0)
NUMBER = "15551230001"
OTHER_NUMBER = "15551230002"
DEFAULT = object()  # "build the usual extension"


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(**bits: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(bits)
    return x509.KeyUsage(**flags)


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def ca_certificate(
    *,
    key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    issuer: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    path_length: int | None = 0,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=3650),
    usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """A CA certificate as ``ca.authority`` makes them; self-signed when ``issuer`` is None."""
    signer = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(usage or key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


@dataclass
class Pki:
    """A root, an issuing CA under it, and number certificates and CRLs from the issuing CA."""

    label: str = "Test"
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=p256)
    issuing_key: ec.EllipticCurvePrivateKey = field(default_factory=p256)
    root: x509.Certificate = field(init=False)
    issuing: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.root = ca_certificate(
            key=self.root_key, subject=name(f"{self.label} Root CA"), path_length=1
        )
        self.issuing = ca_certificate(
            key=self.issuing_key,
            subject=name(f"{self.label} Issuing CA"),
            issuer=self.root,
            issuer_key=self.root_key,
        )

    def leaf(
        self,
        public_key: Any = None,
        *,
        numbers: Sequence[str] = (NUMBER,),
        tn_auth_list: Any = DEFAULT,
        usage: Any = DEFAULT,
        basic_constraints: Any = DEFAULT,
        not_before: datetime = NOW - timedelta(minutes=1),
        not_after: datetime = NOW + timedelta(days=30),
        serial: int | None = None,
        issuer: x509.Certificate | None = None,
        issuer_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> x509.Certificate:
        """A number certificate as ``ca.authority.end_entity_sign`` makes it, unless told."""
        issuer = issuer or self.issuing
        issuer_key = issuer_key or self.issuing_key
        public_key = public_key or p256().public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name("Number certificate"))
            .issuer_name(issuer.subject)
            .public_key(public_key)
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if basic_constraints is DEFAULT:
            basic_constraints = x509.BasicConstraints(ca=False, path_length=None)
        if basic_constraints is not None:
            builder = builder.add_extension(basic_constraints, critical=True)
        if usage is DEFAULT:
            usage = key_usage(digital_signature=True)
        if usage is not None:
            builder = builder.add_extension(usage, critical=True)
        if tn_auth_list is DEFAULT:
            tn_auth_list = encode_tn_auth_list(numbers)
        if tn_auth_list is not None:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(TN_AUTH_LIST_OID), tn_auth_list),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def crl(
        self,
        revoked: Sequence[int] = (),
        *,
        last_update: datetime = NOW - timedelta(minutes=5),
        next_update: datetime = NOW + timedelta(days=1),
        issuer_name: x509.Name | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> x509.CertificateRevocationList:
        """A CRL of the issuing CA, as ``ca.authority.crl_sign`` makes it, unless told."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer_name or self.issuing.subject)
            .last_update(last_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(1), critical=False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(NOW - timedelta(minutes=10))
                .build()
            )
        return builder.sign(key or self.issuing_key, hashes.SHA256())
