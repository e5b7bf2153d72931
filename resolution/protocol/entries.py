"""The log's entry format: version, kinds, each kind's fields, encoding and parsing (DESIGN §4.2).

An entry is the canonical JSON object of its kind's fields plus ``"v"`` (the format version)
and ``"kind"``, at most ``tiles.MAX_ENTRY_SIZE`` bytes.  Version 1 has four kinds::

    certificate      label, serial, certificate_sha256, public_key_sha256, not_before,
                     not_after, provider
    revocation       label, serial, revoked_at, reason, provider
    handler          label, provider, service, commitment
    handler_removed  label, provider, service, reason

No entry names a phone number: ``label`` is the number's VRF output (hex).  A ``handler``
entry commits to the handler's content with ``handler_commitment``: an HMAC, keyed by a
32-byte random opening, of the canonical JSON of ``COMMITTED_FIELDS`` (``handler_fields``).

Readers must refuse an entry of an unknown version, but not one of an unknown kind: a kind
added later is kept as an ``OpaqueEntry``, so older auditors still check newer logs.

The server writes entries with ``entry_encode`` (any well-formed kind: the log itself does not
judge a payload) from the typed payloads below; readers (auditor, monitor, lookup verifier,
explorer) read them with ``entry_parse``.

Public API: ``ENTRY_VERSION``, ``EntryKind``, ``EntryField``, ``KIND_NAME``, ``FIELDS``,
``COMMITTED_FIELDS``, ``OPENING_SIZE``, ``LABEL_HEX``, ``SERIAL_HEX``, ``RFC3339``,
``EntryError``, ``EntryVersionError``,
``CertificateEntry``, ``RevocationEntry``, ``HandlerEntry``, ``HandlerRemovedEntry``,
``OpaqueEntry``, ``KnownEntry``, ``Entry``, ``entry_version_supported``, ``entry_encode``,
``entry_parse``, ``entry_from_record``, ``handler_committed``, ``handler_fields``,
``handler_commitment``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final

from resolution.protocol.canonical import CanonicalJSONError, canonical_json, parse_canonical
from resolution.protocol.tiles import MAX_ENTRY_SIZE

__all__ = [
    "COMMITTED_FIELDS",
    "ENTRY_VERSION",
    "FIELDS",
    "KIND_NAME",
    "LABEL_HEX",
    "OPENING_SIZE",
    "RFC3339",
    "SERIAL_HEX",
    "CertificateEntry",
    "Entry",
    "EntryError",
    "EntryField",
    "EntryKind",
    "EntryVersionError",
    "HandlerEntry",
    "HandlerRemovedEntry",
    "KnownEntry",
    "OpaqueEntry",
    "RevocationEntry",
    "entry_encode",
    "entry_from_record",
    "entry_parse",
    "entry_version_supported",
    "handler_commitment",
    "handler_committed",
    "handler_fields",
]

ENTRY_VERSION: Final = 1
"""The entry format version (``"v"``) written and understood."""

KIND_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""What a ``kind`` may be: a lowercase identifier of at most 32 characters."""

OPENING_SIZE: Final = 32
"""Size in bytes of a commitment's opening (its HMAC key)."""


class EntryKind(StrEnum):
    """The kinds of entry version 1 defines."""

    CERTIFICATE = "certificate"
    REVOCATION = "revocation"
    HANDLER = "handler"
    HANDLER_REMOVED = "handler_removed"


class EntryField(StrEnum):
    """Every key an entry of version 1 may hold."""

    V = "v"
    KIND = "kind"
    LABEL = "label"
    SERIAL = "serial"
    CERTIFICATE_SHA256 = "certificate_sha256"
    PUBLIC_KEY_SHA256 = "public_key_sha256"
    NOT_BEFORE = "not_before"
    NOT_AFTER = "not_after"
    REVOKED_AT = "revoked_at"
    REASON = "reason"
    PROVIDER = "provider"
    SERVICE = "service"
    COMMITMENT = "commitment"


COMMITTED_FIELDS: Final = frozenset(
    {"certificate", "expires_at", "number", "priority", "provider", "service", "uri"}
)
"""The keys of the object a handler's commitment covers (``handler_fields``)."""


class EntryError(ValueError):
    """An entry the log refuses to write, or a reader refuses to read; the message says why."""


class EntryVersionError(EntryError):
    """An entry of a version this code does not know: readers must refuse it."""

    def __init__(self, version: object, present: bool = True) -> None:
        self.version = version
        shown = _shown_json(version) if present else "missing"
        super().__init__(f"entry has v={shown}, want {ENTRY_VERSION}")


def _shown_json(value: object) -> str:
    try:
        return canonical_json(value).decode()
    except CanonicalJSONError:
        return repr(value)


# --- Each kind's fields ------------------------------------------------------------------------

