"""Auditing a tiled transparency log: recompute the whole tree from its entries.

An auditor does not trust proofs the server hands out.  It downloads every entry bundle
(c2sp.org/tlog-tiles, "Log entries"), checks every entry, hashes the entries into the RFC 6962
§2.1 Merkle tree itself, and compares the result with what the log publishes: every hash tile
it serves (tlog-tiles, "Merkle Tree") and the root of its signed checkpoint
(c2sp.org/tlog-checkpoint).  Any entry the log has shown to one auditor it must show to all, so
a log that rewrites history or equivocates is caught by any single honest auditor.

Audits are incremental.  The state file keeps the last audited checkpoint and its *compact
range*: the hashes of the perfect subtrees covering ``[0, size)`` (``merkle.perfect_subtrees``),
at most one per bit of the size.  The next run downloads only the entries appended since, and
hashes them onto that compact range; if the result is the new checkpoint's root, the new tree
provably extends the old one (RFC 6962 §2.1.2: consistency) -- proven by recomputation, not by a
server-provided proof.  The hash tiles that overlap the old tree are checked against the
compact range too, so a log that serves a different history is named as such.

The checkpoint is held to a witness policy (DESIGN §7.3): the one given, else the one the log
serves at ``witness-policy`` (none served: no witnesses), recorded in the state file so that a
later audit refuses a log that changed it (but for witnesses added to a log that had none).
A checkpoint that misses the quorum fails the audit (``AuditQuorumError``, naming the
witnesses missing); one under a policy that asks for none is reported unwitnessed.  A log
that is not consistent with the recorded checkpoint -- smaller, or another history -- is a
split view (``AuditSplitViewError``).  A log that cannot be reached, or does not answer in
time once the retries are spent, is ``AuditNetworkError``: nothing was shown to be wrong.

Entries must be canonical JSON objects (``canonical.parse_canonical``) of an entry version
of ``entries.VERSIONS`` with a non-empty string ``"kind"``, and an entry of a kind its version
defines must have that kind's shape (version 2: label, commitment, and the reason of a
revocation or handler removal).  An unknown version is rejected; an unknown kind is only
counted (``resolution.protocol.entries``).

Public API: ``AuditError``, ``AuditQuorumError``, ``AuditSplitViewError``,
``AuditNetworkError``, ``AuditReport``,
``audit_log``, ``DEFAULT_TIMEOUT``, ``DEFAULT_WORKERS``, ``DEFAULT_RETRIES``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

import httpx

from resolution.client.errors import ApiError, ClientError, NetworkError
from resolution.client.files import atomic_write
from resolution.client.logreader import LogReader, tile_name
from resolution.client.parallel import DEFAULT_WORKERS, ordered_map
from resolution.client.transport import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Transport
from resolution.client.trees import SplitViewError
from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from resolution.protocol.entries import (
    ENTRY_VERSION,
    SHAPES,
    VERSIONS,
    EntryError,
    EntryField,
    entry_from_record,
    entry_version_supported,
)
from resolution.protocol.merkle import (
    HASH_SIZE,
    CompactRange,
    NodeId,
    perfect_subtrees,
    root_from_leaf_hashes,
    tree_root,
)
from resolution.protocol.note import (
    MAX_NOTE_SIZE,
    NoteError,
    Verifier,
    parse_note,
    parse_verifier_key,
)
from resolution.protocol.policy import NONE, Policy, PolicyError, format_policy, parse_policy
from resolution.protocol.tiles import MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, tile_width
from resolution.protocol.witnessed import (
    NO_WITNESSES,
    UNWITNESSED,
    QuorumError,
    Witnessing,
    open_witnessed_checkpoint,
    policy_summary,
)

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WORKERS",
    "ENTRY_VERSION",
    "AuditError",
    "AuditQuorumError",
    "AuditReport",
    "AuditSplitViewError",
    "ProgressCallback",
    "audit_log",
]

_STATE_FORMAT: Final = "rs-log-audit-state/1"
_LEAF_PREFIX: Final = b"\x00"  # RFC 6962 §2.1 leaf hash prefix
_sha256 = hashlib.sha256

ProgressCallback = Callable[[int, int], object]
"""Called as ``progress(entries_done, entries_total)`` while entry bundles are checked."""


class AuditError(Exception):
    """The log failed the audit, or could not be audited; the message names what failed."""


class AuditQuorumError(AuditError):
    """The log's checkpoint misses the witness policy's quorum; ``missing`` names the
    witnesses whose cosignatures are missing."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class AuditSplitViewError(SplitViewError, AuditError):
    """The log is not consistent with the checkpoint of the last audit: it shrank, or shows
    another history than it showed then (``trees.SplitViewError``)."""


