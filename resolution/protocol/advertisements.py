"""Range advertisements: which resolution service serves which numbers (DESIGN §7.4).

Several resolution services (RSes) share the numbering plan, each serving its own ranges. An RS
says which with an **advertisement**, in the format of the STIR service-provider out-of-band
draft for its call placement services: a JSON object whose keys are TNAuthList values and whose
values are the HTTPS base URL of the RS that serves them::

    {"1-33612000000-1000000": "https://rs.example.fr", "2-33698765432": "https://rs.example.fr"}

``1-<start>-<count>`` is a range, the ``count`` numbers of ``start``'s length from ``start``
(RFC 8226's ``TelephoneNumberRange``: ``count`` is at least 2); ``2-<number>`` is one number
(RFC 8226's ``one``). Numbers are E.164 digits without "+" (RFC 8224 §8.3).

It is signed as a compact JWS (ES256), the payload being that object with ``iat`` beside the
keys, by a certificate that carries its chain in ``x5c`` (RFC 7515 §4.1.6: base64 DER, the
leaf first) and whose TNAuthList covers every key: a range is covered by one range of the
certificate that holds it whole, or by ``one`` entries for each of its numbers. A verifier
checks the chain to a root it trusts *for those ranges* (a peer's root, configured with the
peer), the signature, the coverage, and the freshness of ``iat``.

Public API: ``AdvertisementError``, ``Block``, ``Advertisement``, ``block_parse``,
``advertisement_sign``, ``advertisement_verify``, ``block_covered``, ``overlaps``,
``certificates_parse``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.protocol.canonical import canonical_json
from resolution.protocol.certificates import CertificateError, certificate_chain_verify
from resolution.protocol.jose import (
    JoseError,
    jws_parse,
    jws_payload_json,
    jws_sign,
    jws_verify,
)
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, TNAuthList, decode_tn_auth_list

TYPE: Final = "rs-advertisement+jwt"
"""The JWS header's ``typ``: an advertisement is no other kind of signed object."""

MAX_NUMBER_LENGTH: Final = 15  # E.164 (ITU-T E.164 §6), and RFC 8226's TelephoneNumber
CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_CHAIN: Final = 4
MAX_SIZE: Final = 1024 * 1024
"""The longest advertisement read: some 15,000 blocks (a block's key and URL take some 60
characters in base64url), far beyond the few hundred a service names."""


