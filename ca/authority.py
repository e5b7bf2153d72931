"""The certificate authority: its keys, and the certificates and CRLs it signs (DESIGN §4.3).

Two levels: a root, which only signs the issuing CA, and the issuing CA, which signs number
certificates and CRLs. The service loads the issuing CA's key and both certificates from
``RS_KEY_DIR`` (:func:`ca_keys`), never the root's key, which stays offline: in production
:func:`ca_root_create` and :func:`ca_issuing_create` run on an offline machine
(``manage.py ca_init``, ``manage.py ca_issue_intermediate``), the root's key encrypted with its own
passphrase. For development :func:`ca_bootstrap` creates both on first start, the root's key in
a folder of its own (``RS_KEY_DIR/offline-root``) that no service process reads.
This module signs; what to sign and whether it may be signed is decided in ``ca.services``.

The root also signs this service's **range certificate** (DESIGN §7.4): an end-entity
certificate whose TNAuthList holds the blocks it serves (``RS_SERVED_RANGES``), for the key
that signs its range advertisements (``federation``). It is made like the issuing CA, on the
offline machine (``manage.py ca_issue_range``, :func:`range_certificate_create`), or for
development by ``manage.py bootstrap`` with the development root.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core.keyfiles import (
    file_create_once,
    file_replace,
    key_encrypt,
    key_file_create,
    key_file_load,
)
from resolution.protocol.advertisements import Block
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, encode_tn_auth_list

ROOT_KEY_FILE = "ca-root-p256.pem"
ROOT_CERTIFICATE_FILE = "ca-root.pem"
ISSUING_KEY_FILE = "ca-issuing-p256.pem"
ISSUING_CERTIFICATE_FILE = "ca-issuing.pem"
ADVERTISEMENT_KEY_FILE = "advertisement-p256.pem"
RANGE_CERTIFICATE_FILE = "range.pem"
RANGE_LIFETIME = timedelta(days=2 * 365)
# Where the development bootstrap keeps the root: a folder of RS_KEY_DIR no service reads.
DEVELOPMENT_ROOT_FOLDER = "offline-root"
ROOT_LIFETIME = timedelta(days=20 * 365)
ISSUING_LIFETIME = timedelta(days=10 * 365)
# Certificates start a minute in the past, for relying parties whose clocks run a little slow.
BACKDATE = timedelta(minutes=1)
# X.520 ub-organization-name.
MAX_ORGANIZATION_LENGTH = 64


def serial_generate() -> int:
    """A fresh serial: 128 random bits (DESIGN §4.3 asks for at least 64), never zero."""
    return secrets.randbits(128) or 1


def serial_hex(serial: int) -> str:
    """A serial as the API and the log write it: 32 lowercase hex digits."""
    return f"{serial:032x}"


def crl_url() -> str:
    """The CRL distribution point written into every certificate."""
    return f"{settings.RS_PUBLIC_URL}/ca/crl"


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:MAX_ORGANIZATION_LENGTH]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_builder(
    *, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, life: timedelta
) -> x509.CertificateBuilder:
    now = timezone.now().replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial_generate())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + life)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _root_certificate_build(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _name(f"{settings.RS_CA_NAME} Root CA", settings.RS_CA_NAME)
    builder = _ca_builder(
        subject=name, issuer=name, public_key=key.public_key(), life=ROOT_LIFETIME
    ).add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
    return builder.sign(key, hashes.SHA256())


def _issuing_certificate_build(
    key: ec.EllipticCurvePrivateKey, root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    builder = (
        _ca_builder(
            subject=_name(f"{settings.RS_CA_NAME} Issuing CA", settings.RS_CA_NAME),
            issuer=root.subject,
            public_key=key.public_key(),
            life=ISSUING_LIFETIME,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(root_key, hashes.SHA256())


def _p256_key(path: Path, passphrase: str | None = None) -> ec.EllipticCurvePrivateKey:
    """The P-256 key at ``path``, created first if there is none (the first creator wins)."""
    key_file_create(path, ec.generate_private_key(ec.SECP256R1()), passphrase=passphrase)
    return _p256_key_load(path, passphrase)


def _p256_key_load(path: Path, passphrase: str | None = None) -> ec.EllipticCurvePrivateKey:
    key = key_file_load(path, passphrase=passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured(f"{path} is not a P-256 key")
    return key


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def ca_root_create(directory: Path, *, passphrase: str | None) -> x509.Certificate:
    """The root CA in ``directory`` (its key, encrypted with ``passphrase``, and certificate),
    created if missing: on an offline machine (``manage.py ca_init``) or, for development, in
    a folder no service reads."""
    key = _p256_key(directory / ROOT_KEY_FILE, passphrase)
    file_create_once(directory / ROOT_CERTIFICATE_FILE, _pem(_root_certificate_build(key)))
    return x509.load_pem_x509_certificate((directory / ROOT_CERTIFICATE_FILE).read_bytes())


def ca_issuing_create(
    *,
    root_directory: Path,
    root_passphrase: str | None,
    key_directory: Path,
    replace: bool = False,
) -> x509.Certificate:
    """A new issuing CA in ``key_directory`` (the service's RS_KEY_DIR, or a folder copied
    there): its key, encrypted with ``RS_KEY_PASSPHRASE``, its certificate signed by the root in
    ``root_directory``, and the root's certificate. With ``replace``, an issuing CA already there
    is replaced (rotation) and kept beside as ``*.retired-<time>``; without, it is an error."""
    root_key = _p256_key_load(root_directory / ROOT_KEY_FILE, root_passphrase)
    root_pem = (root_directory / ROOT_CERTIFICATE_FILE).read_bytes()
    root = x509.load_pem_x509_certificate(root_pem)
    if root.public_key() != root_key.public_key():
        raise ImproperlyConfigured(f"the root key and certificate in {root_directory} differ")
    key_path = key_directory / ISSUING_KEY_FILE
    certificate_path = key_directory / ISSUING_CERTIFICATE_FILE
    if key_path.exists() or certificate_path.exists():
        if not replace:
            raise ImproperlyConfigured(f"an issuing CA is already in {key_directory}")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        for path in (key_path, certificate_path):
            if path.exists():
                path.rename(path.with_name(f"{path.name}.retired-{stamp}"))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _issuing_certificate_build(key, root, root_key)
    file_replace(key_path, key_encrypt(key))
    file_replace(certificate_path, _pem(certificate))
    file_replace(key_directory / ROOT_CERTIFICATE_FILE, root_pem)
    ca_keys.cache_clear()
    return certificate


def _end_entity_builder(
    *,
    subject: x509.Name,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """An end-entity certificate's builder as every one this CA signs starts: not a CA, for
    signatures only, with its key identifiers; the caller adds its TNAuthList and the rest."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _range_certificate_build(
    public_key: ec.EllipticCurvePublicKey,
    blocks: Sequence[Block],
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = timezone.now().replace(microsecond=0)
    numbers = [block.key().removeprefix("2-") for block in blocks if block.count == 1]
    ranges = [
        (str(block.start).zfill(block.length), block.count) for block in blocks if block.count > 1
    ]
    builder = (
        _end_entity_builder(
            subject=_name("Range certificate", settings.RS_CA_NAME),
            issuer=root,
            issuer_key=root_key,
            public_key=public_key,
            serial=serial_generate(),
            not_before=now - BACKDATE,
            not_after=now + RANGE_LIFETIME,
        )
        # RFC 8226 §9: ranges as ``range`` entries, single numbers as ``one``.
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(TN_AUTH_LIST_OID), encode_tn_auth_list(numbers, ranges)
            ),
            critical=False,
        )
    )
    return builder.sign(root_key, hashes.SHA256())