class AuditNetworkError(AuditError):
    """The log could not be read: unreachable, or no answer in time (after the retries).
    The audit did not run to its end; nothing it read was found wrong."""


@dataclass(frozen=True)
class AuditReport:
    """What a successful audit checked.

    ``entries_checked`` and ``kinds`` count only the entries downloaded by this run (those from
    ``previous_size`` on); ``previous_size`` is the size recorded in the state file, or ``None``
    when the audit started from an empty tree without state.  ``witnessing`` is what the
    checkpoint's cosignatures showed under the witness policy.
    """

    origin: str
    size: int
    root_hash: bytes
    entries_checked: int
    tiles_checked: int
    kinds: dict[str, int]
    previous_size: int | None
    seconds: float
    witnessing: Witnessing = UNWITNESSED


@dataclass(frozen=True)
class _Previous:
    """The last audited checkpoint, as loaded from the state file, and the witness policy
    recorded with it (``None`` in a state from before witnesses)."""

    path: Path
    size: int
    root_hash: bytes
    compact: dict[NodeId, bytes]
    note: bytes = b""
    policy: str | None = None

    def rewritten(self, detail: str) -> AuditSplitViewError:
        root = base64.b64encode(self.root_hash).decode()
        return AuditSplitViewError(
            f"log is not consistent with the checkpoint in {self.path}: size {self.size} root "
            f"{root} was rewritten: {detail}",
            pinned=self.note,
        )


@dataclass(frozen=True)
class _Bundle:
    """One checked entry bundle: the leaf hashes of its level-0 tile and the kinds it holds."""

    index: int
    hashes: list[bytes]
    kinds: dict[str, int]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _perfect_root(hashes: Sequence[bytes]) -> bytes:
    # MTH of a power-of-two run of hashes (RFC 6962 §2.1); a single hash is its own root.
    return hashes[0] if len(hashes) == 1 else root_from_leaf_hashes(hashes)


def _read_failure(exc: ClientError) -> AuditError:
    """The ``AuditError`` of a file the log did not serve as it must."""
    if isinstance(exc, ApiError):
        reason = httpx.codes.get_reason_phrase(exc.status)
        return AuditError(f"{exc.method} {exc.url}: HTTP {exc.status} {reason}")
    if isinstance(exc, NetworkError):
        cause = f"{type(exc.cause).__name__}: {exc.cause}"
        return AuditNetworkError(f"{exc.method} {exc.url} failed: {cause}")
    return AuditError(str(exc))  # a tile or bundle of the wrong shape (ResponseError)


def _verifier(verifier: Verifier | str) -> Verifier:
    if isinstance(verifier, Verifier):
        return verifier
    try:
        return parse_verifier_key(verifier.strip())
    except NoteError as exc:
        raise ValueError(f"invalid verifier key: {exc}") from None


def _key_label(verifier: Verifier) -> str:
    return f"{verifier.name}+{verifier.key_id.hex()}"


def _open_checkpoint(data: bytes, verifier: Verifier) -> Checkpoint:
    """Verify the checkpoint note; the origin must be the key name (tlog-checkpoint)."""
    try:
        return open_checkpoint(data, verifier, verifier.name)
    except CheckpointError as exc:
        if not isinstance(exc.__cause__, NoteError):
            raise AuditError(f"checkpoint is invalid: {exc}") from None
        try:
            parse_note(data)
        except NoteError as malformed:
            raise AuditError(f"checkpoint note is malformed: {malformed}") from None
        raise AuditError(
            f"checkpoint signature does not verify with key {_key_label(verifier)}: {exc.__cause__}"
        ) from None


