"""What a peer's configuration may be (``federation.models.Peer``): an HTTPS base URL, a root
certificate, and the blocks it may claim. Each parser raises ValueError saying what is wrong;
the model's validators show it in the admin form.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from resolution.protocol.advertisements import AdvertisementError, Block, block_parse, overlaps

_SEPARATORS = re.compile(r"[\s,]+")


def ranges_parse(text: str) -> tuple[Block, ...]:
    """The blocks ``text`` names (separated by commas or spaces), ascending; ValueError for a
    malformed block, none, or two that overlap."""
    try:
        blocks = sorted(block_parse(name) for name in _SEPARATORS.split(text.strip()) if name)
    except AdvertisementError as error:
        raise ValueError(str(error)) from None
    if not blocks:
        raise ValueError("name at least one block")
    for a, b in itertools.pairwise(blocks):
        if overlaps(a, b):
            raise ValueError(f"{a.key()} and {b.key()} overlap")
    return tuple(blocks)


def block_within(block: Block, allowed: tuple[Block, ...]) -> bool:
    """Whether one of the ``allowed`` blocks holds ``block`` whole."""
    return any(
        a.length == block.length and a.start <= block.start and block.end <= a.end for a in allowed
    )


def root_parse(pem: str) -> x509.Certificate:
    """The one CA certificate in ``pem``; ValueError otherwise."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("not a PEM certificate") from None
    if len(certificates) != 1:
        raise ValueError("give one root certificate")
    try:
        constraints = certificates[0].extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise ValueError("not a CA certificate (no BasicConstraints)") from None
    if not constraints.value.ca:
        raise ValueError("not a CA certificate")
    return certificates[0]


def base_url_check(url: str) -> str:
    """``url`` as a peer's base URL (https, a host, an optional port, no path, query,
    fragment or credentials), without a trailing slash; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("an https URL with a host, e.g. https://rs.example.fr")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("no credentials, query or fragment")
    if parts.path not in ("", "/"):
        raise ValueError("a base URL, without a path")
    try:
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    return url.strip().rstrip("/")


def peer_trust(url: str, root_pem: str) -> tuple[str, bytes | str]:
    """What a peer's advertisement is checked against: its base URL and its root (DER, whatever
    the PEM's spacing); as given where they do not parse. An advertisement kept under other ones
    was never checked against these."""
    with contextlib.suppress(ValueError):
        url = base_url_check(url)
    try:
        return url, root_parse(root_pem).public_bytes(serialization.Encoding.DER)
    except ValueError:
        return url, root_pem
