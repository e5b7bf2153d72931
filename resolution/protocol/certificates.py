"""Path validation of number certificates, shared by PASSporT verification and the server.

A number certificate (DESIGN §4.3, the RFC 8226 profile) is an end-entity certificate with a
P-256 key, KeyUsage ``digitalSignature``, no CA bit, and the TNAuthList extension (RFC 8226 §9,
OID 1.3.6.1.5.5.7.1.26) naming the numbers it speaks for.  It chains root → issuing CA → end
entity.  This module checks, for a moment ``at``:

* ``certificate_chain_verify``: the leaf's own profile and validity period, then the path to a
  trusted root, built and checked by ``cryptography.x509.verification`` (RFC 5280 §6).  The
  CA certificates get the Web PKI CA policy; the leaf gets ``permit_all``, because the Web PKI
  end-entity policy demands a subjectAltName and number certificates have none (RFC 8226
  identifies the subject by TNAuthList instead), so the leaf profile is checked here.
* ``crl_check``: the leaf against a CRL of its issuer (RFC 5280 §5, §6.3).
* ``tn_auth_list_covers``: whether the leaf's TNAuthList authorises an E.164 number
  (RFC 8226 §9, RFC 8224 §8.3).

Every failure raises ``CertificateError`` whose ``reason`` is one of ``REASONS``, a stable
machine code a server can return as is.

Public API: ``CertificateError``, ``REASONS``, ``REVOCATION_REASONS``, ``MAX_INTERMEDIATES``,
``certificate_chain_verify``, ``crl_for_issuer``, ``crl_check``, ``tn_auth_list_covers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from resolution.protocol.tnauthlist import (
    TN_AUTH_LIST_OID,
    TNAuthList,
    TNAuthListError,
    covers,
    decode_tn_auth_list,
)

REASONS: Final = frozenset(
    {
        "chain",
        "expired",
        "not-yet-valid",
        "revoked",
        "crl-invalid",
        "crl-stale",
        "crl-missing",
        "key-type",
        "tnauthlist",
    }
)
"""Every ``CertificateError.reason``."""

REVOCATION_REASONS: Final = (
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
)
"""The reasons a number certificate may be revoked for, by their RFC 5280 §5.3.1 names (the
CRLReason a CRL entry carries), as the revocation API accepts them; ``unspecified`` when none
is given."""

MAX_INTERMEDIATES: Final = 2
"""Most intermediate CA certificates a path may hold.  Our own hierarchy has one (DESIGN §4.3);
one more leaves room to re-key under a new intermediate, and the bound limits the work that
path building does on certificates an untrusted ``x5u`` served."""

_TN_AUTH_LIST: Final = x509.ObjectIdentifier(TN_AUTH_LIST_OID)
# "+" and the digits of a TNAuthList TelephoneNumber (RFC 8226 §9: 1 to 15), wider than E.164
# (``numbers.E164``): a PASSporT's ``orig.tn`` may be any such number.
_PLUS_TN: Final = re.compile(r"\+[0-9]{1,15}")
# Types whose signatures ``CertificateRevocationList.is_signature_valid`` can check.
_ISSUER_KEY_TYPES: Final = (
    dsa.DSAPublicKey,
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


class CertificateError(ValueError):
    """A certificate, its path or its revocation status does not check out.

    ``reason`` is a stable machine code from ``REASONS``; the message says what failed.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:  # a typo here would leak an undocumented code to clients
            raise ValueError(f"unknown certificate error reason {reason!r}")
        super().__init__(message)
        self.reason = reason


def _check_aware(at: datetime) -> None:
    # A naive datetime would be read as UTC by cryptography and as local time by .timestamp().
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("'at' must be a timezone-aware datetime")


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    # RFC 5280 §4.1.2.5: the period is inclusive at both ends.
    if at < certificate.not_valid_before_utc:
        raise CertificateError(
            "not-yet-valid",
            f"certificate is valid from {certificate.not_valid_before_utc.isoformat()}, "
            f"after {at.isoformat()}",
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateError(
            "expired",
            f"certificate expired at {certificate.not_valid_after_utc.isoformat()}, "
            f"before {at.isoformat()}",
        )


def _check_leaf_profile(leaf: x509.Certificate) -> None:
    """The end-entity checks that the permit-all policy leaves to us (DESIGN §4.3)."""
    key = leaf.public_key()
    # ES256 is the only PASSporT algorithm we accept (RFC 8225 §6; RFC 7518 §3.4).
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateError("key-type", "the certificate's key is not an EC P-256 key")
    try:
        key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateError("key-type", "the certificate has no KeyUsage extension") from None
    if not key_usage.digital_signature:  # RFC 5280 §4.2.1.3: PASSporTs are signatures
        raise CertificateError("key-type", "the certificate's KeyUsage lacks digitalSignature")
    try:
        basic_constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        pass  # RFC 5280 §4.2.1.9: absent means not a CA
    else:
        if basic_constraints.ca:
            raise CertificateError("chain", "the end-entity certificate is a CA certificate")
    _tn_auth_list(leaf)


def _tn_auth_list(leaf: x509.Certificate) -> TNAuthList:
    try:
        extension = leaf.extensions.get_extension_for_oid(_TN_AUTH_LIST)
    except x509.ExtensionNotFound:
        raise CertificateError(
            "tnauthlist", "the certificate has no TNAuthList extension (RFC 8226 §9)"
        ) from None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):  # pragma: no cover - a newer library
        raise CertificateError("tnauthlist", "TNAuthList extension could not be read")
    try:
        return decode_tn_auth_list(value.value)
    except TNAuthListError as exc:
        raise CertificateError("tnauthlist", f"TNAuthList is not valid: {exc}") from None


