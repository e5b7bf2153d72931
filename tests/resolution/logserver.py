"""An in-process tiled transparency log, served on 127.0.0.1 for the auditor's tests.

``TiledLog`` builds a log with resolution's own functions (``canonical_json``, ``leaf_hash``,
``append_to_tiles``, ``sign_checkpoint``) and answers the static read API of c2sp.org/tlog-tiles:
``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``.  Its fields are plain
data, so a test can tamper with it after it was built: rewrite an entry's bytes, re-sign the
checkpoint with another key, and so on.

``LogServer`` serves a ``TiledLog`` from a ``ThreadingHTTPServer`` on an ephemeral port; the
log it serves can be swapped (``server.log = other``) and single paths can be overridden with
other bytes or an error status, or made to fail a number of times before they succeed.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
from resolution.protocol.merkle import leaf_hash
from resolution.protocol.note import Signer, generate_signer, verifier_key
from resolution.protocol.tiles import (
    TILE_WIDTH,
    TilePathError,
    append_to_tiles,
    encode_entry_bundle,
    parse_tile_path,
    tile_width,
    tiles_root,
)

ORIGIN = "log.example.test/resolution"
KINDS = ("certificate", "revocation", "handler", "handler_removed")


def sample_records(count: int, start: int = 0, *, tag: str = "") -> list[dict[str, Any]]:
    """``count`` plausible entries, numbered from ``start``; ``tag`` makes a different history.

    Their fields are not their kinds' (an auditor refuses them: see ``log_records``)."""
    return [
        {
            "v": 1,
            "kind": KINDS[i % len(KINDS)],
            "seq": i,
            "label": f"{tag}{i:064x}",
            "provider": "acme-chat",
            "uri": f"https://chat.example/handlers/{i}",
        }
        for i in range(start, start + count)
    ]


def log_records(
    count: int, start: int = 0, *, tag: str = "", version: int = 1
) -> list[dict[str, Any]]:
    """``count`` well-formed entries of ``version`` (1 or 2, resolution.protocol.entries),
    numbered from ``start`` and cycling through the four kinds; ``tag`` makes a different
    history."""
    return [_log_record(i, tag, version) for i in range(start, start + count)]


def _log_record(i: int, tag: str, version: int) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    digest = hashlib.sha256(f"{tag}{i}".encode()).hexdigest()
    record: dict[str, Any] = {"v": version, "kind": kind, "label": f"{i:0128x}"}
    if version == 2:
        record["commitment"] = digest
        if kind in ("revocation", "handler_removed"):
            record["reason"] = "removed"
        return record
    provider = f"{tag}acme-chat"
    serial, moment = f"{i + 1:032x}", "2026-01-01T00:00:00Z"
    fields: dict[str, dict[str, Any]] = {
        "certificate": {
            "serial": serial,
            "certificate_sha256": digest,
            "public_key_sha256": digest,
            "not_before": moment,
            "not_after": moment,
        },
        "revocation": {"serial": serial, "revoked_at": moment, "reason": "keyCompromise"},
        "handler": {"service": "voice", "commitment": digest},
        "handler_removed": {"service": "voice", "reason": "removed"},
    }
    return record | {"provider": provider} | fields[kind]


