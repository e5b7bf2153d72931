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

Entries must be canonical JSON objects (``canonical.parse_canonical``) with ``"v": 1`` and a
non-empty string ``"kind"``.  An unknown ``v`` is rejected; an unknown kind is only counted.

Public API: ``AuditError``, ``AuditReport``, ``audit_log``, ``DEFAULT_TIMEOUT``,
``DEFAULT_WORKERS``, ``DEFAULT_RETRIES``.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn, TypeVar

import httpx

from resolution.protocol.canonical import CanonicalJSONError, parse_canonical
from resolution.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from resolution.protocol.merkle import (
    HASH_SIZE,
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
from resolution.protocol.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileError,
    decode_entry_bundle,
    entries_path,
    tile_path,
    tile_width,
)

DEFAULT_WORKERS: Final = 8
"""Parallel downloads, over one keep-alive HTTP client."""

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds an HTTP request may take to connect, or wait for data, before it fails."""

DEFAULT_RETRIES: Final = 2
"""Extra attempts of a GET after a connection error, a timeout, a 429 or a 5xx."""

ENTRY_VERSION: Final = 1
"""The only entry format version (``"v"``) this auditor understands."""

_STATE_FORMAT: Final = "rs-log-audit-state/1"
_BACKOFF: Final = 0.2  # seconds before the first retry; doubled for each further one
_MAX_RETRY_AFTER: Final = 30.0  # longest Retry-After honoured, in seconds
_TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
_BUNDLE_BYTES: Final = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)  # tlog-tiles: uint16 length + entry
_LEAF_PREFIX: Final = b"\x00"  # RFC 6962 §2.1 leaf hash prefix
_sha256 = hashlib.sha256

ProgressCallback = Callable[[int, int], object]
"""Called as ``progress(entries_done, entries_total)`` while entry bundles are checked."""

_T = TypeVar("_T")
_R = TypeVar("_R")


class AuditError(Exception):
    """The log failed the audit, or could not be audited; the message names what failed."""


@dataclass(frozen=True)
class AuditReport:
    """What a successful audit checked.

    ``entries_checked`` and ``kinds`` count only the entries downloaded by this run (those from
    ``previous_size`` on); ``previous_size`` is the size recorded in the state file, or ``None``
    when the audit started from an empty tree without state.
    """

    origin: str
    size: int
    root_hash: bytes
    entries_checked: int
    tiles_checked: int
    kinds: dict[str, int]
    previous_size: int | None
    seconds: float


@dataclass(frozen=True)
class _Previous:
    """The last audited checkpoint, as loaded from the state file."""

    path: Path
    size: int
    root_hash: bytes
    compact: dict[NodeId, bytes]

    def rewritten(self, detail: str) -> AuditError:
        root = base64.b64encode(self.root_hash).decode()
        return AuditError(
            f"log is not consistent with the checkpoint in {self.path}: size {self.size} root "
            f"{root} was rewritten: {detail}"
        )


@dataclass(frozen=True)
class _Bundle:
    """One checked entry bundle: the leaf hashes of its level-0 tile and the kinds it holds."""

    index: int
    hashes: list[bytes]
    kinds: dict[str, int]


def _tile_name(level: int, index: int, width: int) -> str:
    return tile_path(level, index, width).removeprefix("tile/")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _perfect_root(hashes: Sequence[bytes]) -> bytes:
    # MTH of a power-of-two run of hashes (RFC 6962 §2.1); a single hash is its own root.
    return hashes[0] if len(hashes) == 1 else root_from_leaf_hashes(hashes)


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait before retrying: the server's Retry-After (RFC 9110 §10.2.3) in
    delta-seconds, capped, or else exponential backoff."""
    backoff = _BACKOFF * (1 << attempt)
    if header is not None and header.strip().isdigit():
        return min(max(backoff, float(header.strip())), _MAX_RETRY_AFTER)
    return backoff


