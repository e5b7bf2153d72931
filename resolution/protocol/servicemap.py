"""The map of resolution services: every advertisement a service accepted, as one signed
document that apps replicate (DESIGN §7.4).

``GET /v1/map`` answers a compact JWS (ES256) whose header's ``typ`` is ``rs-map+jwt`` and
whose ``x5c`` is the signing service's range certificate (the one its own advertisement is
signed with), over::

    {"iat": 1765000000, "url": "https://rs.example.fr",
     "services": [{"url": "https://rs.example.fr", "root": "<base64 DER>",
                   "advertisement": "<compact JWS>", "blocks": null}, ...]}

one member per service: the signer's own and each peer's whose advertisement it accepted,
each with the root the signer trusts for that service's advertisements and the blocks of that
advertisement it accepts: ``null`` for all of them, else the list (a peer may advertise more
than its operator allowed it: those are left out, and a client follows only the blocks listed).

Trust: a client pins the signing service's CA root on first use (as it pins its log keys), so
the map verifies against that root; each peer's root is the signer's word, and the client pins
it on first use per peer URL, so that a later map or referral that changes a peer's root is
refused, not believed. Every advertisement in the map is checked against its root as a
referral's is (chain, signature, TNAuthList coverage, freshness).

Public API: ``MapError``, ``MapService``, ``ServiceMap``, ``map_sign``, ``map_verify``,
``TYPE``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.protocol.advertisements import (
    Advertisement,
    AdvertisementError,
    Block,
    advertisement_verify,
    block_parse,
    certificates_parse,
)
from resolution.protocol.canonical import canonical_json
from resolution.protocol.certificates import CertificateError, certificate_chain_verify
from resolution.protocol.jose import JoseError, jws_parse, jws_payload_json, jws_sign, jws_verify

TYPE: Final = "rs-map+jwt"
"""The JWS header's ``typ``: a map is no other kind of signed object."""

MAX_AGE: Final = timedelta(days=7)
"""How old a map and the advertisements in it may be (a service signs its own daily, and
accepts its peers' for a week)."""

CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_SIZE: Final = 16 * 1024 * 1024
"""The longest map read: 100 services with 10,000 ranges in all sign to about 1 MB
(bench/RESULTS.md)."""


class MapError(ValueError):
    """A map that is malformed or does not verify; ``str()`` says why."""


@dataclass(frozen=True)
class MapService:
    """One service of the map: its base URL, the root trusted for its advertisements, and
    its advertisement, verified against that root, and the blocks of it the map accepts."""

    url: str
    root: x509.Certificate
    advertisement: Advertisement
    blocks: tuple[Block, ...]

    def serves(self, number: str) -> bool:
        """Whether one of the accepted blocks holds ``number`` (E.164)."""
        return any(block.contains(number) for block in self.blocks)


@dataclass(frozen=True)
class ServiceMap:
    """A verified map: the service that signed it, when, and its services."""

    url: str
    issued_at: datetime
    services: tuple[MapService, ...]
    token: str

    def serving(self, number: str) -> list[MapService]:
        """The services whose advertisement gives their own URL for ``number`` (E.164): one
        normally, several in a conflict, none when the map knows no service for it."""
        return [service for service in self.services if service.serves(number)]


def _der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def map_sign(
    services: Sequence[tuple[str, x509.Certificate, str, list[str] | None]],
    key: ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    url: str,
    issued_at: datetime,
) -> str:
    """The compact JWS of a map of ``services`` (base URL, trusted root, advertisement token,
    the keys of the blocks accepted from it, None for all), signed by ``key``, whose certificate is
    ``chain[0]``, for the service at ``url``."""
    header = {"alg": "ES256", "typ": TYPE, "x5c": [_der(c) for c in chain]}
    payload = {
        "iat": int(issued_at.timestamp()),
        "url": url,
        "services": [
            {"url": service_url, "root": _der(root), "advertisement": token, "blocks": keys}
            for service_url, root, token, keys in services
        ],
    }
    return jws_sign(header, canonical_json(payload), key)