def _load_state(path: Path, verifier: Verifier) -> _Previous | None:
    """Read the state file; ``None`` if it does not exist yet (a first audit)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot read state file {path}: {exc}") from None

    def corrupt(why: str) -> AuditError:
        return AuditError(f"state file {path} is not a valid audit state: {why}")

    try:
        state = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise corrupt("not JSON") from None
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise corrupt(f"not a {_STATE_FORMAT} object")
    origin = state.get("origin")
    if origin != verifier.name:
        raise AuditError(f"state file {path} is for log {origin!r}, not {verifier.name!r}")
    size, root_b64, compact_b64 = state.get("size"), state.get("root_hash"), state.get("compact")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise corrupt(f"size {size!r} is not a tree size")
    if not isinstance(compact_b64, list) or not all(isinstance(h, str) for h in compact_b64):
        raise corrupt("compact range is not a list of strings")
    if not isinstance(root_b64, str):
        raise corrupt("root_hash is not a string")
    try:
        root = base64.b64decode(root_b64, validate=True)
        hashes = [base64.b64decode(h, validate=True) for h in compact_b64]
    except (binascii.Error, ValueError):
        raise corrupt("a hash is not base64") from None
    try:
        compact_range = CompactRange(size, hashes)
    except ValueError:
        raise corrupt(f"compact range does not fit size {size}") from None
    if len(root) != HASH_SIZE:
        raise corrupt("root_hash is not a hash")
    # The compact range is what later audits build on: it must fold to the recorded root.
    if compact_range.root() != root:
        raise corrupt("compact range does not hash to the recorded root")
    compact = dict(zip(perfect_subtrees(0, size), hashes, strict=True))
    note = state.get("checkpoint")
    if not isinstance(note, str):
        raise corrupt("checkpoint is not a string")
    try:
        cp = open_checkpoint(note.encode(), verifier, verifier.name)
    except CheckpointError as exc:
        raise corrupt(f"its checkpoint does not verify: {exc}") from None
    if (cp.size, cp.root_hash) != (size, root):
        raise corrupt("its checkpoint is not the recorded size and root")
    policy = state.get("witness_policy")  # absent from states of audits before witnesses
    if policy is not None:
        try:
            policy = format_policy(parse_policy(policy))
        except (PolicyError, AttributeError):
            raise corrupt("its witness policy is not one") from None
    return _Previous(path, size, root, compact, note.encode(), policy)


def _save_state(
    path: Path, cp: Checkpoint, note: bytes, compact: list[bytes], policy: Policy
) -> None:
    """Replace the state file atomically: a crash leaves the old state or the new one."""
    state = {
        "format": _STATE_FORMAT,
        "origin": cp.origin,
        "size": cp.size,
        "root_hash": _b64(cp.root_hash),
        "compact": [_b64(h) for h in compact],
        "checkpoint": note.decode("utf-8"),
        "witness_policy": format_policy(policy),
    }
    atomic_write(path, (json.dumps(state, indent=2) + "\n").encode())


def _audit_policy(log: LogReader, given: Policy | None, previous: _Previous | None) -> Policy:
    """The witness policy to hold the checkpoint to: ``given``, else the one the log serves,
    which must be the one recorded by the last audit (or add witnesses to a log that had
    none)."""
    if given is not None:
        return given
    try:
        served = parse_policy(log.witness_policy() or NO_WITNESSES)
    except PolicyError as exc:
        raise AuditError(f"the log's witness policy is malformed: {exc}") from None
    recorded = previous.policy if previous is not None else None
    if recorded is not None and recorded != format_policy(served):
        before = parse_policy(recorded)
        if before.quorum != NONE:
            assert previous is not None
            raise AuditError(
                f"THE LOG'S WITNESS POLICY HAS CHANGED since the audit recorded in "
                f"{previous.path}: then {policy_summary(before)}, now {policy_summary(served)}; "
                f"if its operator announced the new policy, audit with --witness-policy FILE "
                f"holding it, which records it"
            )
    return served


def _witnessing(note: bytes, key: Verifier, policy: Policy) -> Witnessing:
    """The checkpoint's cosignatures under ``policy`` (its log signature already checked)."""
    try:
        return open_witnessed_checkpoint(note, key, policy).witnessing
    except QuorumError as exc:
        raise AuditQuorumError(f"the log's checkpoint is refused: {exc}", exc.missing) from None
    except CheckpointError as exc:  # pragma: no cover - _open_checkpoint passed
        raise AuditError(f"checkpoint is invalid: {exc}") from None


