"""Certificates issued under other trusted roots (ca.trust): keeping those that authorised a
change, and fetching their CAs' CRLs, whose revocations remove the handlers they authorised.

A CA is named by its key, never by its name (``ca.selectors.ca_key_sha256``): two roots, or
two issuing CAs under different roots, may give the same name, and a CRL only ever revokes
certificates that the key which signed it issued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connection, transaction
from django.utils import timezone

from ca.models import ExternalCertificate, ExternalCrl
from ca.selectors import ca_key_sha256, crl_signed_by
from ca.signals import certificate_revoked, certificate_revoking
from ca.trust import TrustedRoot, trusted_roots

logger = structlog.get_logger(__name__)

MAX_CRL_BYTES = 8 * 1024 * 1024
CRL_FETCH_TIMEOUT = 10.0


def external_certificate_hold(certificate: ExternalCertificate) -> ExternalCertificate:
    """Keep a certificate ``external_certificate_verify`` accepted, locked until the caller's
    transaction ends; the kept row, whose ``revoked_at`` a CRL may have set meanwhile.

    Two first uses at once both succeed: the row is inserted once, and both lock it.
    """
    fields = [
        field
        for field in ExternalCertificate._meta.concrete_fields
        if field.name not in {"id", "created_at", "revoked_at"}
    ]
    table = ExternalCertificate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            "ON CONFLICT (certificate_sha256) DO NOTHING",
            [
                field.get_db_prep_value(getattr(certificate, field.attname), connection)
                for field in fields
            ],
        )
    kept = (
        ExternalCertificate.objects.select_for_update(no_key=True)
        .filter(certificate_sha256=certificate.certificate_sha256)
        .get()
    )
    return kept


class CrlFetchError(Exception):
    """A CRL could not be fetched or read."""


def _crl_fetch(url: str) -> x509.CertificateRevocationList:
    """GET a CRL (DER, or PEM) from an operator-configured URL: bounded in time and size."""
    try:
        with (
            httpx.Client(
                timeout=CRL_FETCH_TIMEOUT, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CrlFetchError(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CRL_BYTES:
                    raise CrlFetchError(f"larger than {MAX_CRL_BYTES} bytes")
    except httpx.HTTPError as error:
        raise CrlFetchError(f"{type(error).__name__}: {error}") from None
    try:
        if bytes(body[:10]) == b"-----BEGIN":
            return x509.load_pem_x509_crl(bytes(body))
        return x509.load_der_x509_crl(bytes(body))
    except ValueError as error:
        raise CrlFetchError(f"not a CRL: {error}") from None


def _crl_signer(crl: x509.CertificateRevocationList, root: TrustedRoot) -> x509.Certificate | None:
    """The CA certificate known under ``root`` whose key signed ``crl``: the root itself, or an
    issuing CA from a path to it that was once accepted. None when no such key signed it."""
    seen = (
        ExternalCertificate.objects.filter(root=root.name)
        .values_list("issuer_der", flat=True)
        .distinct()
    )
    candidates = [root.certificate, *(x509.load_der_x509_certificate(bytes(der)) for der in seen)]
    return next((ca for ca in candidates if crl_signed_by(crl, ca)), None)


@dataclass(frozen=True)
class CrlsRefreshed:
    fetched: int
    failed: int
    revoked: int


def external_crls_refresh() -> CrlsRefreshed:
    """Fetch the CRLs of the trusted roots' CAs; remove the handlers of certificates they list.

    One CRL is kept per root and URL. A CRL replaces the kept one when it is newer, unless the
    kept one was verified (with the root, or an issuing CA from a path once accepted) and the
    new one cannot be. Until a certificate of an issuing CA has been used, its CRLs are kept
    as fetched: every use checks the CRL again with the issuing CA of the chain presented, so
    a forged one refuses changes but never admits one. A verified CRL revokes only the kept
    certificates that its signer's key issued, whatever name another CA gives. A fetch that
    fails keeps the CRL we have: once its nextUpdate passes, certificates under it are refused.
    """
    fetched = failed = revoked = 0
    now = timezone.now()
    for root in trusted_roots():
        for url in root.crl_urls:
            try:
                crl = _crl_fetch(url)
            except CrlFetchError as error:
                failed += 1
                logger.warning(
                    "external crl not fetched", root=root.name, url=url, error=str(error)
                )
                continue
            signer = _crl_signer(crl, root)
            signer_key = ca_key_sha256(signer) if signer is not None else None
            next_update = crl.next_update_utc
            with transaction.atomic(durable=True):
                kept = (
                    ExternalCrl.objects.select_for_update().filter(root=root.name, url=url).first()
                )
                # A CRL whose signature we could check is never replaced by one we cannot.
                if next_update is None or (
                    kept is not None and kept.verified and signer_key is None
                ):
                    failed += 1
                    logger.warning("external crl not kept", root=root.name, url=url)
                    continue
                if kept is None or crl.last_update_utc > kept.this_update:
                    ExternalCrl.objects.update_or_create(
                        root=root.name,
                        url=url,
                        defaults={
                            "issuer": crl.issuer.rfc4514_string()[:1000],
                            "issuer_key_sha256": signer_key,
                            "der": crl.public_bytes(serialization.Encoding.DER),
                            "this_update": crl.last_update_utc,
                            "next_update": next_update,
                            "fetched_at": now,
                        },
                    )
                fetched += 1
                if signer_key is not None:
                    revoked += _external_certificates_revoke(crl, signer_key, now)
    return CrlsRefreshed(fetched=fetched, failed=failed, revoked=revoked)


def _external_certificates_revoke(
    crl: x509.CertificateRevocationList, signer_key_sha256: bytes, now: datetime
) -> int:
    """Mark revoked the kept certificates ``crl`` lists that its signer's key issued; their
    handlers go (and are logged).

    In ``core.locks``'s order: every certificate's row, then every handler row they
    authorised (``certificate_revoking``), before the first removal is logged.
    """
    listed = {entry.serial_number for entry in crl}
    if not listed:
        return 0
    certificates = [
        certificate
        for certificate in ExternalCertificate.objects.select_for_update()
        .filter(issuer_key_sha256=signer_key_sha256, revoked_at__isnull=True)
        .order_by("pk")
        if int(certificate.serial, 16) in listed
    ]
    for certificate in certificates:
        certificate.revoked_at = now
        certificate.save(update_fields=["revoked_at"])
        certificate_revoking.send(sender=ExternalCertificate, certificate=certificate)
    for certificate in certificates:
        certificate_revoked.send(sender=ExternalCertificate, certificate=certificate)
        logger.info(
            "external certificate revoked", root=certificate.root, serial=certificate.serial
        )
    return len(certificates)
