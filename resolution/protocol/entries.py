"""The log's entry format: versions, kinds, each kind's fields, encoding and parsing (DESIGN §4.2).

An entry is the canonical JSON object of its kind's fields plus ``"v"`` (the format version)
and ``"kind"``, at most ``tiles.MAX_ENTRY_SIZE`` bytes.  The server writes version 2; readers
read versions 1 and 2 (``VERSIONS``).

Version 2 (``PrivateEntry``) shows, for every kind, only the number's label and a commitment
to the entry's content, plus the public reason of a ``revocation``, ``handler_removed``,
``request_closed`` or ``dispute_closed``::

    certificate, handler, lock, unlock, request, dispute,
    invitation                                                label, commitment
    revocation, handler_removed, request_closed,
    dispute_closed                                            label, commitment, reason

The commitment is ``commitment(opening, content)``: an HMAC-SHA256, keyed by 32 fresh random
bytes (the opening, which the server keeps), of the canonical JSON of the content, whose
fields are ``CONTENT_FIELDS[kind]`` (``content_check``)::

    certificate      number, provider, serial, certificate_sha256, public_key_sha256,
                     not_before, not_after
    revocation       number, provider, serial, revoked_at
    handler          number, provider, service, uri, priority, expires_at, certificate
    handler_removed  number, provider, service, certificate
    lock             number, provider, serial, locked_at
    unlock           number, provider, serial, unlocked_at
    request          number, provider, request, public_key_sha256, requested_at, issues_at
    request_closed   number, request, closed_at
    dispute          number, provider, serial, disputed, dispute, opened_at
    dispute_closed   number, dispute, disputed, closed_at
    invitation       number, provider, inviter, serial, service, invitation, invited_at

The six before ``invitation`` are the number lock's (DESIGN §7.2): a holder locked or unlocked
its number with the certificate ``serial``; a certificate for the number to another key was
requested, and waits until ``issues_at`` unless a locked holder decides first
(``request_closed``'s reason: ``approved``, ``refused``, ``waited`` or ``unlocked``); a holder
disputed the certificate ``disputed`` and an operator closed the dispute (reason ``revoked`` or
``dismissed``).
An ``invitation`` (DESIGN §7.5) is logged under the invited number's label: the holder of
certificate ``serial`` for ``inviter`` (of ``provider``) had the service send it an SMS inviting
it to publish a handler of ``service``.

One kind names no number and shows its fields in the clear (``PublicEntryKind``), version 2::

    advertisement    advertisement_sha256, issued_at, ranges, url

An ``advertisement`` (DESIGN §7.4) records that this service signed a range advertisement
(``resolution.protocol.advertisements``): the SHA-256 of its compact JWS, when it was signed,
the blocks it names (their TNAuthList values, ascending, separated by one space) and the base
URL it gives them.

Version 1, written before, has the first four kinds with their fields in the clear::

    certificate      label, serial, certificate_sha256, public_key_sha256, not_before,
                     not_after, provider
    revocation       label, serial, revoked_at, reason, provider
    handler          label, provider, service, commitment
    handler_removed  label, provider, service, reason

No entry names a phone number: ``label`` is the number's VRF output (hex).  A version-1
``handler`` entry commits to the handler's content as version 2 does (``handler_commitment``,
of ``COMMITTED_FIELDS``, ``handler_fields``), so a handler's commitment is checked the same
way in either version.

Readers must refuse an entry of an unknown version, but not one of an unknown kind: a kind
added later is kept as an ``OpaqueEntry``, so older auditors still check newer logs.

The server writes entries with ``entry_encode`` (any well-formed kind: the log itself does not
judge a payload) from the typed payloads below; readers (auditor, monitor, lookup verifier,
explorer) read them with ``entry_parse``.

Public API: ``ENTRY_VERSION``, ``VERSIONS``, ``EntryKind``, ``EntryField``, ``KIND_NAME``,
``FIELDS``, ``SHAPES``, ``CONTENT_FIELDS``, ``REASON_KINDS``, ``COMMITTED_FIELDS``,
``OPENING_SIZE``, ``LABEL_HEX``, ``SERIAL_HEX``, ``RFC3339``, ``EntryError``, ``EntryVersionError``,
``CertificateEntry``, ``RevocationEntry``, ``HandlerEntry``, ``HandlerRemovedEntry``,
``PrivateEntry``, ``PublicEntryKind``, ``AdvertisementEntry``, ``OpaqueEntry``, ``KnownEntry``,
``Entry``, ``entry_version_supported``,
``entry_encode``, ``entry_parse``, ``entry_from_record``, ``content_check``, ``commitment``,
``handler_committed``, ``handler_fields``, ``handler_commitment``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final

from resolution.protocol.canonical import CanonicalJSONError, canonical_json, parse_canonical
from resolution.protocol.numbers import E164
from resolution.protocol.tiles import MAX_ENTRY_SIZE

__all__ = [
    "COMMITTED_FIELDS",
    "CONTENT_FIELDS",
    "ENTRY_VERSION",
    "FIELDS",
    "KIND_NAME",
    "LABEL_HEX",
    "OPENING_SIZE",
    "REASON_KINDS",
    "RFC3339",
    "SERIAL_HEX",
    "SHAPES",
    "VERSIONS",
    "AdvertisementEntry",
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
    "PrivateEntry",
    "PublicEntryKind",
    "RevocationEntry",
    "commitment",
    "content_check",
    "entry_encode",
    "entry_from_record",
    "entry_parse",
    "entry_version_supported",
    "handler_commitment",
    "handler_committed",
    "handler_fields",
]

ENTRY_VERSION: Final = 2
"""The entry format version (``"v"``) the server writes."""

VERSIONS: Final = (1, 2)
"""The entry format versions readers understand."""

KIND_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""What a ``kind`` may be: a lowercase identifier of at most 32 characters."""

