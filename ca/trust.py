"""Roots trusted besides our own CA: number certificates issued elsewhere (DESIGN §4.3).

An operator may accept handler changes signed with number certificates that another CA issued,
for instance a carrier's own STIR CA. Each such root is named in the TOML file that
``RS_TRUSTED_ROOTS_FILE`` points at, with the providers that may use certificates under it and
the CRLs of its CAs::

    [[root]]
    name = "acme"                     # shown in the admin and in logs
    certificate = "acme-root.pem"     # PEM, relative to this file; a self-signed CA
    providers = ["acme"]              # slugs of the providers it speaks for
    crls = ["http://pki.acme.example/issuing.crl"]

Such a certificate is accepted only when it is carried in ``x5c`` (a serial names nothing
across CAs), its path validates to one of these roots (``resolution.protocol.certificates``), the
calling provider is one the root lists, and a current CRL that its issuing CA's key signed,
fetched by ``ca.services.external.external_crls_refresh``, does not list it: without one the
revocation status is unknown and the change is refused. CAs are known by key, not by name
(``ca.selectors.ca_key_sha256``): a CA of another root that gives the same name has no say.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TrustedRootsError(ImproperlyConfigured):
    """The trusted roots file cannot be read or says something that cannot be right."""


@dataclass(frozen=True)
class TrustedRoot:
    name: str
    certificate: x509.Certificate
    providers: frozenset[str]
    crl_urls: tuple[str, ...]


def _root_certificate(path: Path, name: str) -> x509.Certificate:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as error:
        raise TrustedRootsError(f"root {name!r}: cannot read {path}: {error}") from None
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.value.ca:
        raise TrustedRootsError(f"root {name!r}: {path} is not a CA certificate")
    if certificate.issuer != certificate.subject:
        raise TrustedRootsError(f"root {name!r}: {path} is not self-signed: not a root")
    return certificate


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise TrustedRootsError(f"{what} must be a list of non-empty strings")
    return value


def trusted_roots_read(path: Path) -> tuple[TrustedRoot, ...]:
    """The roots a trusted roots file names; raises TrustedRootsError for anything amiss."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TrustedRootsError(f"RS_TRUSTED_ROOTS_FILE {path}: {error}") from None
    unknown = set(document) - {"root"}
    if unknown:
        raise TrustedRootsError(f"{path}: unknown keys {sorted(unknown)}; roots are [[root]]")
    roots: list[TrustedRoot] = []
    for number, entry in enumerate(document.get("root", []), start=1):
        if not isinstance(entry, dict):
            raise TrustedRootsError(f"{path}: root {number} is not a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name or len(name) > 64:
            raise TrustedRootsError(f"{path}: root {number} needs a 'name' of 1 to 64 characters")
        unknown = set(entry) - {"name", "certificate", "providers", "crls"}
        if unknown:
            raise TrustedRootsError(f"root {name!r}: unknown keys {sorted(unknown)}")
        if not isinstance(entry.get("certificate"), str):
            raise TrustedRootsError(f"root {name!r}: 'certificate' must be a PEM file's path")
        providers = _strings(entry.get("providers"), f"root {name!r}: 'providers'")
        crls = _strings(entry.get("crls"), f"root {name!r}: 'crls'")
        if not providers or not crls:
            raise TrustedRootsError(
                f"root {name!r}: name at least one provider and one CRL: without a CRL, "
                "no certificate under it can be shown not to be revoked"
            )
        for url in crls:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise TrustedRootsError(f"root {name!r}: CRL URL {url!r} is not http(s)")
        roots.append(
            TrustedRoot(
                name=name,
                certificate=_root_certificate(path.parent / entry["certificate"], name),
                providers=frozenset(providers),
                crl_urls=tuple(crls),
            )
        )
    names = [root.name for root in roots]
    if len(set(names)) != len(names):
        raise TrustedRootsError(f"{path}: two roots have the same name")
    return tuple(roots)


@functools.cache
def _roots_of(path: str) -> tuple[TrustedRoot, ...]:
    return trusted_roots_read(Path(path)) if path else ()


def trusted_roots() -> tuple[TrustedRoot, ...]:
    """The roots ``RS_TRUSTED_ROOTS_FILE`` names (none by default), read once per process."""
    return _roots_of(settings.RS_TRUSTED_ROOTS_FILE)


def trusted_root_of(certificate: x509.Certificate) -> TrustedRoot | None:
    """The configured root that is ``certificate`` (the end of a validated path), if any."""
    for root in trusted_roots():
        if root.certificate == certificate:
            return root
    return None