def _check_entries(first: int, entries: Sequence[bytes]) -> dict[str, int]:
    """Check log entries ``first``, ``first + 1``, ...; return how many there are of each kind.

    An entry is a canonical JSON object of a version of ``VERSIONS`` with a non-empty string
    ``"kind"``; an entry of a kind its version defines must have that kind's shape
    (``entries.SHAPES``: its keys, and each value's form).
    This loop runs a million times for a million entries: the rare failure is explained by
    ``_reject``, so the common path only tests.
    """
    kinds: dict[str, int] = {}
    count, parse, shapes = kinds.get, parse_canonical, SHAPES
    v, k, versions = EntryField.V.value, EntryField.KIND.value, VERSIONS
    for offset, entry in enumerate(entries):
        try:
            record = parse(entry)
        except CanonicalJSONError as exc:
            raise AuditError(f"entry {first + offset} is not canonical JSON: {exc}") from None
        version, kind = record.get(v), record.get(k)
        # entries.entry_version_supported, inlined: type() rather than isinstance, as JSON
        # true is not the version 1.
        if type(version) is not int or version not in versions or type(kind) is not str:
            _reject(first + offset, record)
        if not kind or len(entry) > MAX_ENTRY_SIZE:
            _reject(first + offset, record, len(entry))
        shape = shapes.get((version, kind))
        if shape is not None:  # a known kind: entries.entry_from_record's check, inlined
            keys, fields = shape
            if record.keys() != keys:
                _malformed(first + offset, record)
            for name, match in fields:
                value = record[name]
                if type(value) is not str or not match(value):
                    _malformed(first + offset, record)
        kinds[kind] = count(kind, 0) + 1
    return kinds


_WANTED = " or ".join(str(version) for version in VERSIONS)


def _malformed(index: int, record: dict[str, object]) -> NoReturn:
    """Raise the ``AuditError`` that says why entry ``index`` is not of its kind's shape."""
    try:
        entry_from_record(record)
    except EntryError as exc:
        raise AuditError(f"entry {index} is malformed: {exc}") from None
    raise AuditError(f"entry {index} is malformed")  # SHAPES and entry_from_record disagree


def _reject(index: int, record: dict[str, object], length: int = 0) -> NoReturn:
    """Raise the ``AuditError`` that says why entry ``index`` failed ``_check_entries``."""
    version, kind = record.get(EntryField.V.value), record.get(EntryField.KIND.value)
    if not entry_version_supported(version):
        shown = "missing" if EntryField.V not in record else json.dumps(version, ensure_ascii=False)
        raise AuditError(f"entry {index} has v={shown}, want {_WANTED}")
    if type(kind) is not str or not kind:
        raise AuditError(f"entry {index} has no kind (a non-empty string)")
    raise AuditError(f"entry {index} is {length} bytes, over {MAX_ENTRY_SIZE}")


def _compare_tile(level: int, index: int, served: list[bytes], expected: list[bytes]) -> None:
    if served == expected:
        return
    pos = next(i for i, (a, b) in enumerate(zip(served, expected, strict=True)) if a != b)
    detail = f"leaf {index * TILE_WIDTH + pos}" if level == 0 else f"hash {pos}"
    name = tile_name(level, index, len(expected))
    raise AuditError(f"hash tile {name} does not match the entries ({detail} differs)")