class TiledLog:
    """A complete log in memory: entries, hash tiles and the signed checkpoint."""

    def __init__(self, origin: str = ORIGIN, signer: Signer | None = None) -> None:
        self.origin = origin
        self.signer = signer if signer is not None else generate_signer(origin)
        self.entries: list[bytes] = []
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.note = b""
        self.sign()

    @property
    def vkey(self) -> str:
        """The verifier key string of the log's signer."""
        return verifier_key(self.signer.name, self.signer.public_key)

    @property
    def size(self) -> int:
        return len(self.entries)

    @property
    def root(self) -> bytes:
        """The root hash computed from the stored tiles."""
        return tiles_root(self.size, self._read_tile)

    def _read_tile(self, level: int, index: int) -> bytes:
        return self.tiles[(level, index)]

    def append(self, records: Iterable[dict[str, Any]]) -> TiledLog:
        """Append records as canonical JSON entries, update the tiles and re-sign."""
        return self.append_raw(canonical_json(r) for r in records)

    def append_raw(self, entries: Iterable[bytes]) -> TiledLog:
        """Append entries as given (canonical or not), update the tiles and re-sign."""
        new = list(entries)
        changed = append_to_tiles(self.size, [leaf_hash(e) for e in new], self._read_tile)
        self.tiles.update(changed)
        self.entries.extend(new)
        self.sign()
        return self

    def sign(self, *signers: Signer, root: bytes | None = None) -> None:
        """Re-sign the checkpoint at the current size (by default with the log's own key)."""
        cp = Checkpoint(self.origin, self.size, self.root if root is None else root)
        self.note = sign_checkpoint(cp, *(signers or (self.signer,)))

    def rebuild_tiles(self) -> None:
        """Recompute every tile from the entries, as a log rewriting its history would."""
        self.tiles = append_to_tiles(0, [leaf_hash(e) for e in self.entries], self._read_tile)

    def fork(self, keep: int, records: Iterable[dict[str, Any]]) -> TiledLog:
        """A log with the same origin and key: the first ``keep`` entries, then ``records``."""
        other = TiledLog(self.origin, self.signer)
        other.append_raw(self.entries[:keep])
        return other.append(records)

    def file(self, path: str) -> bytes | None:
        """The body of ``path`` in the log's read API, or ``None`` for a 404."""
        if path == "checkpoint":
            return self.note
        try:
            ref = parse_tile_path(path)
        except TilePathError:
            return None
        width = TILE_WIDTH if ref.width is None else ref.width
        # tlog-tiles: a tile exists once the tree has that many hashes at its level; an
        # older, narrower partial tile is a prefix of the current one.
        if width > tile_width(ref.level, ref.index, self.size):
            return None
        if ref.is_entries:
            first = ref.index * TILE_WIDTH
            return encode_entry_bundle(self.entries[first : first + width])
        return self.tiles[(ref.level, ref.index)][: width * 32]


class _QuietHTTPServer(ThreadingHTTPServer):
    """A server that does not print the resets of clients that hang up mid-answer."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LogServer:
    """Serves a ``TiledLog`` under ``/log/`` on 127.0.0.1, with hooks for misbehaving."""

    def __init__(self, log: TiledLog) -> None:
        self.log = log
        self.overrides: dict[str, bytes | int] = {}  # path -> body, or an HTTP status
        self.failures: dict[str, list[int]] = {}  # path -> statuses to answer first
        self.delay = 0.0  # seconds to wait before every answer
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/log/"

    def fail(self, path: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` GETs of ``path`` with ``status``."""
        self.failures[path] = [status] * times

    def requested(self, prefix: str) -> list[str]:
        """The paths requested so far that start with ``prefix``."""
        with self._lock:
            return [p for p in self.requests if p.startswith(prefix)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> LogServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(path)
            queued = self.failures.get(path)
            if queued:
                return queued.pop(), b"injected failure\n"
        override = self.overrides.get(path)
        if isinstance(override, int):
            return override, b"overridden status\n"
        if override is not None:
            return 200, override
        body = self.log.file(path)
        return (404, b"not found\n") if body is None else (200, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the auditor's client expects
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK stall every response by ~40 ms.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                if server.delay:
                    time.sleep(server.delay)
                if self.path.startswith("/log/"):
                    status, body = server._answer(self.path.removeprefix("/log/"))
                else:
                    status, body = 404, b"not found\n"
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


def serve(log: TiledLog) -> Iterator[LogServer]:
    """Generator for a pytest fixture: a running server for ``log``, closed afterwards."""
    with LogServer(log) as server:
        yield server