OPENING_SIZE: Final = 32
"""Size in bytes of a commitment's opening (its HMAC key)."""


class EntryKind(StrEnum):
    """The kinds of entry the log writes: the first four in versions 1 and 2, the rest (the
    number lock's, DESIGN §7.2, and invitations, §7.5) in version 2 only."""

    CERTIFICATE = "certificate"
    REVOCATION = "revocation"
    HANDLER = "handler"
    HANDLER_REMOVED = "handler_removed"
    LOCK = "lock"
    UNLOCK = "unlock"
    REQUEST = "request"
    REQUEST_CLOSED = "request_closed"
    DISPUTE = "dispute"
    DISPUTE_CLOSED = "dispute_closed"
    INVITATION = "invitation"


class PublicEntryKind(StrEnum):
    """The kinds of entry that name no number, their fields in the clear (version 2 only)."""

    ADVERTISEMENT = "advertisement"


class EntryField(StrEnum):
    """Every key an entry of version 1 or 2 may hold."""

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
    ADVERTISEMENT_SHA256 = "advertisement_sha256"
    ISSUED_AT = "issued_at"
    RANGES = "ranges"
    URL = "url"


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
        super().__init__(f"entry has v={shown}, want {_WANTED}")


_WANTED: Final = " or ".join(str(version) for version in VERSIONS)


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
_RANGE_KEY: Final = r"(?:1-[0-9]{1,15}-[1-9][0-9]{0,15}|2-[0-9]{1,15})"
RANGES: Final = re.compile(rf"{_RANGE_KEY}(?: {_RANGE_KEY})*")
"""An advertisement entry's ``ranges``: TNAuthList values separated by one space."""
_BASE_URL: Final = re.compile(r"https?://[!-~]+")
_FORMS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    EntryField.LABEL: (LABEL_HEX, "128 lowercase hex digits"),
    EntryField.SERIAL: (SERIAL_HEX, "1 to 40 lowercase hex digits"),
    EntryField.CERTIFICATE_SHA256: (_SHA256, "64 lowercase hex digits"),
    EntryField.PUBLIC_KEY_SHA256: (_SHA256, "64 lowercase hex digits"),
    EntryField.COMMITMENT: (_SHA256, "64 lowercase hex digits"),
    EntryField.NOT_BEFORE: (RFC3339, "an RFC 3339 date-time"),
    EntryField.NOT_AFTER: (RFC3339, "an RFC 3339 date-time"),
    EntryField.REVOKED_AT: (RFC3339, "an RFC 3339 date-time"),
    EntryField.ADVERTISEMENT_SHA256: (_SHA256, "64 lowercase hex digits"),
    EntryField.ISSUED_AT: (RFC3339, "an RFC 3339 date-time"),
    EntryField.RANGES: (RANGES, "TNAuthList values separated by one space"),
    EntryField.URL: (_BASE_URL, "an http(s) URL"),
}