def _check_prefix(
    level: int, row_start: int, prefix: list[bytes], previous: _Previous, source: str
) -> None:
    """Check hashes at tile level ``level`` from ``row_start`` against the old compact range.

    The old compact range's nodes at Merkle levels ``8*level`` to ``8*level + 7`` cover exactly
    those positions ``[row_start, old size >> 8*level)`` (tlog-tiles, "Merkle Tree").
    """
    base = TILE_HEIGHT * level
    for (node_level, node_index), want in previous.compact.items():
        height = node_level - base
        if not 0 <= height < TILE_HEIGHT:
            continue
        first = (node_index << height) - row_start
        if _perfect_root(prefix[first : first + (1 << height)]) != want:
            if level == 0:
                start = node_index << node_level
                end = start + (1 << node_level) - 1
                raise previous.rewritten(f"entries {start}-{end} in {source} have changed")
            raise previous.rewritten(f"{source} disagrees with it")


def _audit_bundle(
    log: LogReader, index: int, size: int, start: int, previous: _Previous | None
) -> _Bundle:
    """Download, check and hash entry bundle ``index``, and compare its level-0 hash tile."""
    width = tile_width(0, index, size)
    entries = log.bundle(index, width)
    first = index * TILE_WIDTH
    sha, prefix = _sha256, _LEAF_PREFIX
    hashes = [sha(prefix + e).digest() for e in entries]
    skip = max(0, start - first)
    if skip and previous is not None:
        # Entries before ``start`` were checked by an earlier audit: they are only hashed,
        # and must still hash to that audit's compact range.
        _check_prefix(0, first, hashes[:skip], previous, f"entry bundle {index}")
    kinds = _check_entries(first + skip, entries[skip:])
    _compare_tile(0, index, log.hash_tile(0, index, width), hashes)
    return _Bundle(index, hashes, kinds)


@dataclass(frozen=True)
class _Level:
    """The hashes of one tile level that an audit recomputed: positions ``[start, ...)``."""

    start: int
    hashes: list[bytes]