class AdvertisementError(ValueError):
    """An advertisement that is malformed, or that does not verify; ``reason`` names which
    check failed (``format``, ``signature``, ``chain``, ``coverage``, ``stale``, ``future``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, order=True)
class Block:
    """``count`` consecutive numbers of ``length`` digits from ``start``: one key."""

    length: int
    start: int
    count: int

    @property
    def end(self) -> int:
        """The last number of the block."""
        return self.start + self.count - 1

    def key(self) -> str:
        """The TNAuthList value that names the block in an advertisement."""
        first = str(self.start).zfill(self.length)
        return f"2-{first}" if self.count == 1 else f"1-{first}-{self.count}"

    def contains(self, number: str) -> bool:
        """Whether ``number`` (digits, or E.164 with "+") is in the block."""
        digits = number.removeprefix("+")
        return (
            len(digits) == self.length
            and digits.isascii()
            and digits.isdigit()
            and self.start <= int(digits) <= self.end
        )


def block_parse(key: str) -> Block:
    """The block a TNAuthList value names (``1-<start>-<count>`` or ``2-<number>``)."""
    kind, _, rest = key.partition("-")
    if kind == "2":
        start, count_text = rest, "1"
    elif kind == "1":
        start, _, count_text = rest.partition("-")
    else:
        raise AdvertisementError("format", f"{key!r} is not '1-<start>-<count>' or '2-<number>'")
    if not (_digits(start) and 1 <= len(start) <= MAX_NUMBER_LENGTH):
        raise AdvertisementError("format", f"{key!r}: {start!r} is not 1 to 15 digits")
    if not _digits(count_text) or count_text.startswith("0"):
        raise AdvertisementError("format", f"{key!r}: the count is not a positive integer")
    count = int(count_text)
    if kind == "1" and count < 2:  # TelephoneNumberRange: count INTEGER (2..MAX)
        raise AdvertisementError("format", f"{key!r}: a range holds at least 2 numbers")
    block = Block(length=len(start), start=int(start), count=count)
    if len(str(block.end)) > block.length:
        raise AdvertisementError("format", f"{key!r} runs past the last {len(start)}-digit number")
    if block.key() != key:
        raise AdvertisementError("format", f"{key!r} is not in its one spelling")
    return block


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def block_covered(tn_auth_list: TNAuthList, block: Block) -> bool:
    """Whether a TNAuthList authorises every number of ``block``: one of its ranges holds the
    block whole, or (a short block) its ``one`` entries name each number."""
    for start, count in tn_auth_list.ranges:
        same_length = _digits(start) and len(start) == block.length
        if same_length and int(start) <= block.start and block.end <= int(start) + count - 1:
            return True
    if block.count > len(tn_auth_list.numbers):
        return False
    ones = set(tn_auth_list.numbers)
    return all(str(n).zfill(block.length) in ones for n in range(block.start, block.end + 1))


def overlaps(a: Block, b: Block) -> bool:
    """Whether two blocks share a number."""
    return a.length == b.length and a.start <= b.end and b.start <= a.end


@dataclass(frozen=True)
class Advertisement:
    """A verified advertisement: its blocks and their URLs, when it was signed, by which
    certificate, and the token itself (to pass on: a referral, the map)."""

    entries: Mapping[Block, str]
    issued_at: datetime
    certificate: x509.Certificate
    token: str

    def url_for(self, number: str) -> str | None:
        """The URL this advertisement gives for ``number``, if it names it."""
        for block, url in self.entries.items():
            if block.contains(number):
                return url
        return None


def advertisement_sign(
    entries: Mapping[str, str],
    key: ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    issued_at: datetime,
    https_only: bool = True,
) -> str:
    """The compact JWS of an advertisement (keys as :func:`block_parse` reads them, values
    base URLs: https, or also http where ``https_only`` is false, as between RSes on loopback
    in a test), signed by ``key``, whose certificate is ``chain[0]`` (its issuers after it)."""
    for name, url in entries.items():
        block_parse(name)
        _check_url(name, url, https_only=https_only)
    if not entries:
        raise AdvertisementError("format", "an advertisement names at least one block")
    header = {
        "alg": "ES256",
        "typ": TYPE,
        "x5c": [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
        ],
    }
    payload = {**entries, "iat": int(issued_at.timestamp())}
    return jws_sign(header, canonical_json(payload), key)


def advertisement_verify(
    token: str,
    roots: Sequence[x509.Certificate],
    *,
    at: datetime,
    max_age: timedelta,
    https_only: bool = True,
) -> Advertisement:
    """Check an advertisement: its form, the chain of its ``x5c`` to one of ``roots`` (those
    trusted for the advertiser's ranges), its signature by the chain's leaf, the leaf's
    TNAuthList covering every key, and ``iat`` at most ``max_age`` before ``at`` (and not in
    the future, within the clock skew). Raises :class:`AdvertisementError`."""
    try:
        parsed = jws_parse(token, max_size=MAX_SIZE)
        payload = jws_payload_json(parsed)
    except JoseError as exc:
        raise AdvertisementError("format", f"not a compact ES256 JWS: {exc}") from None
    if parsed.header.get("typ") != TYPE:
        raise AdvertisementError("format", f"the JWS header's typ is not {TYPE!r}")
    chain = _x5c(parsed.header.get("x5c"))
    try:
        certificate_chain_verify(chain[0], chain[1:], roots, at=at)
    except CertificateError as exc:
        raise AdvertisementError("chain", f"the signing certificate: {exc}") from None
    public_key = chain[0].public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):  # certificate_chain_verify did
        raise AdvertisementError("chain", "the signing certificate's key is not P-256")
    try:
        jws_verify(parsed, public_key)
    except JoseError as exc:
        raise AdvertisementError("signature", f"the signature: {exc}") from None
    issued_at = _issued_at(payload.pop("iat", None), at=at, max_age=max_age)
    entries = _entries(payload, https_only=https_only)
    extension = chain[0].extensions.get_extension_for_oid(x509.ObjectIdentifier(TN_AUTH_LIST_OID))
    tn_auth_list = decode_tn_auth_list(extension.value.value)  # type: ignore[attr-defined]
    for block in entries:
        if not block_covered(tn_auth_list, block):
            raise AdvertisementError(
                "coverage", f"the signing certificate's TNAuthList does not cover {block.key()}"
            )
    return Advertisement(entries=entries, issued_at=issued_at, certificate=chain[0], token=token)


def _x5c(value: object) -> list[x509.Certificate]:
    return certificates_parse(value, "x5c")


def certificates_parse(value: object, what: str) -> list[x509.Certificate]:
    """The certificates of a JOSE ``x5c``-like list (RFC 7515 §4.1.6: base64 DER, at most
    ``MAX_CHAIN``); ``AdvertisementError`` ("format") naming ``what`` otherwise."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHAIN:
        raise AdvertisementError("format", f"{what} is not a list of 1 to {MAX_CHAIN} certificates")
    found = []
    for item in value:
        try:
            der = base64.b64decode(item, validate=True) if isinstance(item, str) else b""
            found.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError):
            raise AdvertisementError("format", f"{what}: not a base64 DER certificate") from None
    return found


def _issued_at(value: object, *, at: datetime, max_age: timedelta) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise AdvertisementError("format", "iat is not an integer")
    issued_at = datetime.fromtimestamp(value, UTC)
    if issued_at > at + CLOCK_SKEW:
        raise AdvertisementError("future", f"signed at {issued_at:%Y-%m-%dT%H:%M:%SZ}, ahead")
    if issued_at < at - max_age:
        raise AdvertisementError(
            "stale", f"signed at {issued_at:%Y-%m-%dT%H:%M:%SZ}, more than {max_age} ago"
        )
    return issued_at


def _entries(payload: Mapping[str, object], *, https_only: bool) -> dict[Block, str]:
    if not payload:
        raise AdvertisementError("format", "an advertisement names at least one block")
    entries: dict[Block, str] = {}
    for name, url in payload.items():
        block = block_parse(name)
        entries[block] = _check_url(name, url, https_only=https_only)
    blocks = sorted(entries)
    for a, b in itertools.pairwise(blocks):
        if overlaps(a, b):
            raise AdvertisementError("format", f"{a.key()} and {b.key()} overlap")
    return entries


def _check_url(name: str, url: object, *, https_only: bool) -> str:
    if not isinstance(url, str):
        raise AdvertisementError("format", f"{name}: the URL is not a string")
    parts = urlsplit(url)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or parts.query or parts.fragment:
        raise AdvertisementError("format", f"{name}: {url!r} is not an {schemes[0]} base URL")
    if parts.username or parts.password:
        raise AdvertisementError("format", f"{name}: {url!r} carries credentials")
    return url.rstrip("/")
