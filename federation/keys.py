"""This service's advertisement key and range certificate (DESIGN §7.4).

When it serves some ranges (``RS_SERVED_RANGES``), a service signs its range advertisement
with a P-256 key whose certificate, signed by this CA's root, names those blocks in its
TNAuthList (``ca.authority.range_certificate_create``). Both are files of ``RS_KEY_DIR``, the
key encrypted like the others (``core.keyfiles``). :func:`advertisement_keys` opens them, once
per process and setting, and refuses (ImproperlyConfigured) a certificate that is missing, is
not the key's, does not chain to this CA's root, has expired or does not cover every served
block: it is one of the keys every process opens before it serves (``core.health.keys_open``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from ca.authority import (
    ADVERTISEMENT_KEY_FILE,
    RANGE_CERTIFICATE_FILE,
    ca_keys,
    development_root_directory,
    range_certificate_create,
)
from core.keyfiles import key_file_load
from core.ranges import served_blocks
from resolution.protocol.advertisements import Block, block_covered
from resolution.protocol.certificates import CertificateError, certificate_chain_verify
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, TNAuthListError, decode_tn_auth_list

REMEDY = (
    "on the offline machine, `manage.py ca_issue_range --offline-root DIR --key-dir OUT "
    "--ranges …` with the served ranges, then copy OUT's files into RS_KEY_DIR "
    "(docs/federation.md)"
)


@dataclass(frozen=True)
class AdvertisementKeys:
    """The advertisement key and its range certificate. ``repr`` never shows the key."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"AdvertisementKeys(serial={self.certificate.serial_number:x})"


def range_certificate_problem(certificate: x509.Certificate, blocks: tuple[Block, ...]) -> str:
    """Why ``certificate`` cannot sign this service's advertisement, or "" when it can: it must
    chain to this CA's root now and its TNAuthList cover each of ``blocks``."""
    try:
        certificate_chain_verify(certificate, [], [ca_keys().root], at=timezone.now())
    except CertificateError as error:
        return f"the range certificate does not verify under this CA's root: {error}"
    extension = certificate.extensions.get_extension_for_oid(
        x509.ObjectIdentifier(TN_AUTH_LIST_OID)
    )
    try:
        tn_auth_list = decode_tn_auth_list(extension.value.value)  # type: ignore[attr-defined]
    except TNAuthListError as error:  # pragma: no cover - certificate_chain_verify read it
        return f"the range certificate's TNAuthList: {error}"
    missing = [block.key() for block in blocks if not block_covered(tn_auth_list, block)]
    if missing:
        return f"the range certificate does not cover {', '.join(missing)} (RS_SERVED_RANGES)"
    return ""


@functools.cache
def _keys_load(directory: Path, blocks: tuple[Block, ...]) -> AdvertisementKeys:
    try:
        pem = (directory / RANGE_CERTIFICATE_FILE).read_bytes()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"RS_SERVED_RANGES is set but there is no range certificate in {directory}: {REMEDY}"
        ) from None
    certificate = x509.load_pem_x509_certificate(pem)
    key = key_file_load(directory / ADVERTISEMENT_KEY_FILE)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured(f"{directory / ADVERTISEMENT_KEY_FILE} is not a P-256 key")
    if key.public_key() != certificate.public_key():
        raise ImproperlyConfigured(
            f"{RANGE_CERTIFICATE_FILE} is not the certificate of {ADVERTISEMENT_KEY_FILE}"
        )
    problem = range_certificate_problem(certificate, blocks)
    if problem:
        raise ImproperlyConfigured(f"{problem}: {REMEDY}")
    return AdvertisementKeys(key=key, certificate=certificate)


def advertisement_keys() -> AdvertisementKeys | None:
    """The advertisement key and range certificate, or None when this service serves every
    number; ImproperlyConfigured when they are missing or do not fit ``RS_SERVED_RANGES``."""
    blocks = served_blocks()
    if not blocks:
        return None
    return _keys_load(Path(settings.RS_KEY_DIR), blocks)


def advertisement_keys_bootstrap() -> str:
    """Check the range certificate, or in development (``RS_CA_CREATE_ON_BOOTSTRAP``) sign a
    new one with the development root when it is missing or does not cover the served
    blocks; say what was done."""
    blocks = served_blocks()
    if not blocks:
        return "No served ranges (RS_SERVED_RANGES): this service serves every number"
    directory = Path(settings.RS_KEY_DIR)
    _keys_load.cache_clear()
    try:
        keys = _keys_load(directory, blocks)
    except ImproperlyConfigured:
        if not settings.RS_CA_CREATE_ON_BOOTSTRAP:
            raise
        range_certificate_create(
            root_directory=development_root_directory(),
            root_passphrase=None,
            key_directory=directory,
            blocks=blocks,
            replace=True,
        )
        _keys_load.cache_clear()
        keys = _keys_load(directory, blocks)
        return f"Range certificate created for {len(blocks)} blocks (serial {keys!r})"
    return f"Range certificate found for {len(blocks)} blocks ({keys!r})"
