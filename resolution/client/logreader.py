"""Reading a tiled transparency log over HTTP: its signed checkpoint, hash tiles and entry
bundles (c2sp.org/tlog-tiles), and its witness policy (``witness-policy``, DESIGN §7.3), as
the auditor, the monitor and ``Client`` read them.

Each read is bounded by the largest file of its kind, and checked for shape only: a hash
tile has the hashes its width says, an entry bundle the entries.  Whether they are the log's
is for the reader's caller to prove (``resolution.client.audit``, ``resolution.client.monitor``).

A partial tile may be gone once the full one exists (tlog-tiles, "Partial Tiles"); since a
tile only grows by appending, the full tile's prefix is the partial one, and is used instead.

Errors: ``ApiError`` and ``NetworkError`` from the transport; ``ResponseError`` for a tile or
bundle that is malformed or missing.

Public API: ``LogReader``, ``tile_name``, ``MAX_TILE_BYTES``, ``MAX_BUNDLE_BYTES``,
``MAX_POLICY_BYTES``.
"""

from __future__ import annotations

from typing import Final

from resolution.client.errors import ApiError, ResponseError
from resolution.client.transport import Transport
from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.note import MAX_NOTE_SIZE
from resolution.protocol.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    TileError,
    decode_entry_bundle,
    entries_path,
    tile_path,
)

MAX_TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
"""The size of a full hash tile."""

MAX_BUNDLE_BYTES: Final = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
"""The largest full entry bundle: 256 entries, each a uint16 length and its bytes."""

MAX_POLICY_BYTES: Final = 64 * 1024
"""The largest witness policy read: a few hundred witnesses' lines."""


def tile_name(level: int, index: int, width: int) -> str:
    """A hash tile as messages name it: ``0/001`` or ``1/000.p/2``."""
    return tile_path(level, index, width).removeprefix("tile/")


class LogReader:
    """GETs the files of the log whose tiles are under ``base_url`` (``https://host/log/``)."""

    def __init__(self, base_url: str, transport: Transport) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.transport = transport

    def get(self, path: str, limit: int) -> bytes:
        """The body of ``path``, of at most ``limit`` bytes."""
        answer = self.transport.request("GET", self.base_url + path, limit=limit)
        return answer.content

    def get_if_present(self, path: str, limit: int) -> bytes | None:
        """The body of ``path``, or ``None`` if the server answers 404."""
        try:
            return self.get(path, limit)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def checkpoint(self) -> bytes | None:
        """The latest signed checkpoint (a C2SP signed note), ``None`` while the log is empty;
        open it with ``resolution.protocol.checkpoint.open_checkpoint``."""
        return self.get_if_present("checkpoint", MAX_NOTE_SIZE)

    def witness_policy(self) -> str | None:
        """The policy the log's checkpoints meet (``resolution.protocol.policy``'s text, not
        parsed here); ``None`` when the server has none to serve (404: no witnesses)."""
        data = self.get_if_present("witness-policy", MAX_POLICY_BYTES)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ResponseError(f"GET {self.base_url}witness-policy: not UTF-8 text") from None

    def _get_tile(self, partial: str, full: str, width: int, limit: int) -> tuple[bytes, bool]:
        """A tile or bundle of ``width``, and whether it came from the full one."""
        if width == TILE_WIDTH:
            return self.get(full, limit), True
        data = self.get_if_present(partial, limit)
        if data is not None:
            return data, False
        data = self.get_if_present(full, limit)
        if data is None:
            raise ResponseError(
                f"GET {self.base_url + partial}: HTTP 404 Not Found (and no full tile {full})"
            )
        return data, True

    def hash_tile(self, level: int, index: int, width: int) -> list[bytes]:
        """The ``width`` hashes of hash tile ``(level, index)`` (tlog-tiles, "Merkle Tree")."""
        partial, full = tile_path(level, index, width), tile_path(level, index)
        data, from_full = self._get_tile(partial, full, width, MAX_TILE_BYTES)
        want = (TILE_WIDTH if from_full else width) * HASH_SIZE
        if len(data) != want:
            name = tile_name(level, index, TILE_WIDTH if from_full else width)
            raise ResponseError(f"hash tile {name} is {len(data)} bytes, want {want}")
        return [data[i : i + HASH_SIZE] for i in range(0, width * HASH_SIZE, HASH_SIZE)]

    def bundle(self, index: int, width: int) -> list[bytes]:
        """The first ``width`` entries of entry bundle ``index`` (tlog-tiles, "Log entries")."""
        partial, full = entries_path(index, width), entries_path(index)
        data, from_full = self._get_tile(partial, full, width, MAX_BUNDLE_BYTES)
        try:
            entries = decode_entry_bundle(data)
        except TileError as exc:
            raise ResponseError(f"entry bundle {index} is malformed: {exc}") from None
        want = TILE_WIDTH if from_full else width
        if len(entries) != want:
            raise ResponseError(f"entry bundle {index} has {len(entries)} entries, want {want}")
        return entries[:width]