LABEL_HEX: Final = re.compile(r"[0-9a-f]{128}")
"""A number's label as entries and lookups write it: its 64 bytes in lowercase hex."""

SERIAL_HEX: Final = re.compile(r"[0-9a-f]{1,40}")
"""A certificate serial: lowercase hex, 32 digits from this CA, up to 40 (RFC 5280 §4.1.2.2:
20 octets) from others."""

RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""An RFC 3339 §5.6 date-time; the log writes ``2026-11-23T10:00:00Z``."""

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_FORMS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    EntryField.LABEL: (LABEL_HEX, "128 lowercase hex digits"),
    EntryField.SERIAL: (SERIAL_HEX, "1 to 40 lowercase hex digits"),
    EntryField.CERTIFICATE_SHA256: (_SHA256, "64 lowercase hex digits"),
    EntryField.PUBLIC_KEY_SHA256: (_SHA256, "64 lowercase hex digits"),
    EntryField.COMMITMENT: (_SHA256, "64 lowercase hex digits"),
    EntryField.NOT_BEFORE: (RFC3339, "an RFC 3339 date-time"),
    EntryField.NOT_AFTER: (RFC3339, "an RFC 3339 date-time"),
    EntryField.REVOKED_AT: (RFC3339, "an RFC 3339 date-time"),
}


class _Payload:
    """What the typed payloads share: their fields are checked when made, and encode as is."""

    __slots__ = ()
    kind: ClassVar[EntryKind]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if not isinstance(value, str) or not value:
                shown = "null" if value is None else type(value).__name__
                raise EntryError(f"entry's {field.name} must be a non-empty string, not {shown}")
            form = _FORMS.get(field.name)
            if form is not None and not form[0].fullmatch(value):
                raise EntryError(f"entry's {field.name} is not {form[1]}")

    def payload(self) -> dict[str, str]:
        """The entry's fields, as ``entry_encode`` takes them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CertificateEntry(_Payload):
    """A number certificate was issued (``ca.services.issuance``)."""

    kind: ClassVar[EntryKind] = EntryKind.CERTIFICATE
    label: str
    serial: str
    certificate_sha256: str
    public_key_sha256: str
    not_before: str
    not_after: str
    provider: str


@dataclass(frozen=True, slots=True)
class RevocationEntry(_Payload):
    """A number certificate was revoked; ``reason`` is an RFC 5280 §5.3.1 name."""

    kind: ClassVar[EntryKind] = EntryKind.REVOCATION
    label: str
    serial: str
    revoked_at: str
    reason: str
    provider: str


@dataclass(frozen=True, slots=True)
class HandlerEntry(_Payload):
    """A handler was published or replaced; ``commitment`` is ``handler_commitment``'s, hex."""

    kind: ClassVar[EntryKind] = EntryKind.HANDLER
    label: str
    provider: str
    service: str
    commitment: str


@dataclass(frozen=True, slots=True)
class HandlerRemovedEntry(_Payload):
    """A handler was removed: by its holder, or as its certificate was revoked or expired."""

    kind: ClassVar[EntryKind] = EntryKind.HANDLER_REMOVED
    label: str
    provider: str
    service: str
    reason: str


@dataclass(frozen=True, slots=True)
class OpaqueEntry:
    """An entry of a kind this version does not know: kept, not interpreted."""

    kind: str
    fields: Mapping[str, Any]


KnownEntry = CertificateEntry | RevocationEntry | HandlerEntry | HandlerRemovedEntry
Entry = KnownEntry | OpaqueEntry

_PAYLOADS: Final[Mapping[EntryKind, type[KnownEntry]]] = {
    cls.kind: cls for cls in (CertificateEntry, RevocationEntry, HandlerEntry, HandlerRemovedEntry)
}

FIELDS: Final[Mapping[EntryKind, tuple[EntryField, ...]]] = {
    kind: tuple(EntryField(field.name) for field in dataclasses.fields(cls))
    for kind, cls in _PAYLOADS.items()
}
"""Each kind's fields, besides ``v`` and ``kind``, in the order the writers list them."""

_V: Final = EntryField.V.value
_KIND: Final = EntryField.KIND.value
_HEADER: Final = frozenset({_V, _KIND})
_KEYS: Final[Mapping[EntryKind, frozenset[str]]] = {
    kind: frozenset(field.value for field in fields) | _HEADER for kind, fields in FIELDS.items()
}


# --- Encoding and parsing ----------------------------------------------------------------------


def entry_version_supported(version: object) -> bool:
    """Whether ``version`` (an entry's ``"v"``) is the one this code reads."""
    # type() rather than isinstance: JSON true is not the version 1.
    return type(version) is int and version == ENTRY_VERSION