def range_certificate_create(
    *,
    root_directory: Path,
    root_passphrase: str | None,
    key_directory: Path,
    blocks: Sequence[Block],
    replace: bool = False,
) -> x509.Certificate:
    """A new advertisement key and range certificate in ``key_directory`` (the service's
    RS_KEY_DIR, or a folder copied there): the key, encrypted with ``RS_KEY_PASSPHRASE``, and
    its certificate naming ``blocks``, signed by the root in ``root_directory``, with the
    root's certificate. With ``replace``, those already there are kept beside as
    ``*.retired-<time>``; without, it is an error."""
    if not blocks:
        raise ImproperlyConfigured("a range certificate names at least one block")
    root_key = _p256_key_load(root_directory / ROOT_KEY_FILE, root_passphrase)
    root_pem = (root_directory / ROOT_CERTIFICATE_FILE).read_bytes()
    root = x509.load_pem_x509_certificate(root_pem)
    if root.public_key() != root_key.public_key():
        raise ImproperlyConfigured(f"the root key and certificate in {root_directory} differ")
    key_path = key_directory / ADVERTISEMENT_KEY_FILE
    certificate_path = key_directory / RANGE_CERTIFICATE_FILE
    if key_path.exists() or certificate_path.exists():
        if not replace:
            raise ImproperlyConfigured(f"a range certificate is already in {key_directory}")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
        for path in (key_path, certificate_path):
            if path.exists():
                path.rename(path.with_name(f"{path.name}.retired-{stamp}"))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _range_certificate_build(key.public_key(), blocks, root, root_key)
    file_replace(key_path, key_encrypt(key))
    file_replace(certificate_path, _pem(certificate))
    if not (key_directory / ROOT_CERTIFICATE_FILE).exists():
        file_replace(key_directory / ROOT_CERTIFICATE_FILE, root_pem)
    return certificate