class _TreeAudit:
    """One audit of the tree from the old size (0, or the state's) to the checkpoint's size.

    Tile level ``L`` holds the Merkle nodes at level ``8L`` (tlog-tiles, "Merkle Tree"); call
    their indexes *positions*.  Growing from ``old`` to ``size`` adds the positions
    ``[old >> 8L, size >> 8L)`` at level ``L``.  The tile holding the first new position may
    already hold older ones (the *edge* tile): those must agree with the old compact range,
    whose nodes at Merkle levels ``8L`` to ``8L + 7`` cover exactly them.
    """

    def __init__(
        self,
        log: LogReader,
        pool: ThreadPoolExecutor,
        workers: int,
        cp: Checkpoint,
        previous: _Previous | None,
    ) -> None:
        self.log, self.pool, self.workers = log, pool, workers
        self.cp, self.size, self.previous = cp, cp.size, previous
        self.old = previous.size if previous is not None else 0
        self.levels = [lv for lv in range(8) if self.size >> (TILE_HEIGHT * lv)]
        self.checked: set[tuple[int, int]] = set()  # hash tiles compared, as (level, index)
        self.served: dict[tuple[int, int], list[bytes]] = {}  # edge tiles, fetched first
        self.rows: dict[int, _Level] = {}  # per level, the recomputed right part
        self.kinds: dict[str, int] = {}

    def positions(self, level: int) -> tuple[int, int]:
        """``(old, new)`` number of hashes at tile level ``level``."""
        shift = TILE_HEIGHT * level
        return self.old >> shift, self.size >> shift

    def run(self, progress: ProgressCallback | None) -> list[bytes]:
        """Audit, raising ``AuditError`` on the first failure; return the new compact range."""
        previous = self.previous
        if previous is not None and self.size < self.old:
            raise AuditSplitViewError(
                f"tree shrank from {self.old} to {self.size} (the checkpoint in {previous.path})",
                pinned=previous.note,
            )
        if (
            previous is not None
            and self.size == self.old
            and self.cp.root_hash != previous.root_hash
        ):
            root = _b64(self.cp.root_hash)
            raise previous.rewritten(f"the log now signs root {root} for that size")
        self.check_edge_tiles()
        upper = self.audit_entries(progress) if self.size > self.old else []
        for level in self.levels[1:]:
            if not upper:
                break  # nothing new at this level or above
            upper = self.audit_level(level, upper)
        return self.compact_range()

    def check_edge_tiles(self) -> None:
        """Fetch the edge tiles and check them against the old compact range first, so that a
        log serving another history is reported as such before anything else."""
        futures: dict[tuple[int, int], Future[list[bytes]]] = {}
        for level in self.levels:
            p_old, _ = self.positions(level)
            # At level 0 the entries themselves are checked instead, if there are new ones.
            if p_old % TILE_WIDTH and (level > 0 or self.size == self.old):
                index = p_old // TILE_WIDTH
                width = tile_width(level, index, self.size)
                futures[(level, index)] = self.pool.submit(self.log.hash_tile, level, index, width)
        for (level, index), future in futures.items():
            self.served[(level, index)] = hashes = future.result()
            if self.previous is not None:
                width = self.positions(level)[0] - index * TILE_WIDTH
                name = f"hash tile {tile_name(level, index, len(hashes))}"
                _check_prefix(level, index * TILE_WIDTH, hashes[:width], self.previous, name)
            self.checked.add((level, index))

    def audit_entries(self, progress: ProgressCallback | None) -> list[bytes]:
        """Check the new entries bundle by bundle, in order, keeping only the last level-0
        tile; return the new level-1 positions (the roots of the full level-0 tiles)."""
        size, old = self.size, self.old
        first, last = old // TILE_WIDTH, (size - 1) // TILE_WIDTH

        def one(index: int) -> _Bundle:
            return _audit_bundle(self.log, index, size, old, self.previous)

        upper = []
        for bundle in ordered_map(self.pool, one, range(first, last + 1), 2 * self.workers):
            for kind, count in bundle.kinds.items():
                self.kinds[kind] = self.kinds.get(kind, 0) + count
            self.checked.add((0, bundle.index))
            if len(bundle.hashes) == TILE_WIDTH:
                upper.append(_perfect_root(bundle.hashes))
            self.rows[0] = _Level(bundle.index * TILE_WIDTH, bundle.hashes)
            if progress is not None:
                progress(min(size, (bundle.index + 1) * TILE_WIDTH) - old, size - old)
        return upper

    def audit_level(self, level: int, new: list[bytes]) -> list[bytes]:
        """Check the tiles at ``level`` that gained the positions ``new``; return the new
        positions one level up."""
        p_old, p_new = self.positions(level)
        start = p_old - p_old % TILE_WIDTH
        # The edge tile's older hashes were checked against the old compact range.
        row = self.served[(level, start // TILE_WIDTH)][: p_old - start] if p_old > start else []
        row += new
        if len(row) != p_new - start:  # pragma: no cover - a bug, not a bad log
            raise AssertionError(f"level {level} has {len(row)} hashes, want {p_new - start}")
        indexes = range(start // TILE_WIDTH, (p_new - 1) // TILE_WIDTH + 1)
        widths = [tile_width(level, i, self.size) for i in indexes]
        fetching = {
            i: self.pool.submit(self.log.hash_tile, level, i, w)
            for i, w in zip(indexes, widths, strict=True)
            if (level, i) not in self.served
        }
        upper = []
        for index, width in zip(indexes, widths, strict=True):
            future = fetching.get(index)
            hashes = future.result() if future is not None else self.served[(level, index)]
            offset = index * TILE_WIDTH - start
            expected = row[offset : offset + width]
            _compare_tile(level, index, hashes, expected)
            self.checked.add((level, index))
            if width == TILE_WIDTH:
                upper.append(_perfect_root(expected))
        self.rows[level] = _Level(start, row)
        return upper

    def compact_range(self) -> list[bytes]:
        """The new compact range; its fold must be the checkpoint's root (RFC 6962 §2.1)."""
        old_compact = self.previous.compact if self.previous is not None else {}

        def node(ident: NodeId) -> bytes:
            # A node of the new compact range either was in the old one, or lies in the right
            # edge of a level recomputed here: subtrees never change once complete.
            if ident in old_compact:
                return old_compact[ident]
            level, height = divmod(ident[0], TILE_HEIGHT)
            row = self.rows[level]
            offset = (ident[1] << height) - row.start
            return _perfect_root(row.hashes[offset : offset + (1 << height)])

        compact = [node(ident) for ident in perfect_subtrees(0, self.size)]
        root = tree_root(self.size, lambda ids: compact)
        if root != self.cp.root_hash:
            raise AuditError(
                f"root recomputed from entries differs from the checkpoint root: computed "
                f"{_b64(root)}, the checkpoint of size {self.size} says {_b64(self.cp.root_hash)}"
            )
        return compact


def audit_log(
    url: str,
    verifier: Verifier | str,
    *,
    state_path: Path | None = None,
    policy: Policy | None = None,
    workers: int = DEFAULT_WORKERS,
    client: httpx.Client | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> AuditReport:
    """Audit the tiled log at ``url`` against its key, and return what was checked.

    ``verifier`` is the log's note verifier or its key string; its name is the log's origin.
    With ``state_path``, only the entries appended since the checkpoint recorded there are
    downloaded, the log must be consistent with that checkpoint, and the file is replaced by
    the new state after a successful audit (it is created by the first).  ``policy`` is the
    witness policy the checkpoint must meet; without it, the one the log serves, which must be
    the one recorded in the state file (see the module docstring).  ``workers`` downloads
    run in parallel over one keep-alive ``client`` (made here, with ``timeout`` and closed at
    the end, unless one is passed in), with the SDK's transport and its retry policy
    (``resolution.client.transport``): failed GETs are retried ``retries`` times.

    Raises ``AuditError`` naming what failed -- ``AuditQuorumError`` for a checkpoint that
    misses the witness quorum, ``AuditSplitViewError`` for a log inconsistent with the state
    file's checkpoint, ``AuditNetworkError`` for a log that could not be read -- and
    ``ValueError`` for an invalid key string or worker count.
    """
    started = time.perf_counter()
    key = _verifier(verifier)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    base_url = url if url.endswith("/") else url + "/"
    previous = _load_state(state_path, key) if state_path is not None else None
    transport = Transport(timeout=timeout, retries=retries, http=client, connections=workers)
    try:
        log = LogReader(base_url, transport)
        note = log.get("checkpoint", MAX_NOTE_SIZE)
        cp = _open_checkpoint(note, key)
        audited_policy = _audit_policy(log, policy, previous)
        witnessing = _witnessing(note, key, audited_policy)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="rs-audit")
        try:
            tree = _TreeAudit(log, pool, workers, cp, previous)
            compact = tree.run(progress)
        finally:
            # On failure, drop the queued downloads rather than wait for all of them.
            pool.shutdown(wait=True, cancel_futures=True)
    except ClientError as exc:
        raise _read_failure(exc) from exc
    finally:
        transport.close()
    if state_path is not None:
        try:
            _save_state(state_path, cp, note, compact, audited_policy)
        except OSError as exc:
            raise AuditError(
                f"the log passed, but state file {state_path} was not written: {exc}"
            ) from exc

    old_size = previous.size if previous is not None else 0
    return AuditReport(
        origin=cp.origin,
        size=cp.size,
        root_hash=cp.root_hash,
        entries_checked=cp.size - old_size,
        tiles_checked=len(tree.checked),
        kinds=dict(sorted(tree.kinds.items())),
        previous_size=previous.size if previous is not None else None,
        seconds=time.perf_counter() - started,
        witnessing=witnessing,
    )