class _Payload:
    """What the typed version-1 payloads share: their fields are checked when made, and
    encode as is."""

    __slots__ = ()
    version: ClassVar[int] = 1
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


REASON_KINDS: Final = frozenset(
    {
        EntryKind.REVOCATION,
        EntryKind.HANDLER_REMOVED,
        EntryKind.REQUEST_CLOSED,
        EntryKind.DISPUTE_CLOSED,
    }
)
"""The kinds whose version-2 entry shows a public ``reason``."""


@dataclass(frozen=True, slots=True)
class PrivateEntry:
    """A version-2 entry: the number's label and a commitment to the content (hex), and the
    public ``reason`` of a ``revocation`` or ``handler_removed`` (None for other kinds)."""

    version: ClassVar[int] = 2
    kind: EntryKind
    label: str
    commitment: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EntryKind):
            raise EntryError(f"entry kind {self.kind!r} is not one version 2 defines")
        for name, pattern, form in (
            (EntryField.LABEL, LABEL_HEX, "128 lowercase hex digits"),
            (EntryField.COMMITMENT, _SHA256, "64 lowercase hex digits"),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise EntryError(f"entry's {name} is not {form}")
        if self.kind in REASON_KINDS:
            if not isinstance(self.reason, str) or not self.reason:
                raise EntryError(f"a {self.kind.value} entry's reason must be a non-empty string")
        elif self.reason is not None:
            raise EntryError(f"a {self.kind.value} entry has no reason")

    def payload(self) -> dict[str, str]:
        """The entry's fields, as ``entry_encode`` takes them."""
        fields = {EntryField.LABEL.value: self.label, EntryField.COMMITMENT.value: self.commitment}
        if self.reason is not None:
            fields[EntryField.REASON.value] = self.reason
        return fields


@dataclass(frozen=True, slots=True)
class AdvertisementEntry:
    """This service signed a range advertisement (version 2, no number named): the SHA-256
    of its compact JWS, when, the blocks it names (``ranges``) and the URL it gives them."""

    version: ClassVar[int] = 2
    kind: ClassVar[PublicEntryKind] = PublicEntryKind.ADVERTISEMENT
    advertisement_sha256: str
    issued_at: str
    ranges: str
    url: str

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            pattern, form = _FORMS[field.name]
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise EntryError(f"entry's {field.name} is not {form}")

    def payload(self) -> dict[str, str]:
        """The entry's fields, as ``entry_encode`` takes them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class OpaqueEntry:
    """An entry of a kind this version does not know: kept, not interpreted."""

    kind: str
    fields: Mapping[str, Any]


KnownEntry = CertificateEntry | RevocationEntry | HandlerEntry | HandlerRemovedEntry
Entry = KnownEntry | PrivateEntry | AdvertisementEntry | OpaqueEntry

_PAYLOADS: Final[Mapping[EntryKind, type[KnownEntry]]] = {
    cls.kind: cls for cls in (CertificateEntry, RevocationEntry, HandlerEntry, HandlerRemovedEntry)
}

FIELDS: Final[Mapping[EntryKind, tuple[EntryField, ...]]] = {
    kind: tuple(EntryField(field.name) for field in dataclasses.fields(cls))
    for kind, cls in _PAYLOADS.items()
}
"""Each kind's version-1 fields, besides ``v`` and ``kind``, in the order the writers list
them."""

_V: Final = EntryField.V.value
_KIND: Final = EntryField.KIND.value
_HEADER: Final = frozenset({_V, _KIND})
_KEYS: Final[Mapping[EntryKind, frozenset[str]]] = {
    kind: frozenset(field.value for field in fields) | _HEADER for kind, fields in FIELDS.items()
}
_PRIVATE_KEYS: Final[Mapping[EntryKind, frozenset[str]]] = {
    kind: _HEADER
    | {EntryField.LABEL.value, EntryField.COMMITMENT.value}
    | ({EntryField.REASON.value} if kind in REASON_KINDS else set())
    for kind in EntryKind
}

_PUBLIC_KEYS: Final[Mapping[PublicEntryKind, frozenset[str]]] = {
    PublicEntryKind.ADVERTISEMENT: _HEADER
    | {field.name for field in dataclasses.fields(AdvertisementEntry)}
}


_ANY_TEXT: Final = re.compile(r".+", re.DOTALL)
FieldCheck = tuple[str, Callable[[str], object]]

SHAPES: Final[Mapping[tuple[int, str], tuple[frozenset[str], tuple[FieldCheck, ...]]]] = {
    **{
        (1, kind.value): (
            _KEYS[kind],
            tuple(
                (field.value, _FORMS.get(field, (_ANY_TEXT, ""))[0].fullmatch)
                for field in FIELDS[kind]
            ),
        )
        for kind in _PAYLOADS
    },
    **{
        (2, kind.value): (
            keys,
            tuple(
                (field, _FORMS.get(field, (_ANY_TEXT, ""))[0].fullmatch)
                for field in sorted(keys - _HEADER)
            ),
        )
        for kind, keys in _PRIVATE_KEYS.items()
    },
    **{
        (2, kind.value): (
            keys,
            tuple((field, _FORMS[field][0].fullmatch) for field in sorted(keys - _HEADER)),
        )
        for kind, keys in _PUBLIC_KEYS.items()
    },
}
"""For each ``(version, kind)`` of a known kind: the entry's keys, and each field with the
match its string value must pass (a non-empty string, of its form).  The same check as
``entry_from_record``'s, in a form a reader of a million entries runs fast."""


# --- Encoding and parsing ----------------------------------------------------------------------


def entry_version_supported(version: object) -> bool:
    """Whether ``version`` (an entry's ``"v"``) is one this code reads (``VERSIONS``)."""
    # type() rather than isinstance: JSON true is not the version 1.
    return type(version) is int and version in VERSIONS


def entry_encode(*, kind: str, payload: Mapping[str, Any], version: int = ENTRY_VERSION) -> bytes:
    """The canonical JSON entry for ``payload`` with ``v`` (``version``) and ``kind``
    (DESIGN §4.2).

    Raises ``EntryError`` for a version not in ``VERSIONS``, a kind that is not a lowercase
    identifier, a payload that sets ``v`` or ``kind`` or has no canonical JSON encoding, or an
    entry over ``MAX_ENTRY_SIZE``.
    """
    if not entry_version_supported(version):
        raise EntryVersionError(version)
    if not KIND_NAME.fullmatch(kind):
        raise EntryError(f"entry kind {kind!r} is not a lowercase identifier")
    if _V in payload or _KIND in payload:
        raise EntryError("'v' and 'kind' are set by the log, not by the payload")
    try:
        data = canonical_json({**payload, _V: version, _KIND: kind})
    except CanonicalJSONError as exc:
        raise EntryError(f"entry has no canonical JSON encoding: {exc}") from None
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry is {len(data)} bytes; the log takes at most {MAX_ENTRY_SIZE}")
    return data


def entry_from_record(record: Mapping[str, Any], *, kind: EntryKind | None = None) -> Entry:
    """The typed entry of a parsed entry object; ``kind``, when given, is the one expected.

    A known kind of version 1 gives its typed payload (``CertificateEntry``...), of version 2
    a ``PrivateEntry`` (an ``AdvertisementEntry`` for ``advertisement``); an unknown kind of
    either version an ``OpaqueEntry``.  Raises ``EntryVersionError`` for a version not in
    ``VERSIONS``, and ``EntryError`` for a kind that is not a lowercase identifier (or not
    ``kind``), or an entry of a known kind whose keys or values are not that kind's in its
    version.
    """
    version = record.get(_V)
    if not entry_version_supported(version):
        raise EntryVersionError(version, _V in record)
    found = record.get(_KIND)
    if kind is not None and found != kind:
        raise EntryError(f"entry is of kind {_shown_json(found)}, not {kind.value!r}")
    if not isinstance(found, str) or not KIND_NAME.fullmatch(found):
        raise EntryError(f"entry's kind {_shown_json(found)} is not a lowercase identifier")
    if version == 2 and found in _PUBLIC_KEYS:
        keys = _PUBLIC_KEYS[PublicEntryKind(found)]
        if record.keys() != keys:
            raise EntryError(f"entry has the keys {sorted(record)}, want {sorted(keys)}")
        return AdvertisementEntry(**{key: record[key] for key in keys - _HEADER})
    if found not in (_PAYLOADS if version == 1 else _PRIVATE_KEYS):
        return OpaqueEntry(
            kind=found, fields={key: value for key, value in record.items() if key not in _HEADER}
        )
    known = EntryKind(found)
    keys = _KEYS[known] if version == 1 else _PRIVATE_KEYS[known]
    if record.keys() != keys:
        raise EntryError(f"entry has the keys {sorted(record)}, want {sorted(keys)}")
    if version == 1:
        return _PAYLOADS[known](**{field.value: record[field] for field in FIELDS[known]})
    return PrivateEntry(
        kind=known,
        label=record[EntryField.LABEL],
        commitment=record[EntryField.COMMITMENT],
        reason=record.get(EntryField.REASON),
    )


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


# --- Commitments -------------------------------------------------------------------------------

CONTENT_FIELDS: Final[Mapping[EntryKind, frozenset[str]]] = {
    EntryKind.CERTIFICATE: frozenset(
        {
            "number",
            "provider",
            "serial",
            "certificate_sha256",
            "public_key_sha256",
            "not_before",
            "not_after",
        }
    ),
    EntryKind.REVOCATION: frozenset({"number", "provider", "serial", "revoked_at"}),
    EntryKind.HANDLER: COMMITTED_FIELDS,
    EntryKind.HANDLER_REMOVED: frozenset({"number", "provider", "service", "certificate"}),
    EntryKind.LOCK: frozenset({"number", "provider", "serial", "locked_at"}),
    EntryKind.UNLOCK: frozenset({"number", "provider", "serial", "unlocked_at"}),
    EntryKind.REQUEST: frozenset(
        {"number", "provider", "request", "public_key_sha256", "requested_at", "issues_at"}
    ),
    EntryKind.REQUEST_CLOSED: frozenset({"number", "request", "closed_at"}),
    EntryKind.DISPUTE: frozenset(
        {"number", "provider", "serial", "disputed", "dispute", "opened_at"}
    ),
    EntryKind.DISPUTE_CLOSED: frozenset({"number", "dispute", "disputed", "closed_at"}),
    EntryKind.INVITATION: frozenset(
        {"number", "provider", "inviter", "serial", "service", "invitation", "invited_at"}
    ),
}
"""The keys of the content a version-2 entry of each kind commits to."""

_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_CONTENT_FORMS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    "number": (E164, "an E.164 number"),
    "serial": (SERIAL_HEX, "1 to 40 lowercase hex digits"),
    "certificate": (SERIAL_HEX, "1 to 40 lowercase hex digits"),
    "certificate_sha256": (_SHA256, "64 lowercase hex digits"),
    "public_key_sha256": (_SHA256, "64 lowercase hex digits"),
    "not_before": (RFC3339, "an RFC 3339 date-time"),
    "not_after": (RFC3339, "an RFC 3339 date-time"),
    "revoked_at": (RFC3339, "an RFC 3339 date-time"),
    "expires_at": (RFC3339, "an RFC 3339 date-time"),
    "locked_at": (RFC3339, "an RFC 3339 date-time"),
    "unlocked_at": (RFC3339, "an RFC 3339 date-time"),
    "requested_at": (RFC3339, "an RFC 3339 date-time"),
    "issues_at": (RFC3339, "an RFC 3339 date-time"),
    "closed_at": (RFC3339, "an RFC 3339 date-time"),
    "opened_at": (RFC3339, "an RFC 3339 date-time"),
    "disputed": (SERIAL_HEX, "1 to 40 lowercase hex digits"),
    "request": (_UUID, "a lowercase UUID"),
    "dispute": (_UUID, "a lowercase UUID"),
    "inviter": (E164, "an E.164 number"),
    "invitation": (_UUID, "a lowercase UUID"),
    "invited_at": (RFC3339, "an RFC 3339 date-time"),
}
_INTEGER_CONTENT: Final = frozenset({"priority"})