def development_root_directory() -> Path:
    """Where the development bootstrap keeps the root (RS_KEY_DIR itself in older folders)."""
    directory = Path(settings.RS_KEY_DIR)
    legacy = (directory / ROOT_KEY_FILE).exists()
    return directory if legacy else directory / DEVELOPMENT_ROOT_FOLDER


def ca_bootstrap() -> str:
    """Check the issuing CA is in place, or for development create the root and the issuing CA
    (idempotent); say what was done. The root's key is opened only when it is created."""
    directory = Path(settings.RS_KEY_DIR)
    created = False
    if not (directory / ISSUING_CERTIFICATE_FILE).exists():
        if not settings.RS_CA_CREATE_ON_BOOTSTRAP:
            raise ImproperlyConfigured(
                f"no issuing CA in {directory}: create it on the offline machine with "
                "`manage.py ca_init --offline-root DIR` and `manage.py ca_issue_intermediate "
                "--offline-root DIR --key-dir DIR2`, then copy DIR2's files here "
                "(docs/deployment.md, Database roles and keys)"
            )
        # A key folder from before the root moved out keeps its root where it is.
        root_directory = development_root_directory()
        root = ca_root_create(root_directory, passphrase=None)
        root_key = _p256_key_load(root_directory / ROOT_KEY_FILE)
        # Processes bootstrapping together: the first key and certificate linked win.
        issuing_key = _p256_key(directory / ISSUING_KEY_FILE)
        file_create_once(directory / ROOT_CERTIFICATE_FILE, _pem(root))
        created = file_create_once(
            directory / ISSUING_CERTIFICATE_FILE,
            _pem(_issuing_certificate_build(issuing_key, root, root_key)),
        )
    ca_keys.cache_clear()
    keys = ca_keys()
    fingerprint = keys.root.fingerprint(hashes.SHA256()).hex()
    said = (
        f"CA {'created' if created else 'found'} in {directory}; root SHA-256 fingerprint: "
        f"{fingerprint}"
    )
    if (directory / ROOT_KEY_FILE).exists():
        said += f"; the root's key {ROOT_KEY_FILE} is no use here: move it offline"
    return said


