"""Monitoring the log for one number: every certificate, handler and lock change under its
label.

Whoever can receive a number's SMS can get a certificate for it (DESIGN §1), so an SMS
hijacker can too; the log makes that certificate public.  The holder's monitor reads every
entry appended since its last run, picks those under the number's label (DESIGN §4.2), and
reports each certificate issued or revoked and each handler published or removed.  A
certificate whose ``public_key_sha256`` is not the hash of a key the holder made is *foreign*:
someone else holds a certificate for the number.  It stays *outstanding*, run after run, until
the log shows it revoked, it expires, or the holder accepts it (a key of theirs made
elsewhere).

Version-2 entries show only the label, a commitment and (for removals) a reason: what they
record is read from the holder's history (``Client.number_history``), which gives, for each
entry under the label, the content it commits to and the opening.  Each is checked against the
log's own entry: ``commitment(opening, content)`` must be the entry's commitment, the content
of the entry's kind (``content_check``) and about the number.  An entry under the label whose
opening is missing or wrong is itself flagged: the holder cannot tell what it records.  A
handler is flagged too when the certificate that authorised it is not one of the holder's
(a certificate of the log whose key is the holder's, or one the holder accepted): it stays
outstanding until the log shows it removed or replaced by the holder's own.  Version-1 entries
are read from their public fields, as they were written.

The number lock's entries (DESIGN §7.2) are read the same way and reported with their meaning:
a lock or unlock, a certificate ``request`` that a lock holds back and its ``request_closed``
(approved, refused, issued after the wait, or once no lock held it), a ``dispute`` and its
``dispute_closed`` (revoked or dismissed).  A request for a key that is not the holder's is
*pending*, run after run, until the log shows it closed: someone asked for a certificate for
the number, which is issued at its ``issues_at`` unless a locked holder refuses it.  A lock or
a dispute made with a certificate that is not the holder's is flagged as a handler is.

Nothing read is taken on trust.  The entries are hashed onto the compact range of the tree
the last run ended with (``CompactRange``) and must give the root of the new signed
checkpoint: that proves both that they are the log's entries and that the log only grew
since (RFC 6962 §2.1), without any proof from the server.  The first run reads the log from
its first entry, since a hijack may predate it.

Entries that may name the label are parsed strictly (``resolution.protocol.entries``:
canonical JSON of a known version, each known kind of its own shape); the others are only
hashed.  An entry can only hide a label from the quick byte search with ``\\u`` escapes, which
canonical JSON forbids, so such entries are parsed too.

This module makes no network call: ``monitor_log`` is given a function that fetches entry
bundles (``resolution.client.Client.log_entry_bundle``), and the history (or a function that
fetches it).

Public API: ``MonitorError``, ``LogChange``, ``ForeignCertificate``, ``IntruderHandler``,
``PendingRequest``, ``MonitorState``, ``MonitorReport``, ``entry_change``, ``monitor_log``;
``CompactRange`` is ``resolution.protocol.merkle``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from resolution.client.api import HistoryEntry, NumberHistory
from resolution.client.parallel import DEFAULT_WORKERS, ordered_map
from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.checkpoint import Checkpoint
from resolution.protocol.entries import (
    AdvertisementEntry,
    CertificateEntry,
    EntryError,
    EntryField,
    EntryKind,
    EntryVersionError,
    HandlerEntry,
    HandlerRemovedEntry,
    OpaqueEntry,
    PrivateEntry,
    RevocationEntry,
    commitment,
    content_check,
    entry_from_record,
)
from resolution.protocol.merkle import CompactRange, leaf_hash
from resolution.protocol.tiles import TILE_WIDTH, tile_width

STATE_FORMAT: Final = "rs-monitor-state/1"

BundleFetcher = Callable[[int, int], list[bytes]]
"""``fetch(index, width)``: the first ``width`` entries of entry bundle ``index``."""

ProgressCallback = Callable[[int, int], object]
"""Called as ``progress(entries_done, entries_total)``."""

HistorySource = NumberHistory | Callable[[], NumberHistory]
"""The holder's history of the number, or a function that fetches it."""


class MonitorError(Exception):
    """The log could not be monitored: it is inconsistent, or the state file is damaged."""