def content_check(kind: EntryKind, content: Mapping[str, Any]) -> None:
    """Check that ``content`` is what a version-2 entry of ``kind`` commits to: exactly
    ``CONTENT_FIELDS[kind]``, ``priority`` an integer, every other value a non-empty string
    of its form (E.164 number, hex serial and digests, RFC 3339 date-times).

    Raises ``EntryError`` saying what is wrong.
    """
    if not isinstance(content, Mapping):
        raise EntryError(f"a {kind.value} entry's content must be an object")
    want = CONTENT_FIELDS[kind]
    if content.keys() != want:
        raise EntryError(
            f"a {kind.value} entry's content has the keys {sorted(content)}, want {sorted(want)}"
        )
    for name, value in content.items():
        if name in _INTEGER_CONTENT:
            # type() rather than isinstance: JSON true is not an integer.
            if type(value) is not int:
                raise EntryError(f"content's {name} must be an integer")
            continue
        if not isinstance(value, str) or not value:
            raise EntryError(f"content's {name} must be a non-empty string")
        form = _CONTENT_FORMS.get(name)
        if form is not None and not form[0].fullmatch(value):
            raise EntryError(f"content's {name} is not {form[1]}")


def commitment(opening: bytes, content: Mapping[str, Any]) -> bytes:
    """Return ``HMAC-SHA256(key=opening, msg=canonical_json(content))`` (DESIGN §4.2, §7.1).

    ``opening`` must be 32 bytes (``ValueError`` otherwise); ``content`` any object with a
    canonical JSON encoding (``CanonicalJSONError`` otherwise).
    """
    if not isinstance(opening, bytes) or len(opening) != OPENING_SIZE:
        raise ValueError(f"a commitment's opening must be {OPENING_SIZE} bytes")
    return hmac.new(opening, canonical_json(dict(content)), hashlib.sha256).digest()


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
    """Return a handler's ``commitment(opening, fields)`` (DESIGN §4.2).

    ``fields`` must hold exactly ``COMMITTED_FIELDS`` (see ``handler_fields``) and ``opening``
    be 32 bytes; anything else raises ``ValueError``, so that server and client cannot drift
    apart on what a commitment covers.
    """
    if not isinstance(opening, bytes) or len(opening) != OPENING_SIZE:
        raise ValueError(f"a commitment's opening must be {OPENING_SIZE} bytes")
    if set(fields) != COMMITTED_FIELDS:
        raise ValueError(f"a commitment covers exactly the fields {sorted(COMMITTED_FIELDS)}")
    return commitment(opening, fields)