class _LogClient:
    """GETs files of the log's read API, with retries, size limits and tile fallbacks."""

    def __init__(self, base_url: str, client: httpx.Client, retries: int) -> None:
        self.base_url = base_url
        self.client = client
        self.retries = retries

    def get(self, path: str, limit: int) -> bytes:
        """Return the body of ``path``, of at most ``limit`` bytes."""
        data = self._get(path, limit, missing_ok=False)
        if data is None:  # pragma: no cover - only with missing_ok
            raise AuditError(f"GET {self.base_url + path}: HTTP 404 Not Found")
        return data

    def get_if_present(self, path: str, limit: int) -> bytes | None:
        """Return the body of ``path``, or ``None`` if the server answers 404."""
        return self._get(path, limit, missing_ok=True)

    def _get(self, path: str, limit: int, *, missing_ok: bool) -> bytes | None:
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            retry = attempt < self.retries
            try:
                with self.client.stream("GET", url) as response:
                    status = response.status_code
                    if status == httpx.codes.OK:
                        return self._read(response, url, limit)
                    if status == httpx.codes.NOT_FOUND and missing_ok:
                        return None
                    # Reads are idempotent: a 429 or 5xx may be a passing overload.
                    if not (retry and (status == httpx.codes.TOO_MANY_REQUESTS or status >= 500)):
                        raise AuditError(f"GET {url}: HTTP {status} {response.reason_phrase}")
                    delay = _retry_after(response.headers.get("retry-after"), attempt)
            except httpx.TransportError as exc:
                if not retry:
                    raise AuditError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
                delay = _BACKOFF * (1 << attempt)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _read(response: httpx.Response, url: str, limit: int) -> bytes:
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise AuditError(f"GET {url}: response of {length} bytes is over the {limit} limit")
        chunks, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > limit:
                raise AuditError(f"GET {url}: response is over the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _get_tile(self, partial: str, full: str, width: int, limit: int) -> tuple[bytes, bool]:
        """Fetch a tile or bundle of ``width``; returns ``(data, came from the full one)``."""
        if width == TILE_WIDTH:
            return self.get(full, limit), True
        data = self.get_if_present(partial, limit)
        if data is not None:
            return data, False
        # tlog-tiles, "Partial Tiles": a server may drop a partial tile once the full one
        # exists; the full tile's prefix is the partial tile, so fall back to it.
        data = self.get_if_present(full, limit)
        if data is None:
            raise AuditError(
                f"GET {self.base_url + partial}: HTTP 404 Not Found (and no full tile {full})"
            )
        return data, True

    def hash_tile(self, level: int, index: int, width: int) -> list[bytes]:
        """The ``width`` hashes of hash tile ``(level, index)`` (tlog-tiles, "Merkle Tree")."""
        partial, full = tile_path(level, index, width), tile_path(level, index)
        data, from_full = self._get_tile(partial, full, width, _TILE_BYTES)
        want = (TILE_WIDTH if from_full else width) * HASH_SIZE
        if len(data) != want:
            name = _tile_name(level, index, TILE_WIDTH if from_full else width)
            raise AuditError(f"hash tile {name} is {len(data)} bytes, want {want}")
        return [data[i : i + HASH_SIZE] for i in range(0, width * HASH_SIZE, HASH_SIZE)]

    def bundle(self, index: int, width: int) -> list[bytes]:
        """The first ``width`` entries of entry bundle ``index`` (tlog-tiles, "Log entries")."""
        partial, full = entries_path(index, width), entries_path(index)
        data, from_full = self._get_tile(partial, full, width, _BUNDLE_BYTES)
        try:
            entries = decode_entry_bundle(data)
        except TileError as exc:
            raise AuditError(f"entry bundle {index} is malformed: {exc}") from None
        want = TILE_WIDTH if from_full else width
        if len(entries) != want:
            raise AuditError(f"entry bundle {index} has {len(entries)} entries, want {want}")
        return entries[:width]


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
    nodes = perfect_subtrees(0, size)
    if len(hashes) != len(nodes) or any(len(h) != HASH_SIZE for h in [root, *hashes]):
        raise corrupt(f"compact range does not fit size {size}")
    compact = dict(zip(nodes, hashes, strict=True))
    # The compact range is what later audits build on: it must fold to the recorded root.
    if tree_root(size, lambda ids: [compact[i] for i in ids]) != root:
        raise corrupt("compact range does not hash to the recorded root")
    note = state.get("checkpoint")
    if not isinstance(note, str):
        raise corrupt("checkpoint is not a string")
    try:
        cp = open_checkpoint(note.encode(), verifier, verifier.name)
    except CheckpointError as exc:
        raise corrupt(f"its checkpoint does not verify: {exc}") from None
    if (cp.size, cp.root_hash) != (size, root):
        raise corrupt("its checkpoint is not the recorded size and root")
    return _Previous(path, size, root, compact)


def _save_state(path: Path, cp: Checkpoint, note: bytes, compact: list[bytes]) -> None:
    """Replace the state file atomically: a crash leaves the old state or the new one."""
    state = {
        "format": _STATE_FORMAT,
        "origin": cp.origin,
        "size": cp.size,
        "root_hash": _b64(cp.root_hash),
        "compact": [_b64(h) for h in compact],
        "checkpoint": note.decode("utf-8"),
    }
    data = (json.dumps(state, indent=2) + "\n").encode()
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_entries(first: int, entries: Sequence[bytes]) -> dict[str, int]:
    """Check log entries ``first``, ``first + 1``, ...; return how many there are of each kind.

    An entry is a canonical JSON object with ``"v": 1`` and a non-empty string ``"kind"``.
    This loop runs a million times for a million entries: the rare failure is explained by
    ``_reject``, so the common path only tests.
    """
    kinds: dict[str, int] = {}
    count, parse = kinds.get, parse_canonical
    for offset, entry in enumerate(entries):
        try:
            record = parse(entry)
        except CanonicalJSONError as exc:
            raise AuditError(f"entry {first + offset} is not canonical JSON: {exc}") from None
        version, kind = record.get("v"), record.get("kind")
        # type() rather than isinstance: JSON true is not the version 1.
        if type(version) is not int or version != ENTRY_VERSION or type(kind) is not str:
            _reject(first + offset, record)
        if not kind or len(entry) > MAX_ENTRY_SIZE:
            _reject(first + offset, record, len(entry))
        kinds[kind] = count(kind, 0) + 1
    return kinds


def _reject(index: int, record: dict[str, object], length: int = 0) -> NoReturn:
    """Raise the ``AuditError`` that says why entry ``index`` failed ``_check_entries``."""
    version, kind = record.get("v"), record.get("kind")
    if type(version) is not int or version != ENTRY_VERSION:
        shown = "missing" if "v" not in record else json.dumps(version, ensure_ascii=False)
        raise AuditError(f"entry {index} has v={shown}, want {ENTRY_VERSION}")
    if type(kind) is not str or not kind:
        raise AuditError(f"entry {index} has no kind (a non-empty string)")
    raise AuditError(f"entry {index} is {length} bytes, over {MAX_ENTRY_SIZE}")


def _compare_tile(level: int, index: int, served: list[bytes], expected: list[bytes]) -> None:
    if served == expected:
        return
    pos = next(i for i, (a, b) in enumerate(zip(served, expected, strict=True)) if a != b)
    detail = f"leaf {index * TILE_WIDTH + pos}" if level == 0 else f"hash {pos}"
    name = _tile_name(level, index, len(expected))
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
    log: _LogClient, index: int, size: int, start: int, previous: _Previous | None
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


def _ordered(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T], window: int
) -> Iterator[_R]:
    """``pool.map`` with at most ``window`` calls in flight, so memory stays bounded."""
    pending: collections.deque[Future[_R]] = collections.deque()
    it = iter(items)
    try:
        for item in itertools.islice(it, window):
            pending.append(pool.submit(fn, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(it, 1):
                pending.append(pool.submit(fn, item))
            yield result
    finally:
        for future in pending:
            future.cancel()


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
        log: _LogClient,
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
            raise AuditError(
                f"tree shrank from {self.old} to {self.size} (the checkpoint in {previous.path})"
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
                name = f"hash tile {_tile_name(level, index, len(hashes))}"
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
        for bundle in _ordered(self.pool, one, range(first, last + 1), 2 * self.workers):
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
    the new state after a successful audit (it is created by the first).  ``workers`` downloads
    run in parallel over one keep-alive ``client`` (made here, with ``timeout`` and closed at
    the end, unless one is passed in).  Failed GETs are retried ``retries`` times.

    Raises ``AuditError`` naming what failed, and ``ValueError`` for an invalid key string or
    worker count.
    """
    started = time.perf_counter()
    key = _verifier(verifier)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    base_url = url if url.endswith("/") else url + "/"
    previous = _load_state(state_path, key) if state_path is not None else None
    own_client = client is None
    if client is None:
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        client = httpx.Client(timeout=timeout, limits=limits)
    try:
        log = _LogClient(base_url, client, retries)
        note = log.get("checkpoint", MAX_NOTE_SIZE)
        cp = _open_checkpoint(note, key)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="rs-audit")
        try:
            tree = _TreeAudit(log, pool, workers, cp, previous)
            compact = tree.run(progress)
        finally:
            # On failure, drop the queued downloads rather than wait for all of them.
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        if own_client:
            client.close()
    if state_path is not None:
        try:
            _save_state(state_path, cp, note, compact)
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
    )