@dataclass(frozen=True)
class CaKeys:
    """The issuing CA's key and both certificates. ``repr`` never shows the key."""

    root: x509.Certificate
    issuing: x509.Certificate
    issuing_key: ec.EllipticCurvePrivateKey
    root_pem: bytes
    issuing_pem: bytes

    def __repr__(self) -> str:
        return f"CaKeys(issuing={self.issuing.subject.rfc4514_string()!r})"


@functools.cache
def ca_keys() -> CaKeys:
    """The CA as this process uses it, loaded once. The root's key is never loaded here."""
    directory = Path(settings.RS_KEY_DIR)
    issuing_key = key_file_load(directory / ISSUING_KEY_FILE)
    if not isinstance(issuing_key, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured("the issuing CA key is not an EC key")
    try:
        root_pem = (directory / ROOT_CERTIFICATE_FILE).read_bytes()
        issuing_pem = (directory / ISSUING_CERTIFICATE_FILE).read_bytes()
    except FileNotFoundError as missing:
        raise ImproperlyConfigured(
            f"no CA certificate at {missing.filename}: run `manage.py bootstrap` first"
        ) from missing
    return CaKeys(
        root=x509.load_pem_x509_certificate(root_pem),
        issuing=x509.load_pem_x509_certificate(issuing_pem),
        issuing_key=issuing_key,
        root_pem=root_pem,
        issuing_pem=issuing_pem,
    )


@dataclass(frozen=True)
class SignedCertificate:
    certificate: x509.Certificate
    der: bytes
    certificate_sha256: bytes
    public_key_sha256: bytes


def end_entity_sign(
    *,
    public_key: ec.EllipticCurvePublicKey,
    number_digits: str,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    holder: str,
) -> SignedCertificate:
    """Sign a number certificate for ``public_key`` naming exactly one number (RFC 8226).

    Nothing the requester sent reaches the certificate but its public key: the subject names
    the provider, and the TNAuthList names the verified number.
    """
    ca = ca_keys()
    builder = (
        _end_entity_builder(
            subject=_name("Number certificate", holder),
            issuer=ca.issuing,
            issuer_key=ca.issuing_key,
            public_key=public_key,
            serial=serial,
            not_before=not_before,
            not_after=not_after,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url())],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        # RFC 8226 §9. Not critical: relying parties that do not know it (generic X.509
        # libraries) must still be able to build the path; STIR verifiers read it.
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(TN_AUTH_LIST_OID), encode_tn_auth_list([number_digits])
            ),
            critical=False,
        )
    )
    certificate = builder.sign(ca.issuing_key, hashes.SHA256())
    der = certificate.public_bytes(serialization.Encoding.DER)
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SignedCertificate(
        certificate=certificate,
        der=der,
        certificate_sha256=hashlib.sha256(der).digest(),
        public_key_sha256=hashlib.sha256(spki).digest(),
    )


_REASON_FLAGS = {flag.value: flag for flag in x509.ReasonFlags}


@dataclass(frozen=True)
class RevokedSerial:
    serial: int
    revoked_at: datetime
    reason: str  # an RFC 5280 reason name, as in ca.choices.RevocationReason


def crl_sign(
    *, number: int, revoked: list[RevokedSerial], this_update: datetime, next_update: datetime
) -> bytes:
    """A DER CRL (RFC 5280 §5) signed by the issuing CA."""
    ca = ca_keys()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.issuing.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.issuing_key.public_key()),
            critical=False,
        )
    )
    for entry in revoked:
        revoked_certificate = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != x509.ReasonFlags.unspecified.value:
            # RFC 5280 §5.3.1: the reason code is absent rather than "unspecified".
            revoked_certificate = revoked_certificate.add_extension(
                x509.CRLReason(_REASON_FLAGS[entry.reason]), critical=False
            )
        builder = builder.add_revoked_certificate(revoked_certificate.build())
    crl = builder.sign(ca.issuing_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)