def entry_encode(*, kind: str, payload: Mapping[str, Any]) -> bytes:
    """The canonical JSON entry for ``payload`` with ``v`` and ``kind`` (DESIGN §4.2).

    Raises ``EntryError`` for a kind that is not a lowercase identifier, a payload that sets
    ``v`` or ``kind`` or has no canonical JSON encoding, or an entry over ``MAX_ENTRY_SIZE``.
    """
    if not KIND_NAME.fullmatch(kind):
        raise EntryError(f"entry kind {kind!r} is not a lowercase identifier")
    if _V in payload or _KIND in payload:
        raise EntryError("'v' and 'kind' are set by the log, not by the payload")
    try:
        data = canonical_json({**payload, _V: ENTRY_VERSION, _KIND: kind})
    except CanonicalJSONError as exc:
        raise EntryError(f"entry has no canonical JSON encoding: {exc}") from None
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry is {len(data)} bytes; the log takes at most {MAX_ENTRY_SIZE}")
    return data


def entry_from_record(record: Mapping[str, Any], *, kind: EntryKind | None = None) -> Entry:
    """The typed entry of a parsed entry object; ``kind``, when given, is the one expected.

    Raises ``EntryVersionError`` for another version than ``ENTRY_VERSION``, and
    ``EntryError`` for a kind that is not a lowercase identifier (or not ``kind``), or an entry
    of a known kind whose keys or values are not that kind's.
    """
    version = record.get(_V)
    if not entry_version_supported(version):
        raise EntryVersionError(version, _V in record)
    found = record.get(_KIND)
    if kind is not None and found != kind:
        raise EntryError(f"entry is of kind {_shown_json(found)}, not {kind.value!r}")
    if not isinstance(found, str) or not KIND_NAME.fullmatch(found):
        raise EntryError(f"entry's kind {_shown_json(found)} is not a lowercase identifier")
    if found not in _PAYLOADS:
        return OpaqueEntry(
            kind=found, fields={key: value for key, value in record.items() if key not in _HEADER}
        )
    known = EntryKind(found)
    if record.keys() != _KEYS[known]:
        raise EntryError(f"entry has the keys {sorted(record)}, want {sorted(_KEYS[known])}")
    return _PAYLOADS[known](**{field.value: record[field] for field in FIELDS[known]})


def entry_parse(data: bytes) -> Entry:
    """The typed entry of ``data``: canonical JSON of a known version (``entry_from_record``).

    Raises ``EntryError`` (``EntryVersionError`` for an unknown version) for anything the log
    would not have written.
    """
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry is {len(data)} bytes; the log takes at most {MAX_ENTRY_SIZE}")
    try:
        record = parse_canonical(data)
    except CanonicalJSONError as exc:
        raise EntryError(f"entry is not a canonical JSON object: {exc}") from None
    return entry_from_record(record)


# --- Handler commitments -----------------------------------------------------------------------


def handler_committed(
    *,
    number: str,
    provider: str,
    service: str,
    uri: str,
    priority: int,
    expires_at: str,
    certificate: str,
) -> dict[str, Any]:
    """Return the object a handler's commitment covers (``COMMITTED_FIELDS``), as the server
    holds a handler: ``expires_at`` in RFC 3339, ``certificate`` the certificate's serial."""
    return {
        "number": number,
        "provider": provider,
        "service": service,
        "uri": uri,
        "priority": priority,
        "expires_at": expires_at,
        "certificate": certificate,
    }


def handler_fields(number: str, handler: Mapping[str, Any]) -> dict[str, Any]:
    """Return the object a handler's commitment covers: six handler fields and the number.

    ``handler`` is a lookup's handler object (or anything with its ``provider``, ``service``,
    ``uri``, ``priority``, ``expires_at`` and ``certificate``; other keys are ignored).  Values
    are taken as they are, so they are committed exactly as the lookup shows them.  Raises
    ``KeyError`` for a missing field.
    """
    return handler_committed(
        number=number,
        provider=handler["provider"],
        service=handler["service"],
        uri=handler["uri"],
        priority=handler["priority"],
        expires_at=handler["expires_at"],
        certificate=handler["certificate"],
    )


def handler_commitment(opening: bytes, fields: Mapping[str, Any]) -> bytes:
    """Return ``HMAC-SHA256(key=opening, msg=canonical_json(fields))`` (DESIGN §4.2).

    ``fields`` must hold exactly ``COMMITTED_FIELDS`` (see ``handler_fields``) and ``opening``
    be 32 bytes; anything else raises ``ValueError``, so that server and client cannot drift
    apart on what a commitment covers.
    """
    if not isinstance(opening, bytes) or len(opening) != OPENING_SIZE:
        raise ValueError(f"a commitment's opening must be {OPENING_SIZE} bytes")
    if set(fields) != COMMITTED_FIELDS:
        raise ValueError(f"a commitment covers exactly the fields {sorted(COMMITTED_FIELDS)}")
    message = canonical_json(dict(fields))
    return hmac.new(opening, message, hashlib.sha256).digest()
