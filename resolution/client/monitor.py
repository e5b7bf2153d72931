"""Monitoring the log for one number: every certificate and handler change under its label.

Whoever can receive a number's SMS can get a certificate for it (DESIGN §1), so an SMS
hijacker can too; the log makes that certificate public.  The holder's monitor reads every
entry appended since its last run, picks those under the number's label (DESIGN §4.2), and
reports each certificate issued or revoked and each handler published or removed.  A
certificate whose ``public_key_sha256`` is not the hash of a key the holder made is *foreign*:
someone else holds a certificate for the number.  It stays *outstanding*, run after run, until
the log shows it revoked, it expires, or the holder accepts it (a key of theirs made
elsewhere).

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
bundles (``resolution.client.Client.log_entry_bundle``).

Public API: ``MonitorError``, ``LogChange``, ``ForeignCertificate``, ``MonitorState``,
``MonitorReport``, ``entry_change``, ``monitor_log``; ``CompactRange`` is
``resolution.protocol.merkle``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from resolution.client.parallel import DEFAULT_WORKERS, ordered_map
from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.checkpoint import Checkpoint
from resolution.protocol.entries import (
    CertificateEntry,
    EntryError,
    EntryField,
    EntryKind,
    EntryVersionError,
    HandlerEntry,
    HandlerRemovedEntry,
    OpaqueEntry,
    RevocationEntry,
    entry_from_record,
)
from resolution.protocol.merkle import CompactRange, leaf_hash
from resolution.protocol.tiles import TILE_WIDTH, tile_width

STATE_FORMAT: Final = "rs-monitor-state/1"

BundleFetcher = Callable[[int, int], list[bytes]]
"""``fetch(index, width)``: the first ``width`` entries of entry bundle ``index``."""

ProgressCallback = Callable[[int, int], object]
"""Called as ``progress(entries_done, entries_total)``."""


class MonitorError(Exception):
    """The log could not be monitored: it is inconsistent, or the state file is damaged."""


@dataclass(frozen=True)
class LogChange:
    """One entry under the number's label.

    ``kind`` is the entry's kind (``certificate``, ``revocation``, ``handler``,
    ``handler_removed``, or one this monitor does not know); the other fields are those the
    kind carries.  ``foreign`` is set on a certificate whose key is not one of the holder's.
    """

    index: int
    kind: str
    provider: str | None = None
    serial: str | None = None
    service: str | None = None
    reason: str | None = None
    not_after: str | None = None
    public_key_sha256: bytes | None = None
    foreign: bool = False

    def describe(self) -> str:
        """One line for people."""
        by = f" by {self.provider}" if self.provider else ""
        if self.kind == EntryKind.CERTIFICATE:
            key = "FOREIGN KEY" if self.foreign else "own key"
            return f"certificate {self.serial} issued{by}, until {self.not_after} ({key})"
        if self.kind == EntryKind.REVOCATION:
            return f"certificate {self.serial} revoked{by} ({self.reason or 'no reason'})"
        if self.kind == EntryKind.HANDLER:
            return f"handler {self.service}{by} published or replaced"
        if self.kind == EntryKind.HANDLER_REMOVED:
            return f"handler {self.service}{by} removed ({self.reason or 'no reason'})"
        return f"entry of kind {self.kind!r}{by}"


@dataclass(frozen=True)
class ForeignCertificate:
    """A certificate for the number whose key is not the holder's, not yet resolved."""

    serial: str
    index: int
    provider: str
    not_after: str
    public_key_sha256: str  # hex


@dataclass(frozen=True)
class MonitorState:
    """Where the last run stopped: the checkpoint it verified and the compact range of its
    tree, and the foreign certificates still outstanding or accepted."""

    origin: str
    label: bytes
    size: int
    root_hash: bytes
    compact: tuple[bytes, ...]
    checkpoint: str
    outstanding: tuple[ForeignCertificate, ...] = ()
    accepted: frozenset[str] = field(default_factory=frozenset)

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
            )
        except MonitorError as exc:
            raise MonitorError(f"the monitor state is damaged: {exc}") from None
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise MonitorError(f"the monitor state is damaged: {exc!r}") from None


@dataclass(frozen=True)
class MonitorReport:
    """What a run found: the changes in ``[previous_size, size)``, and the foreign
    certificates outstanding after it.  ``state`` is what the next run starts from."""

    previous_size: int
    size: int
    changes: tuple[LogChange, ...]
    outstanding: tuple[ForeignCertificate, ...]
    state: MonitorState

    @property
    def flagged(self) -> bool:
        """Someone else holds, or held during this run, a certificate for the number."""
        return bool(self.outstanding) or any(c.foreign for c in self.changes)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) else None


def entry_change(
    index: int, entry: bytes, label: bytes, own_keys: Collection[bytes]
) -> LogChange | None:
    """The change entry ``index`` records for the number of ``label``, or ``None`` if it is
    about another number.  ``own_keys`` are the SHA-256 of the holder's public keys
    (``store.public_key_sha256``).  Raises ``MonitorError`` for an entry that may name the
    label but is not canonical JSON of a known version, or not of its kind's shape
    (``resolution.protocol.entries``)."""
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
) -> MonitorReport:
    """Scan the entries appended since ``previous`` (all of them without it) up to the
    verified ``checkpoint`` (whose signed ``note`` is kept), for changes under ``label``.

    ``accept`` adds serials of foreign certificates the holder vouches for.  Raises
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
                    change = entry_change(position, entry, label, own_keys)
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
    for serial in accepted:
        outstanding.pop(serial, None)
    remaining = tuple(f for f in outstanding.values() if _still_valid(f, now))
    state = MonitorState(
        origin=checkpoint.origin,
        label=label,
        size=size,
        root_hash=checkpoint.root_hash,
        compact=tuple(tree.hashes),
        checkpoint=note.decode("utf-8"),
        outstanding=remaining,
        accepted=frozenset(accepted),
    )
    # Changes to accepted certificates are reported, but not flagged.
    shown = tuple(
        replace(c, foreign=False) if c.foreign and c.serial in accepted else c for c in changes
    )
    return MonitorReport(
        previous_size=start, size=size, changes=shown, outstanding=remaining, state=state
    )