def certificate_chain_verify(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    at: datetime,
) -> list[x509.Certificate]:
    """Validate ``leaf`` as a number certificate at ``at``; return the path, leaf to root.

    The leaf must be inside its validity period (else "expired" or "not-yet-valid", checked
    first so the reason is precise), have an EC P-256 key and KeyUsage ``digitalSignature``
    ("key-type"), not be a CA ("chain") and carry a valid TNAuthList ("tnauthlist").  Then a path
    to one of ``roots`` is built from ``intermediates`` (in any order, extras ignored) and
    validated per RFC 5280 §6 with the Web PKI CA policy; any failure there is "chain".
    ``at`` must be timezone-aware.
    """
    _check_aware(at)
    _check_validity(leaf, at)
    _check_leaf_profile(leaf)
    if not roots:
        raise CertificateError("chain", "no trusted root certificates were given")
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(at)
        .max_chain_depth(MAX_INTERMEDIATES)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            # No SAN on number certificates; _check_leaf_profile did the end-entity checks.
            ee_policy=ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        raise CertificateError("chain", f"certificate path does not validate: {exc}") from None
    return list(verified.chain)


def crl_for_issuer(
    crls: Iterable[x509.CertificateRevocationList],
    issuer: x509.Certificate,
    *,
    required: bool = False,
) -> x509.CertificateRevocationList | None:
    """Return the newest of ``crls`` (by thisUpdate) whose issuer name is ``issuer``'s subject.

    Returns None when there is none, or raises "crl-missing" if ``required``.  Nothing is
    checked here but the name: ``crl_check`` checks the CRL itself.
    """
    matching = [crl for crl in crls if crl.issuer == issuer.subject]
    if not matching:
        if required:
            raise CertificateError(
                "crl-missing", f"no CRL from {issuer.subject.rfc4514_string()} was given"
            )
        return None
    return max(matching, key=lambda crl: crl.last_update_utc)


def crl_check(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    crl: x509.CertificateRevocationList,
    *,
    at: datetime,
) -> None:
    """Check that ``crl`` is ``issuer``'s current CRL and does not list ``leaf``.

    ``issuer`` must be the leaf's issuer, as path validation found it.  The CRL must name that
    issuer, be signed by its key, which must be allowed to sign CRLs, and have no critical
    extension (RFC 5280 §5.2: a CRL with one we cannot process must not be used), else
    "crl-invalid"; its nextUpdate must be after ``at``, else "crl-stale" (RFC 5280 §6.3.3 a);
    and the leaf's serial must not be listed, else "revoked".
    """
    _check_aware(at)
    if issuer.subject != leaf.issuer:
        raise CertificateError("crl-invalid", "the issuer given did not issue the certificate")
    if crl.issuer != leaf.issuer:
        raise CertificateError(
            "crl-invalid",
            f"the CRL is from {crl.issuer.rfc4514_string()}, not from the certificate's "
            f"issuer {leaf.issuer.rfc4514_string()}",
        )
    # RFC 5280 §6.3.3 f: the CRL issuer's key must have the cRLSign bit.
    try:
        key_usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.crl_sign:
        raise CertificateError("crl-invalid", "the issuer's KeyUsage does not allow cRLSign")
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, _ISSUER_KEY_TYPES) or not crl.is_signature_valid(issuer_key):
        raise CertificateError("crl-invalid", "the CRL's signature does not verify")
    critical = [extension.oid.dotted_string for extension in crl.extensions if extension.critical]
    if critical:  # a delta CRL or a scoped (IssuingDistributionPoint) CRL is not a full CRL
        raise CertificateError("crl-invalid", f"the CRL has critical extensions {critical}")
    next_update = crl.next_update_utc
    if next_update is None:  # RFC 5280 §5.1.2.5: conforming CAs MUST include nextUpdate
        raise CertificateError("crl-invalid", "the CRL has no nextUpdate")
    if next_update <= at:
        raise CertificateError(
            "crl-stale",
            f"the CRL's nextUpdate {next_update.isoformat()} is not after {at.isoformat()}",
        )
    if crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None:
        raise CertificateError(
            "revoked", f"certificate {leaf.serial_number:032x} is listed in the issuer's CRL"
        )


def tn_auth_list_covers(leaf: x509.Certificate, number: str) -> bool:
    """Return whether ``leaf``'s TNAuthList authorises the E.164 ``number`` ("+" and digits).

    TNAuthList holds numbers without "+" (RFC 8226 §9; RFC 8224 §8.3), so the "+" is dropped
    before comparing.  Raises "tnauthlist" when the leaf has no TNAuthList or it is not valid
    DER, and ``ValueError`` when ``number`` is not "+" and 1 to 15 digits.
    """
    if not isinstance(number, str) or not _PLUS_TN.fullmatch(number):
        raise ValueError(f"number {number!r} is not '+' and 1 to 15 digits (E.164)")
    return covers(_tn_auth_list(leaf), number[1:])