@dataclass(frozen=True)
class LogChange:
    """One entry under the number's label.

    ``kind`` is the entry's kind (``certificate``, ``revocation``, ``handler``,
    ``handler_removed``, the number lock's ``lock``, ``unlock``, ``request``,
    ``request_closed``, ``dispute``, ``dispute_closed``, or one this monitor does not know);
    the other fields are those the kind carries (``certificate``: the serial of the certificate
    that authorised a handler, known from version 2 on; ``serial``: the certificate that made
    a lock, unlock or dispute; ``request``, ``dispute``: their ids; ``disputed``: the disputed
    serial).  ``foreign`` is set on a certificate or request whose key is not one of the
    holder's, ``intruder`` on a handler, lock or dispute made with a certificate not the
    holder's, and ``unopened`` says why a version-2 entry's content could not be read.
    """

    index: int
    kind: str
    provider: str | None = None
    serial: str | None = None
    service: str | None = None
    reason: str | None = None
    not_after: str | None = None
    public_key_sha256: bytes | None = None
    certificate: str | None = None
    request: str | None = None
    issues_at: str | None = None
    dispute: str | None = None
    disputed: str | None = None
    foreign: bool = False
    intruder: bool = False
    unopened: str | None = None

    @property
    def flagged(self) -> bool:
        """The change is one the holder did not make, or cannot read."""
        return self.foreign or self.intruder or self.unopened is not None

    def describe(self) -> str:
        """One line for people."""
        by = f" by {self.provider}" if self.provider else ""
        if self.unopened is not None:
            return f"{self.kind} entry UNREADABLE: {self.unopened}"
        if self.kind == EntryKind.HANDLER and self.certificate is not None:
            whose = "NOT YOUR CERTIFICATE" if self.intruder else "your certificate"
            return (
                f"handler {self.service}{by} published or replaced, "
                f"authorised by certificate {self.certificate} ({whose})"
            )
        if self.kind == EntryKind.CERTIFICATE:
            key = "FOREIGN KEY" if self.foreign else "own key"
            return f"certificate {self.serial} issued{by}, until {self.not_after} ({key})"
        if self.kind == EntryKind.REVOCATION:
            return f"certificate {self.serial} revoked{by} ({self.reason or 'no reason'})"
        if self.kind == EntryKind.HANDLER:
            return f"handler {self.service}{by} published or replaced"
        if self.kind == EntryKind.HANDLER_REMOVED:
            return f"handler {self.service}{by} removed ({self.reason or 'no reason'})"
        whose = " (NOT YOUR CERTIFICATE)" if self.intruder else ""
        if self.kind == EntryKind.LOCK:
            return (
                f"number locked{by} with certificate {self.serial}{whose}: a certificate to "
                f"another key now waits for a locked holder's answer"
            )
        if self.kind == EntryKind.UNLOCK:
            return f"number unlocked{by}: certificate {self.serial}'s lock lifted"
        if self.kind == EntryKind.REQUEST:
            key = "FOREIGN KEY" if self.foreign else "own key"
            return (
                f"certificate requested{by} ({key}), held back by the number's lock: request "
                f"{self.request}, issued at {self.issues_at} unless a locked holder answers"
            )
        if self.kind == EntryKind.REQUEST_CLOSED:
            meaning = _REQUEST_CLOSED.get(self.reason or "", f"closed ({self.reason})")
            return f"request {self.request} {meaning}"
        if self.kind == EntryKind.DISPUTE:
            return (
                f"certificate {self.disputed} disputed{by} with certificate {self.serial}"
                f"{whose}: dispute {self.dispute} is on the operator's queue"
            )
        if self.kind == EntryKind.DISPUTE_CLOSED:
            meaning = _DISPUTE_CLOSED.get(self.reason or "", f"closed ({self.reason})")
            return f"dispute {self.dispute} of certificate {self.disputed} {meaning}"
        return f"entry of kind {self.kind!r}{by}"


# What a closed request's or dispute's public reason means.
_REQUEST_CLOSED: Final = {
    "approved": "approved by a locked holder: its certificate is issued",
    "refused": "refused by a locked holder: no certificate is issued",
    "waited": "issued after its wait: no locked holder answered",
    "unlocked": "issued: no lock held it back any more",
}
_DISPUTE_CLOSED: Final = {
    "revoked": "closed: the operator revoked the certificate",
    "dismissed": "closed: the operator dismissed the dispute (the certificate stays valid)",
}


@dataclass(frozen=True)
class ForeignCertificate:
    """A certificate for the number whose key is not the holder's, not yet resolved."""

    serial: str
    index: int
    provider: str
    not_after: str
    public_key_sha256: str  # hex