def map_verify(
    token: str,
    roots: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
    max_age: timedelta = MAX_AGE,
) -> ServiceMap:
    """Check a map: signed by a certificate that chains to one of ``roots`` (the signing
    service's CA root, pinned), fresh, and each service's advertisement verifying against the
    root the map gives for it and naming that service's URL. Raises :class:`MapError`."""
    when = at or datetime.now(UTC)
    try:
        parsed = jws_parse(token, max_size=MAX_SIZE)
        payload = jws_payload_json(parsed)
    except JoseError as exc:
        raise MapError(f"not a compact ES256 JWS: {exc}") from None
    if parsed.header.get("typ") != TYPE:
        raise MapError(f"the JWS header's typ is not {TYPE!r}")
    chain = _certificates(parsed.header.get("x5c"), "x5c")
    try:
        certificate_chain_verify(chain[0], chain[1:], roots, at=when)
    except CertificateError as exc:
        raise MapError(f"the signing certificate: {exc}") from None
    public_key = chain[0].public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise MapError("the signing certificate's key is not P-256")
    try:
        jws_verify(parsed, public_key)
    except JoseError as exc:
        raise MapError(f"the signature: {exc}") from None
    issued = payload.get("iat")
    if not isinstance(issued, int) or isinstance(issued, bool):
        raise MapError("iat is not an integer")
    issued_at = datetime.fromtimestamp(issued, UTC)
    if issued_at > when + CLOCK_SKEW:
        raise MapError(f"signed at {issued_at:%Y-%m-%dT%H:%M:%SZ}, ahead of this clock")
    if issued_at < when - max_age:
        raise MapError(f"signed at {issued_at:%Y-%m-%dT%H:%M:%SZ}, more than {max_age} ago")
    url = _url(payload.get("url"), "url")
    items = payload.get("services")
    if not isinstance(items, list):
        raise MapError("services is not a list")
    services = tuple(_service(item, position, when, max_age) for position, item in enumerate(items))
    if len({service.url for service in services}) != len(services):
        raise MapError("a service is named twice")
    return ServiceMap(url=url, issued_at=issued_at, services=services, token=token)


def _service(item: object, position: int, at: datetime, max_age: timedelta) -> MapService:
    where = f"service {position}"
    if not isinstance(item, Mapping):
        raise MapError(f"{where} is not an object")
    url = _url(item.get("url"), f"{where}'s url")
    (root,) = _certificates([item.get("root")], f"{where}'s root")
    token = item.get("advertisement")
    if not isinstance(token, str):
        raise MapError(f"{where} ({url}): the advertisement is not a string")
    try:
        advertisement = advertisement_verify(
            token, [root], at=at, max_age=max_age, https_only=url.startswith("https:")
        )
    except AdvertisementError as exc:
        raise MapError(f"{where} ({url}): the advertisement ({exc.reason}): {exc}") from None
    if any(given != url for given in advertisement.entries.values()):
        raise MapError(f"{where} ({url}): the advertisement gives another URL")
    keys = item.get("blocks")
    if keys is None:
        return MapService(url, root, advertisement, tuple(sorted(advertisement.entries)))
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise MapError(f"{where} ({url}): blocks is not null or a list of strings")
    try:
        blocks = tuple(block_parse(key) for key in keys)
    except AdvertisementError as exc:
        raise MapError(f"{where} ({url}): {exc}") from None
    if not set(blocks) <= set(advertisement.entries):
        raise MapError(f"{where} ({url}): a block accepted is not one its advertisement names")
    return MapService(url=url, root=root, advertisement=advertisement, blocks=blocks)


def _url(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MapError(f"{what} is not a string")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        raise MapError(f"{what} is not a base URL: {value[:200]!r}")
    return value.rstrip("/")


def _certificates(value: object, what: str) -> list[x509.Certificate]:
    try:
        return certificates_parse(value, what)
    except AdvertisementError as exc:
        raise MapError(str(exc)) from None
