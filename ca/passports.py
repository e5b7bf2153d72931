"""Verifying PASSporTs for providers (``POST /v1/passports/verify``, DESIGN §4.4).

The checks themselves are ``resolution.protocol.passport.passport_verify``; this module finds
what it needs and says what it concluded:

- the signer's chain, from the PASSporT's ``x5u`` (:func:`x5u_chain`): a URL of our own
  repository is read from the database, never fetched; any other URL is fetched with
  ``core.fetch`` (HTTPS only, hosts on ``RS_X5U_ALLOWED_HOSTS``, never a private or loopback
  address unless the operator permits its network) and the parsed chain is kept per process
  for at most ``RS_X5U_CACHE_SECONDS`` (less when the server says so);
- the roots (ours and ``ca.trust``'s) and the CRLs (ours, and the kept CRL of a foreign leaf's
  issuer), one of which the leaf's issuer must have: without it, revocation is unknown;
- the replay cache (:class:`ca.models.PassportSeen`): a PASSporT that verified is recorded, and
  the same one presented again by the same provider within its freshness window is refused.

Every failure is a verdict with a stable reason (:data:`VERDICT_REASONS`), never an error.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from cryptography import x509
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ca.authority import ca_keys, serial_hex
from ca.models import ExternalCrl, PassportSeen
from ca.selectors import SERIAL, certificate_get, certificate_x509, name_sha256
from ca.services import crl_current
from ca.trust import trusted_roots
from core.fetch import FetchError, url_fetch_configured
from providers.models import Provider
from resolution.protocol.certificates import MAX_INTERMEDIATES
from resolution.protocol.passport import (
    PPT_MSG,
    REASONS,
    Passport,
    PassportError,
    passport_parse,
    passport_verify,
)

logger = structlog.get_logger(__name__)

X5U_REASONS: Final = frozenset(
    {
        # Not a URL we fetch: not https, host or port not on RS_X5U_ALLOWED_HOSTS, user:password@,
        # or a host resolving to a private, loopback or otherwise non-public address.
        "x5u-not-allowed",
        # Fetched, but no chain came back: no answer, TLS failure, timeout, not 200, another
        # media type, too large; or our own repository has no certificate with that serial.
        "x5u-fetch-failed",
        # What came back is not a certificate chain (PEM or DER), or holds too many certificates.
        "x5u-invalid",
    }
)
# Every reason a verdict can give; ``resolution.protocol.passport.REASONS`` says what its own mean.
VERDICT_REASONS: Final = REASONS | X5U_REASONS | {"replayed"}

# Media types an x5u may be served as: a PEM chain (RFC 8555 §9.1), PEM under its common
# unregistered name, or one DER certificate (RFC 2585 §4.1).
X5U_MEDIA_TYPES: Final = (
    "application/pem-certificate-chain",
    "application/x-pem-file",
    "application/pkix-cert",
)
X5U_MAX_BYTES: Final = 64 * 1024
X5U_FETCH_TIMEOUT: Final = 5.0
# A leaf, the intermediates path validation accepts, and a root sent along anyway.
X5U_MAX_CERTIFICATES: Final = MAX_INTERMEDIATES + 2
X5U_CACHE_ENTRIES: Final = 1024

_FETCH_NOT_ALLOWED: Final = frozenset(
    {"url", "scheme", "userinfo", "port", "host-not-allowed", "address-not-permitted"}
)


class X5uError(Exception):
    """No chain for an ``x5u``: ``reason`` is one of :data:`X5U_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# --- x5u: the signer's chain --------------------------------------------------------------------


@dataclass(frozen=True)
class _CachedChain:
    chain: tuple[x509.Certificate, ...]
    expires: float  # time.monotonic()


_chains: OrderedDict[str, _CachedChain] = OrderedDict()
_chains_lock = threading.Lock()


def x5u_cache_clear() -> None:
    """Forget every fetched chain (tests; an operator changing the allow-list restarts)."""
    with _chains_lock:
        _chains.clear()


def _cached(url: str) -> tuple[x509.Certificate, ...] | None:
    with _chains_lock:
        entry = _chains.get(url)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            del _chains[url]
            return None
        _chains.move_to_end(url)
        return entry.chain


def _cache_keep(url: str, chain: tuple[x509.Certificate, ...], max_age: int | None) -> None:
    lifetime = settings.RS_X5U_CACHE_SECONDS
    if max_age is not None:
        lifetime = min(lifetime, max_age)
    if lifetime <= 0:
        return
    with _chains_lock:
        _chains[url] = _CachedChain(chain=chain, expires=time.monotonic() + lifetime)
        _chains.move_to_end(url)
        while len(_chains) > X5U_CACHE_ENTRIES:
            _chains.popitem(last=False)


def _repository_serial(url: str) -> str | None:
    """The serial when ``url`` is a certificate in our own repository (Certificate.x5u)."""
    prefix = f"{settings.RS_PUBLIC_URL}/ca/certs/"
    if not url.startswith(prefix) or not url.endswith(".pem"):
        return None
    serial = url[len(prefix) : -len(".pem")].lower()
    return serial if SERIAL.fullmatch(serial) else None


def _chain_parse(body: bytes) -> tuple[x509.Certificate, ...]:
    """A PEM chain (leaf first) or one DER certificate; X5uError("x5u-invalid") otherwise."""
    try:
        if b"-----BEGIN" in body:
            chain = tuple(x509.load_pem_x509_certificates(body))
        else:
            chain = (x509.load_der_x509_certificate(body),)
        for certificate in chain:
            # Extensions are decoded lazily: decode them here, where a bad one is the x5u's fault.
            _ = certificate.extensions
    except ValueError as error:
        raise X5uError("x5u-invalid", f"not a certificate chain: {error}") from None
    if len(chain) > X5U_MAX_CERTIFICATES:
        raise X5uError("x5u-invalid", f"more than {X5U_MAX_CERTIFICATES} certificates")
    return chain


def x5u_chain(url: str) -> tuple[x509.Certificate, ...]:
    """The certificate chain an ``x5u`` names, leaf first; raises :class:`X5uError`."""
    serial = _repository_serial(url)
    if serial is not None:
        certificate = certificate_get(serial=serial)
        if certificate is None:
            raise X5uError("x5u-fetch-failed", "our repository has no certificate with this serial")
        return (certificate_x509(certificate), ca_keys().issuing)
    chain = _cached(url)
    if chain is not None:
        return chain
    try:
        document = url_fetch_configured(
            url,
            allowed_hosts=settings.RS_X5U_ALLOWED_HOSTS,
            max_bytes=X5U_MAX_BYTES,
            timeout=X5U_FETCH_TIMEOUT,
            accept=X5U_MEDIA_TYPES,
        )
    except FetchError as error:
        reason = "x5u-not-allowed" if error.reason in _FETCH_NOT_ALLOWED else "x5u-fetch-failed"
        raise X5uError(reason, str(error)) from None
    except ValueError as error:  # an RS_X5U_ALLOWED_HOSTS entry that is not one
        logger.error("RS_X5U_ALLOWED_HOSTS is malformed", error=str(error))
        raise X5uError("x5u-fetch-failed", "the service's allow-list is misconfigured") from None
    chain = _chain_parse(document.body)
    _cache_keep(url, chain, document.max_age)
    return chain


# --- The verdict --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassportVerdict:
    """What ``passport_check`` concluded. ``passport`` is set once the form was readable (its
    claims are then shown, verified or not); ``certificate`` is the leaf x5u named, if any."""

    reasons: tuple[str, ...]
    passport: Passport | None = None
    certificate: x509.Certificate | None = None

    @property
    def valid(self) -> bool:
        return not self.reasons


def certificate_serial(certificate: x509.Certificate) -> str:
    """A serial as we write it: 32 hex digits for ours, as few as it needs for others'."""
    if certificate.issuer == ca_keys().issuing.subject:
        return serial_hex(certificate.serial_number)
    return f"{certificate.serial_number:x}"


def _crls(leaf: x509.Certificate) -> list[x509.CertificateRevocationList]:
    """Our current CRL, and the kept CRL of the leaf's issuer when it is another CA."""
    crls = [x509.load_der_x509_crl(bytes(crl_current().der))]
    if leaf.issuer != ca_keys().issuing.subject:
        kept = ExternalCrl.objects.filter(issuer_sha256=name_sha256(leaf.issuer)).first()
        if kept is not None:
            crls.append(x509.load_der_x509_crl(bytes(kept.der)))
    return crls


def _seen(*, provider: Provider, passport: Passport, window: int) -> bool:
    """Record a PASSporT that verified; True when this provider had it recorded already.

    Keyed by the SHA-256 of the signed part, ``header.payload``: an ECDSA signature can be
    rewritten into another valid one (s to n - s), so the whole token would let a replay
    through. Kept until the PASSporT is stale anyway, with a freshness of slack for clocks.
    """
    digest = hashlib.sha256(passport.jws.signing_input).digest()
    expires_at = datetime.fromtimestamp(passport.iat, UTC) + timedelta(
        seconds=window + settings.RS_PASSPORT_FRESHNESS_SECONDS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PassportSeen._meta.db_table} (provider_id, digest, expires_at) "  # noqa: S608
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [provider.pk, digest, expires_at],
        )
        return cursor.fetchone() is None


def _verdict(*, provider: Provider, token: str, body: bytes | None) -> PassportVerdict:
    try:
        passport = passport_parse(token)
    except PassportError as error:
        return PassportVerdict(reasons=(error.reason,))
    try:
        chain = x5u_chain(passport.x5u)
    except X5uError as error:
        return PassportVerdict(reasons=(error.reason,), passport=passport)
    leaf = chain[0]
    window = (
        settings.RS_PASSPORT_MSG_FRESHNESS_SECONDS
        if passport.ppt == PPT_MSG
        else settings.RS_PASSPORT_FRESHNESS_SECONDS
    )
    try:
        passport_verify(
            token,
            chain=chain,
            roots=[ca_keys().root, *(root.certificate for root in trusted_roots())],
            at=timezone.now(),
            crls=_crls(leaf),
            # Without a current CRL of the issuer, "not revoked" cannot be said.
            crl_required=True,
            freshness=settings.RS_PASSPORT_FRESHNESS_SECONDS,
            msg_freshness=settings.RS_PASSPORT_MSG_FRESHNESS_SECONDS,
            body=body,
        )
    except PassportError as error:
        return PassportVerdict(reasons=(error.reason,), passport=passport, certificate=leaf)
    if _seen(provider=provider, passport=passport, window=window):
        return PassportVerdict(reasons=("replayed",), passport=passport, certificate=leaf)
    return PassportVerdict(reasons=(), passport=passport, certificate=leaf)


def passport_check(*, provider: Provider, token: str, body: bytes | None) -> PassportVerdict:
    """Verify a PASSporT for ``provider`` (and the message ``body`` a msg PASSporT protects).

    Valid means: the signature verifies with the key of the certificate ``x5u`` names, ``iat``
    is fresh (``RS_PASSPORT_FRESHNESS_SECONDS``, or ``RS_PASSPORT_MSG_FRESHNESS_SECONDS`` in
    the past for ``ppt`` "msg"), the certificate chains to our root or a trusted one, is not
    revoked, its TNAuthList covers ``orig.tn``, ``msgi`` matches the body, and this provider
    has not presented the same PASSporT before. Only a PASSporT valid in every other way is
    recorded for the replay check.
    """
    verdict = _verdict(provider=provider, token=token, body=body)
    logger.info(
        "passport checked",
        provider=provider.slug,
        valid=verdict.valid,
        reasons=list(verdict.reasons),
        ppt=verdict.passport.ppt if verdict.passport else None,
    )
    return verdict


def passports_seen_prune() -> int:
    """Forget PASSporTs too old to be accepted again anyway; how many were forgotten."""
    deleted, _ = PassportSeen.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