@dataclass(frozen=True)
class IntruderHandler:
    """A handler of the number that a certificate not the holder's authorised, not yet removed
    (nor replaced by the holder's own) in the log."""

    index: int
    provider: str
    service: str
    certificate: str  # the serial that authorised it


@dataclass(frozen=True)
class PendingRequest:
    """A certificate request for the number, for a key that is not the holder's, that a lock
    holds back and that the log does not show closed yet."""

    request: str
    index: int
    provider: str
    issues_at: str
    public_key_sha256: str  # hex


@dataclass(frozen=True)
class MonitorState:
    """Where the last run stopped: the checkpoint it verified and the compact range of its
    tree, the foreign certificates and intruders' handlers still outstanding, the accepted
    certificates, and the serials of the holder's own certificates seen in the log (handlers
    they authorise are the holder's), and the requests for other keys still pending."""

    origin: str
    label: bytes
    size: int
    root_hash: bytes
    compact: tuple[bytes, ...]
    checkpoint: str
    outstanding: tuple[ForeignCertificate, ...] = ()
    accepted: frozenset[str] = field(default_factory=frozenset)
    own_serials: frozenset[str] = field(default_factory=frozenset)
    intruders: tuple[IntruderHandler, ...] = ()
    requests: tuple[PendingRequest, ...] = ()

    def to_json(self) -> bytes:
        state = {
            "format": STATE_FORMAT,
            "origin": self.origin,
            "label": self.label.hex(),
            "size": self.size,
            "root_hash": _b64(self.root_hash),
            "compact": [_b64(h) for h in self.compact],
            "checkpoint": self.checkpoint,
            "outstanding": [
                {
                    "serial": f.serial,
                    "index": f.index,
                    "provider": f.provider,
                    "not_after": f.not_after,
                    "public_key_sha256": f.public_key_sha256,
                }
                for f in self.outstanding
            ],
            "accepted": sorted(self.accepted),
            "own_serials": sorted(self.own_serials),
            "intruders": [asdict(h) for h in self.intruders],
            "requests": [asdict(r) for r in self.requests],
        }
        return (json.dumps(state, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> MonitorState:
        """Read a state file; ``MonitorError`` if it is not one, or does not add up."""
        try:
            state = json.loads(data)
            if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
                raise MonitorError(f"not an {STATE_FORMAT} object")
            size = state["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise MonitorError("its size is not a tree size")
            compact = tuple(base64.b64decode(h, validate=True) for h in state["compact"])
            root = base64.b64decode(state["root_hash"], validate=True)
            if CompactRange(size, compact).root() != root:
                raise MonitorError("its compact range does not hash to its root")
            outstanding = tuple(
                ForeignCertificate(
                    serial=str(f["serial"]),
                    index=int(f["index"]),
                    provider=str(f["provider"]),
                    not_after=str(f["not_after"]),
                    public_key_sha256=str(f["public_key_sha256"]),
                )
                for f in state["outstanding"]
            )
            return cls(
                origin=str(state["origin"]),
                label=bytes.fromhex(state["label"]),
                size=size,
                root_hash=root,
                compact=compact,
                checkpoint=str(state["checkpoint"]),
                outstanding=outstanding,
                accepted=frozenset(str(s) for s in state["accepted"]),
                # Absent from the states of runs before version-2 entries.
                own_serials=frozenset(str(s) for s in state.get("own_serials", ())),
                intruders=tuple(
                    IntruderHandler(
                        index=int(h["index"]),
                        provider=str(h["provider"]),
                        service=str(h["service"]),
                        certificate=str(h["certificate"]),
                    )
                    for h in state.get("intruders", ())
                ),
                # Absent from the states of runs before the number lock.
                requests=tuple(
                    PendingRequest(
                        request=str(r["request"]),
                        index=int(r["index"]),
                        provider=str(r["provider"]),
                        issues_at=str(r["issues_at"]),
                        public_key_sha256=str(r["public_key_sha256"]),
                    )
                    for r in state.get("requests", ())
                ),
            )
        except MonitorError as exc:
            raise MonitorError(f"the monitor state is damaged: {exc}") from None
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise MonitorError(f"the monitor state is damaged: {exc!r}") from None


@dataclass(frozen=True)
class MonitorReport:
    """What a run found: the changes in ``[previous_size, size)``, and the foreign
    certificates, intruders' handlers and pending requests for other keys outstanding after
    it.  ``state`` is what the next run starts from."""

    previous_size: int
    size: int
    changes: tuple[LogChange, ...]
    outstanding: tuple[ForeignCertificate, ...]
    state: MonitorState
    intruders: tuple[IntruderHandler, ...] = ()
    requests: tuple[PendingRequest, ...] = ()

    @property
    def flagged(self) -> bool:
        """Someone else holds, or held during this run, a certificate for the number, or a
        handler of it the holder did not authorise, or asks for a certificate that a lock
        holds back; or an entry of this run cannot be read."""
        return (
            bool(self.outstanding)
            or bool(self.intruders)
            or bool(self.requests)
            or any(c.flagged for c in self.changes)
        )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) else None


def entry_change(
    index: int,
    entry: bytes,
    label: bytes,
    own_keys: Collection[bytes],
    openings: Mapping[int, HistoryEntry] | None = None,
    number: str | None = None,
) -> LogChange | None:
    """The change entry ``index`` records for the number of ``label``, or ``None`` if it is
    about another number.  ``own_keys`` are the SHA-256 of the holder's public keys
    (``store.public_key_sha256``); a version-2 entry is read from its opening in
    ``openings`` (the history's entries by index), which must open it for ``number``.
    Raises ``MonitorError`` for an entry that may name the label but is not canonical JSON of
    a known version, or not of its kind's shape (``resolution.protocol.entries``)."""
    label_hex = label.hex().encode("ascii")
    if label_hex not in entry and b"\\u" not in entry:
        return None  # the fast path: canonical JSON would spell the label out
    try:
        record = parse_canonical(entry)
    except CanonicalJSONError as exc:
        raise MonitorError(f"entry {index} is not canonical JSON: {exc}") from None
    if record.get(EntryField.LABEL.value) != label_hex.decode("ascii"):
        return None
    try:
        parsed = entry_from_record(record)
    except EntryVersionError as exc:
        raise MonitorError(
            f"entry {index} names the number but has version {exc.version!r}"
        ) from None
    except EntryError as exc:
        raise MonitorError(f"entry {index} names the number but is malformed: {exc}") from None
    match parsed:
        case PrivateEntry():
            return _opened_change(index, entry, parsed, own_keys, openings, number)
        case CertificateEntry():
            key_hash = bytes.fromhex(parsed.public_key_sha256)
            return LogChange(
                index=index,
                kind=parsed.kind.value,
                provider=parsed.provider,
                serial=parsed.serial,
                not_after=parsed.not_after,
                public_key_sha256=key_hash,
                foreign=key_hash not in own_keys,
            )
        case RevocationEntry():
            return LogChange(
                index=index,
                kind=parsed.kind.value,
                provider=parsed.provider,
                serial=parsed.serial,
                reason=parsed.reason,
            )
        case HandlerEntry():
            return LogChange(
                index=index,
                kind=parsed.kind.value,
                provider=parsed.provider,
                service=parsed.service,
            )
        case HandlerRemovedEntry():
            return LogChange(
                index=index,
                kind=parsed.kind.value,
                provider=parsed.provider,
                service=parsed.service,
                reason=parsed.reason,
            )
        case AdvertisementEntry():  # pragma: no cover - it names no label: skipped above
            return None
        case OpaqueEntry():
            # A kind added after this monitor: reported with what it seems to carry.
            return LogChange(
                index=index,
                kind=parsed.kind,
                provider=_optional_str(parsed.fields, EntryField.PROVIDER),
                serial=_optional_str(parsed.fields, EntryField.SERIAL),
                service=_optional_str(parsed.fields, EntryField.SERVICE),
                reason=_optional_str(parsed.fields, EntryField.REASON),
                not_after=_optional_str(parsed.fields, EntryField.NOT_AFTER),
            )


def _opened_change(
    index: int,
    entry: bytes,
    parsed: PrivateEntry,
    own_keys: Collection[bytes],
    openings: Mapping[int, HistoryEntry] | None,
    number: str | None,
) -> LogChange:
    """The change a version-2 entry records, read from its opening once checked."""
    kind = parsed.kind
    opened = (openings or {}).get(index)
    content = None if opened is None else opened.content
    if opened is None or opened.opening is None or content is None:
        return LogChange(
            index=index,
            kind=kind.value,
            reason=parsed.reason,
            unopened="the history has no opening",
        )
    try:
        content_check(kind, content)
        matches = commitment(opened.opening, content).hex() == parsed.commitment
    except (EntryError, ValueError) as exc:  # CanonicalJSONError is a ValueError
        return LogChange(
            index=index, kind=kind.value, reason=parsed.reason, unopened=f"its content: {exc}"
        )
    problem = (
        "the history gives other bytes than the log's"
        if opened.entry != entry
        else "the opening does not open its commitment"
        if not matches
        else "the content is about another number"
        if content["number"] != number
        else None
    )
    if problem is not None:
        return LogChange(index=index, kind=kind.value, reason=parsed.reason, unopened=problem)
    # A certificate or a request names the key it is for: is it one made here? Other kinds
    # name what they carry; request_closed and dispute_closed name no provider.
    key_hex = content.get("public_key_sha256")
    key_hash = bytes.fromhex(key_hex) if key_hex is not None else None
    return LogChange(
        index=index,
        kind=kind.value,
        provider=content.get("provider"),
        serial=content.get("serial"),
        service=content.get("service"),
        reason=parsed.reason,
        not_after=content.get("not_after"),
        public_key_sha256=key_hash,
        certificate=content.get("certificate"),
        request=content.get("request"),
        issues_at=content.get("issues_at"),
        dispute=content.get("dispute"),
        disputed=content.get("disputed"),
        foreign=key_hash is not None and key_hash not in own_keys,
    )


def _history_openings(
    history: HistorySource | None, label: bytes, number: str | None
) -> dict[int, HistoryEntry]:
    if history is None:
        return {}
    if callable(history):
        history = history()
    if history.label != label or (number is not None and history.number != number):
        raise MonitorError("the history the service gave is about another number")
    # Entries not sequenced yet are in no checkpoint: the next run reads them.
    return {row.index: row for row in history.entries if row.index is not None}


def _still_valid(foreign: ForeignCertificate, now: datetime) -> bool:
    try:
        not_after = datetime.fromisoformat(foreign.not_after)
    except ValueError:
        return True  # unreadable: keep it, rather than drop an alarm
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=UTC)
    return not_after > now


def monitor_log(
    *,
    checkpoint: Checkpoint,
    note: bytes,
    label: bytes,
    own_keys: Collection[bytes],
    fetch: BundleFetcher,
    previous: MonitorState | None = None,
    accept: Iterable[str] = (),
    workers: int = DEFAULT_WORKERS,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    number: str | None = None,
    history: HistorySource | None = None,
    own_serials: Iterable[str] = (),
) -> MonitorReport:
    """Scan the entries appended since ``previous`` (all of them without it) up to the
    verified ``checkpoint`` (whose signed ``note`` is kept), for changes under ``label``.

    ``history`` (``Client.number_history`` of ``number``, or a function that fetches it)
    opens the version-2 entries; without it, each one under the label is flagged as
    unreadable.  ``accept`` adds serials of foreign certificates the holder vouches for,
    which count as the holder's own for the handlers they authorise; ``own_serials`` are
    serials known to be the holder's besides those the log shows with its keys (the one
    stored with its key: a state from before version-2 entries remembers none).  Raises
    ``MonitorError`` when the entries do not hash to the checkpoint's root (the log changed
    its history or serves other entries), the tree shrank, or an entry under the label is
    malformed.  ``fetch`` is called from ``workers`` threads.
    """
    now = now or datetime.now(UTC)
    if previous is not None:
        if previous.origin != checkpoint.origin:
            raise MonitorError(
                f"the monitor state is for log {previous.origin!r}, not {checkpoint.origin!r}"
            )
        if previous.label != label:
            raise MonitorError("the monitor state is for another label")
        if checkpoint.size < previous.size:
            raise MonitorError(
                f"the log shrank from {previous.size} entries (last run) to {checkpoint.size}"
            )
        if checkpoint.size == previous.size and checkpoint.root_hash != previous.root_hash:
            raise MonitorError(
                f"the log signed another root for size {checkpoint.size} than at the last run"
            )
        tree = CompactRange(previous.size, previous.compact)
    else:
        tree = CompactRange()
    start, size = tree.size, checkpoint.size
    accepted = set(previous.accepted if previous else ()) | set(accept)
    outstanding = {f.serial: f for f in (previous.outstanding if previous else ())}
    requests = {r.request: r for r in (previous.requests if previous else ())}
    openings = _history_openings(history, label, number)
    changes: list[LogChange] = []

    def one(index: int) -> tuple[int, list[bytes]]:
        return index, fetch(index, tile_width(0, index, size))

    if size > start:
        bundles = range(start // TILE_WIDTH, (size - 1) // TILE_WIDTH + 1)
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="rs-monitor") as pool:
            for index, entries in ordered_map(pool, one, bundles, 2 * max(1, workers)):
                first = index * TILE_WIDTH
                for offset, entry in enumerate(entries):
                    position = first + offset
                    if position < start:
                        continue  # hashed into the compact range by an earlier run
                    tree.append(leaf_hash(entry))
                    change = entry_change(position, entry, label, own_keys, openings, number)
                    if change is not None:
                        changes.append(change)
                if progress is not None:
                    progress(min(size, first + TILE_WIDTH) - start, size - start)
    if tree.size != size or tree.root() != checkpoint.root_hash:
        raise MonitorError(
            f"the log's entries {start}-{size - 1} do not hash to the root of its signed "
            f"checkpoint of size {size}: it serves other entries than it signed, or rewrote "
            f"history since the last run"
        )

    for change in changes:
        if (
            change.kind == EntryKind.CERTIFICATE
            and change.foreign
            and change.serial not in accepted
        ):
            assert change.serial is not None and change.public_key_sha256 is not None
            outstanding[change.serial] = ForeignCertificate(
                serial=change.serial,
                index=change.index,
                provider=change.provider or "",
                not_after=change.not_after or "",
                public_key_sha256=change.public_key_sha256.hex(),
            )
        elif change.kind == EntryKind.REVOCATION and change.serial is not None:
            outstanding.pop(change.serial, None)
        elif change.kind == EntryKind.REQUEST and change.foreign and change.request is not None:
            assert change.public_key_sha256 is not None
            requests[change.request] = PendingRequest(
                request=change.request,
                index=change.index,
                provider=change.provider or "",
                issues_at=change.issues_at or "",
                public_key_sha256=change.public_key_sha256.hex(),
            )
        elif change.kind == EntryKind.REQUEST_CLOSED and change.request is not None:
            requests.pop(change.request, None)
    for serial in accepted:
        outstanding.pop(serial, None)
    remaining = tuple(f for f in outstanding.values() if _still_valid(f, now))
    own_serials = (
        set(own_serials)
        | set(previous.own_serials if previous else ())
        | {
            c.serial
            for c in changes
            if c.kind == EntryKind.CERTIFICATE and c.serial is not None and not c.foreign
        }
    )
    owned = own_serials | accepted
    changes = [
        replace(c, intruder=True) if _signer(c) not in (None, *owned) else c for c in changes
    ]
    intruders = _intruders_after(previous.intruders if previous else (), changes, owned)
    state = MonitorState(
        origin=checkpoint.origin,
        label=label,
        size=size,
        root_hash=checkpoint.root_hash,
        compact=tuple(tree.hashes),
        checkpoint=note.decode("utf-8"),
        outstanding=remaining,
        accepted=frozenset(accepted),
        own_serials=frozenset(own_serials),
        intruders=intruders,
        requests=tuple(requests.values()),
    )
    # Changes to accepted certificates are reported, but not flagged.
    shown = tuple(
        replace(c, foreign=False) if c.foreign and c.serial in accepted else c for c in changes
    )
    return MonitorReport(
        previous_size=start,
        size=size,
        changes=shown,
        outstanding=remaining,
        state=state,
        intruders=intruders,
        requests=state.requests,
    )


def _signer(change: LogChange) -> str | None:
    """The serial of the certificate whose key made a change: a handler's, a lock's or a
    dispute's (an unlock only lifts a lock, and is not flagged)."""
    if change.kind == EntryKind.HANDLER:
        return change.certificate
    if change.kind in (EntryKind.LOCK, EntryKind.DISPUTE):
        return change.serial
    return None


def _intruders_after(
    before: Iterable[IntruderHandler], changes: Iterable[LogChange], owned: Collection[str]
) -> tuple[IntruderHandler, ...]:
    """The intruders' handlers still in place after ``changes``: a handler is one per provider
    and service, so a removal, or a handler the holder authorised, replaces it."""
    current = {(h.provider, h.service): h for h in before}
    for change in changes:
        if change.provider is None or change.service is None:
            continue
        key = (change.provider, change.service)
        if change.kind == EntryKind.HANDLER and change.intruder:
            assert change.certificate is not None
            current[key] = IntruderHandler(
                index=change.index,
                provider=change.provider,
                service=change.service,
                certificate=change.certificate,
            )
        elif change.kind in (EntryKind.HANDLER, EntryKind.HANDLER_REMOVED):
            current.pop(key, None)
    return tuple(h for h in current.values() if h.certificate not in owned)
