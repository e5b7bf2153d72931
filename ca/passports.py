"""Verifying PASSporTs for providers (``POST /v1/passports/verify``, DESIGN §4.4): reads only.

The checks themselves are ``resolution.protocol.passport.passport_verify``; this module finds
what it needs and says what it concluded:

- the signer's chain, from the PASSporT's ``x5u`` (:func:`x5u_chain`): a URL of our own
  repository is read from the database, never fetched; any other URL is fetched with
  ``core.fetch`` (HTTPS only, hosts on ``RS_X5U_ALLOWED_HOSTS``, never a private or loopback
  address unless the operator permits its network) and the parsed chain is kept per process
  for at most ``RS_X5U_CACHE_SECONDS`` (less when the server says so). A host on the
  allow-list may still be slow or hostile, so a check spends at most
  ``RS_X5U_FETCH_TIMEOUT_SECONDS`` on its x5u (one fetch, or waiting for the same fetch by a
  concurrent check: one fetch per URL at a time in a process), a failure is remembered for
  ``RS_X5U_FAILURE_CACHE_SECONDS`` (for the host when it did not answer in time or at all, for
  the URL otherwise), and an x5u with a query or fragment is refused unfetched, so that
  neither cache can be bypassed by varying what the host ignores;
- the roots (ours and ``ca.trust``'s) and the CRLs (our newest stored one, and the kept CRLs
  signed by the key of a CA that may have issued a foreign leaf), one of which the leaf's
  issuer must have: without it, revocation is unknown.

The replay check writes, so it is a service: ``ca.services.passports.passport_check`` takes
this module's verdict and records a valid PASSporT (:class:`ca.models.PassportSeen`); the same
one presented again by the same provider within its freshness window is refused.

Every failure is a verdict with a stable reason (:data:`VERDICT_REASONS`), never an error.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import structlog
from cryptography import x509
from django.conf import settings
from django.utils import timezone

from ca.authority import ca_keys, serial_hex
from ca.models import Certificate
from ca.selectors import (
    certificate_in_repository,
    certificate_x509,
    crl_latest,
    external_crl_of,
)
from ca.trust import trusted_roots
from core.fetch import AllowedHostsError, FetchError, url_fetch_configured
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
        # media type, too large; or our own repository has no certificate with that id.
        "x5u-fetch-failed",
        # What came back is not a certificate chain (PEM or DER), or holds too many certificates.
        "x5u-invalid",
    }
)
# A certificate of this CA whose provider is deactivated: valid in every other way, and valid
# again once the provider is reactivated (nothing is revoked or re-issued).
SUSPENDED: Final = "suspended"
# Every reason a verdict can give; ``resolution.protocol.passport.REASONS`` says what its own mean.
VERDICT_REASONS: Final = REASONS | X5U_REASONS | {"replayed", SUSPENDED}

# Media types an x5u may be served as: a PEM chain (RFC 8555 §9.1), PEM under its common
# unregistered name, or one DER certificate (RFC 2585 §4.1).
X5U_MEDIA_TYPES: Final = (
    "application/pem-certificate-chain",
    "application/x-pem-file",
    "application/pkix-cert",
)
X5U_MAX_BYTES: Final = 64 * 1024
# A leaf, the intermediates path validation accepts, and a root sent along anyway.
X5U_MAX_CERTIFICATES: Final = MAX_INTERMEDIATES + 2
X5U_CACHE_ENTRIES: Final = 1024

_FETCH_NOT_ALLOWED: Final = frozenset(
    {"url", "scheme", "userinfo", "port", "host-not-allowed", "address-not-permitted"}
)
# Failures that say the host is down or slow, not that this one URL is wrong: remembered for
# every URL on the host, or a signer could name a new path on it for each PASSporT.
_FETCH_HOST_FAILURES: Final = frozenset({"timeout", "connect", "tls"})


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


@dataclass(frozen=True)
class _CachedFailure:
    error: X5uError
    expires: float  # time.monotonic()


@dataclass
class _Flight:
    """A fetch in progress; concurrent checks of the same URL wait for its outcome."""

    done: threading.Event = field(default_factory=threading.Event)
    chain: tuple[x509.Certificate, ...] | None = None
    error: X5uError | None = None


_chains: OrderedDict[str, _CachedChain] = OrderedDict()
_failures: OrderedDict[str, _CachedFailure] = OrderedDict()
_flights: dict[str, _Flight] = {}
_chains_lock = threading.Lock()


def x5u_cache_clear() -> None:
    """Forget every fetched chain and failure (tests; an operator changing the allow-list
    restarts)."""
    with _chains_lock:
        _chains.clear()
        _failures.clear()


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


def _failure_cached(*keys: str) -> X5uError | None:
    with _chains_lock:
        for key in keys:
            entry = _failures.get(key)
            if entry is None:
                continue
            if entry.expires <= time.monotonic():
                del _failures[key]
                continue
            return entry.error
    return None


def _failure_keep(key: str, error: X5uError) -> None:
    lifetime = settings.RS_X5U_FAILURE_CACHE_SECONDS
    if lifetime <= 0:
        return
    with _chains_lock:
        _failures[key] = _CachedFailure(error=error, expires=time.monotonic() + lifetime)
        _failures.move_to_end(key)
        while len(_failures) > X5U_CACHE_ENTRIES:
            _failures.popitem(last=False)


def _host_key(url: str) -> str:
    """What the failures of a whole host are remembered under: its scheme and authority."""
    return "host:" + urlsplit(url).netloc.lower()


def _repository_id(url: str) -> str | None:
    """The id when ``url`` names a certificate in our own repository (Certificate.x5u)."""
    prefix = f"{settings.RS_PUBLIC_URL}/ca/certs/"
    if not url.startswith(prefix) or not url.endswith(".pem"):
        return None
    return url[len(prefix) : -len(".pem")]


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
    repository_id = _repository_id(url)
    if repository_id is not None:
        # Any URL under our repository is answered here, as GET would answer it: an unknown id,
        # or a serial (which names nothing there), is a chain that cannot be had.
        certificate = certificate_in_repository(repository_id=repository_id)
        if certificate is None:
            raise X5uError("x5u-fetch-failed", "our repository has no certificate with this id")
        return (certificate_x509(certificate), ca_keys().issuing)
    if "?" in url or "#" in url:
        # Hosts ignore what they do not use: a query or fragment would be a new cache key, and
        # a fresh fetch, for the same document. Certificate repositories need neither.
        raise X5uError("x5u-not-allowed", "an x5u with a query or a fragment is not fetched")
    chain = _cached(url)
    if chain is not None:
        return chain
    failure = _failure_cached(url, _host_key(url))
    if failure is not None:
        raise failure
    with _chains_lock:
        flight = _flights.get(url)
        leader = flight is None
        if flight is None:
            flight = _flights[url] = _Flight()
    if not leader:
        # Another check is fetching this URL: wait for it, within this check's own budget.
        if not flight.done.wait(settings.RS_X5U_FETCH_TIMEOUT_SECONDS):
            raise X5uError("x5u-fetch-failed", "a fetch of this x5u did not end in time")
        if flight.chain is not None:
            return flight.chain
        raise flight.error or X5uError("x5u-fetch-failed", "the fetch failed")
    try:
        flight.chain = _x5u_fetch(url)
        return flight.chain
    except X5uError as error:
        flight.error = error
        raise
    finally:
        with _chains_lock:
            del _flights[url]
        flight.done.set()


def _x5u_fetch(url: str) -> tuple[x509.Certificate, ...]:
    """Fetch and parse a chain; keep it, or remember why there is none."""
    try:
        document = url_fetch_configured(
            url,
            allowed_hosts=settings.RS_X5U_ALLOWED_HOSTS,
            max_bytes=X5U_MAX_BYTES,
            timeout=settings.RS_X5U_FETCH_TIMEOUT_SECONDS,
            accept=X5U_MEDIA_TYPES,
        )
    except FetchError as error:
        if error.reason in _FETCH_NOT_ALLOWED:  # refused before any connection: nothing kept
            raise X5uError("x5u-not-allowed", str(error)) from None
        failed = X5uError("x5u-fetch-failed", str(error))
        _failure_keep(_host_key(url) if error.reason in _FETCH_HOST_FAILURES else url, failed)
        raise failed from None
    except AllowedHostsError as error:
        logger.error("RS_X5U_ALLOWED_HOSTS is malformed", error=str(error))
        raise X5uError("x5u-fetch-failed", "the service's allow-list is misconfigured") from None
    try:
        chain = _chain_parse(document.body)
    except X5uError as error:
        _failure_keep(url, error)
        raise
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


def _crls(chain: Sequence[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """Our newest CRL, and when the leaf's issuer is another CA, the kept CRLs signed by the
    key of a CA certificate that may have issued it (the chain's, a trusted root): never one of
    another CA that only shares its name. Path validation then says which is the issuer."""
    leaf = chain[0]
    crls: list[x509.CertificateRevocationList] = []
    ours = crl_latest()
    if ours is not None:  # none before bootstrap or beat signed one: "crl-missing"
        crls.append(x509.load_der_x509_crl(bytes(ours.der)))
    if leaf.issuer != ca_keys().issuing.subject:
        issuers = [*chain[1:], *(root.certificate for root in trusted_roots())]
        for issuer in issuers:
            if issuer.subject == leaf.issuer and (crl := external_crl_of(issuer)) is not None:
                crls.append(crl)
    return crls


def passport_window(passport: Passport) -> int:
    """How long after its ``iat`` a PASSporT is fresh, in seconds: longer for ``ppt`` "msg"."""
    if passport.ppt == PPT_MSG:
        return int(settings.RS_PASSPORT_MSG_FRESHNESS_SECONDS)
    return int(settings.RS_PASSPORT_FRESHNESS_SECONDS)


def passport_verdict(*, token: str, body: bytes | None) -> PassportVerdict:
    """Verify a PASSporT (and the message ``body`` a msg PASSporT protects), replays aside.

    Valid means: the signature verifies with the key of the certificate ``x5u`` names, ``iat``
    is fresh (:func:`passport_window`), the certificate chains to our root or a trusted one, is
    not revoked, its TNAuthList covers ``orig.tn``, and ``msgi`` matches the body; a certificate
    of this CA is ``suspended`` while its provider is inactive. Whether the caller presented it
    before is ``ca.services.passports.passport_check``'s to say.
    """
    try:
        passport = passport_parse(token)
    except PassportError as error:
        return PassportVerdict(reasons=(error.reason,))
    try:
        chain = x5u_chain(passport.x5u)
    except X5uError as error:
        return PassportVerdict(reasons=(error.reason,), passport=passport)
    leaf = chain[0]
    try:
        passport_verify(
            token,
            chain=chain,
            roots=[ca_keys().root, *(root.certificate for root in trusted_roots())],
            at=timezone.now(),
            crls=_crls(chain),
            # Without a current CRL of the issuer, "not revoked" cannot be said.
            crl_required=True,
            freshness=settings.RS_PASSPORT_FRESHNESS_SECONDS,
            msg_freshness=settings.RS_PASSPORT_MSG_FRESHNESS_SECONDS,
            body=body,
        )
    except PassportError as error:
        return PassportVerdict(reasons=(error.reason,), passport=passport, certificate=leaf)
    if _suspended(leaf):
        return PassportVerdict(reasons=(SUSPENDED,), passport=passport, certificate=leaf)
    return PassportVerdict(reasons=(), passport=passport, certificate=leaf)


def _suspended(leaf: x509.Certificate) -> bool:
    """Whether ``leaf`` is a certificate of this CA issued to a provider now inactive."""
    if leaf.issuer != ca_keys().issuing.subject:
        return False  # another CA's: its holder is none of our providers
    return Certificate.objects.filter(
        serial=serial_hex(leaf.serial_number), provider__is_active=False
    ).exists()
