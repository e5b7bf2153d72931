"""A transparency log witness (c2sp.org/tlog-witness v1), as ``rs witness serve`` runs it.

The witness trusts a list of logs, each given by its signed-note verifier key (the key's name
is the log's origin).  For each origin it remembers one tree head: the size and root hash of
the last checkpoint it cosigned.  ``POST /add-checkpoint`` brings a signed checkpoint and a
consistency proof from that size; the witness cosigns (``resolution.protocol.cosignature``)
only a checkpoint consistent with what it remembers, so for one origin everything it ever
cosigned lies on one append-only history.  That is what stops a log from showing one tree to
its auditors and a fork to a victim.

What makes that hold through crashes: ``WitnessState`` keeps the tree heads in one JSON file;
a request checks its ``old`` size and writes the new head under a lock (a thread lock, and an
``fcntl`` lock on ``<state>.lock`` between processes sharing the file), and the new head is
on the disk (written to a temporary file, flushed, renamed over the state, the folder flushed)
*before* the cosignature is made.  A crash before the rename leaves the old head, and nothing
was cosigned; a crash after it leaves the new head, perhaps with a cosignature never sent.
Either way the next request is checked against a head the witness really holds.  Losing or
rolling back the state file is the one thing that can make it cosign a fork: it must be kept.

Statuses, in the order the spec's checks come (tlog-witness, "add-checkpoint"): 400 a malformed
request, 404 an origin it does not know, 403 no signature by a key it trusts, 400 an old size
larger than the checkpoint's, 409 (``text/x.tlog.size``, the size it holds) an old size that is
not the one it holds, or the same size with another root, 422 a consistency proof that fails.

Public API: ``TreeHead``, ``WitnessState``, ``WitnessStateError``, ``WitnessRefusalError`` and its
kinds, ``Witness``, ``WitnessServer``, ``witness_server``, ``parse_listen``, ``keygen``,
``load_signer``, ``REQUEST_DEADLINE``, ``MAX_CONNECTIONS``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Final

from resolution.client.files import atomic_write
from resolution.protocol.checkpoint import CheckpointError, parse_checkpoint
from resolution.protocol.cosignature import (
    CosignatureSigner,
    cosigner_private_key,
    generate_cosigner,
    parse_cosigner_private_key,
)
from resolution.protocol.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from resolution.protocol.note import NoteError, Verifier, open_note
from resolution.protocol.witness import (
    ADD_CHECKPOINT_PATH,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    WitnessFormatError,
    format_tree_size,
    parse_add_checkpoint,
)

REQUEST_DEADLINE: Final = 10.0
"""Seconds a client has to send its whole request; each read also times out after this."""

MAX_CONNECTIONS: Final = 64
"""Connections served at once; more are closed at once rather than queued without bound."""

_STATE_VERSION: Final = 1


@dataclass(frozen=True)
class TreeHead:
    """The size and root hash of the last checkpoint a witness cosigned for one origin."""

    size: int
    root_hash: bytes


class WitnessStateError(Exception):
    """The state file cannot be read or written; the witness must not go on without it."""


class WitnessState:
    """The tree heads a witness holds, one per origin, in the JSON file ``path``.

    ``transaction()`` is the only way to change them: it holds the lock while the caller checks
    and sets, and writes the file durably before it returns.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()
        self.read()  # refuse to start on a state that cannot be read

    def read(self) -> dict[str, TreeHead]:
        """The tree heads on the disk now (an absent file: none)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise WitnessStateError(f"cannot read the witness state {self.path}: {exc}") from exc
        try:
            document = json.loads(raw)
            if document["version"] != _STATE_VERSION:
                raise ValueError(f"version {document['version']!r}")
            heads = {}
            for origin, head in document["logs"].items():
                root = base64.b64decode(head["root_hash"], validate=True)
                size = head["size"]
                if not isinstance(size, int) or size < 0 or len(root) != HASH_SIZE:
                    raise ValueError(f"bad tree head for {origin!r}")
                heads[origin] = TreeHead(size, root)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            # Never start afresh over a damaged state: that could cosign a fork.
            raise WitnessStateError(f"the witness state {self.path} is damaged: {exc}") from exc
        return heads

    def _write(self, heads: dict[str, TreeHead]) -> None:
        document = {
            "version": _STATE_VERSION,
            "logs": {
                origin: {"size": head.size, "root_hash": base64.b64encode(head.root_hash).decode()}
                for origin, head in sorted(heads.items())
            },
        }
        data = json.dumps(document, indent=1).encode() + b"\n"
        try:
            atomic_write(self.path, data)
        except OSError as exc:
            raise WitnessStateError(f"cannot write the witness state {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, TreeHead]]:
        """Lock the state, yield its tree heads to check and change, and write them durably
        when the block ends without an exception (only if they changed)."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                heads = self.read()
                before = dict(heads)
                yield heads
                if heads != before:
                    self._write(heads)
            finally:
                os.close(fd)  # closing drops the flock


class WitnessRefusalError(Exception):
    """A request the witness refuses; ``status`` is the HTTP status the spec gives it."""

    status: ClassVar[int] = 400


class MalformedRequestError(WitnessRefusalError):
    """The request, or its checkpoint, is not well-formed: 400."""

    status = 400


class UnknownLogError(WitnessRefusalError):
    """No ``--log`` key has the checkpoint's origin as its name: 404."""

    status = 404


class UntrustedSignatureError(WitnessRefusalError):
    """No signature verifies with a key of the log, or one of its keys' does not: 403."""

    status = 403


class SizeConflictError(WitnessRefusalError):
    """``old`` is not the size held, or the same size comes with another root: 409 with the
    size held."""

    status = 409

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class InconsistentCheckpointError(WitnessRefusalError):
    """The consistency proof does not lead from the tree held to the new one: 422."""

    status = 422


class Witness:
    """The add-checkpoint logic, without HTTP: ``add_checkpoint(body)`` returns the cosignature
    lines to answer with, or raises a ``WitnessRefusalError``."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Iterable[Verifier],
        state: WitnessState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.state = state
        self.clock = clock
        self.logs: dict[str, list[Verifier]] = {}
        for log in logs:
            self.logs.setdefault(log.name, []).append(log)

    def add_checkpoint(self, body: bytes) -> str:
        """Check one add-checkpoint request, record its tree head and return the cosignature
        line(s) to answer 200 with."""
        try:
            request = parse_add_checkpoint(body)
        except WitnessFormatError as exc:
            raise MalformedRequestError(str(exc)) from None
        origin = request.checkpoint.split(b"\n", 1)[0].decode("utf-8", "replace")
        keys = self.logs.get(origin)
        if keys is None:
            raise UnknownLogError(f"unknown log origin {origin!r}")
        try:
            note = open_note(request.checkpoint, keys)
        except NoteError as exc:
            # The note parsed (parse_add_checkpoint), so what fails is a signature.
            raise UntrustedSignatureError(
                f"checkpoint not signed by a key of {origin}: {exc}"
            ) from None
        try:
            checkpoint = parse_checkpoint(note.text)
        except CheckpointError as exc:
            raise MalformedRequestError(str(exc)) from None
        if request.old_size > checkpoint.size:
            raise MalformedRequestError(
                f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}"
            )
        new = TreeHead(checkpoint.size, checkpoint.root_hash)
        with self.state.transaction() as heads:
            held = heads.get(origin)
            held_size = held.size if held else 0
            if request.old_size != held_size:
                raise SizeConflictError(f"old size {request.old_size}, held {held_size}", held_size)
            self._check_consistency(held, new, request.proof)
            heads[origin] = new
        # The new head is on the disk: only now may it be cosigned.
        return self.signer.cosign(note.text, int(self.clock())).line

    @staticmethod
    def _check_consistency(held: TreeHead | None, new: TreeHead, proof: tuple[bytes, ...]) -> None:
        if held is not None and new.size == held.size:
            if new.root_hash != held.root_hash:
                raise SizeConflictError(f"another root for size {held.size}", held.size)
            if proof:
                raise InconsistentCheckpointError("a proof between equal sizes must be empty")
            return
        if held is None or held.size == 0:
            # Nothing (or the empty tree) is held: any tree extends it, but a tree of size 0
            # has one root (RFC 6962 §2.1).
            if new.size == 0 and new.root_hash != EMPTY_ROOT:
                raise InconsistentCheckpointError("an empty tree's root must be SHA-256 of nothing")
            return
        try:
            verify_consistency(held.size, new.size, held.root_hash, new.root_hash, proof)
        except ProofError as exc:
            raise InconsistentCheckpointError(f"consistency proof failed: {exc}") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, which the spec asks witnesses to support
    timeout = REQUEST_DEADLINE
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True
    server: WitnessServer

    def do_POST(self) -> None:
        if self.path != ADD_CHECKPOINT_PATH:
            self._answer(404, b"not found\n")
            return
        body = self._read_body()
        if body is None:
            return
        try:
            lines = self.server.witness.add_checkpoint(body)
        except SizeConflictError as exc:
            self._answer(409, format_tree_size(exc.size), SIZE_CONTENT_TYPE)
            self._note(f"409 {exc}")
        except WitnessRefusalError as exc:
            self._answer(exc.status, f"{exc}\n".encode())
            self._note(f"{exc.status} {exc}")
        except WitnessStateError as exc:
            self._answer(500, b"witness state unavailable\n")
            self._note(f"500 {exc}")
        else:
            self._answer(200, lines.encode())

    def do_GET(self) -> None:
        self._answer(404 if self.path != ADD_CHECKPOINT_PATH else 405, b"not found\n")

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None:
            self._answer(411, b"Content-Length required\n", close=True)
            return None
        if not length.isdigit() or int(length) > MAX_REQUEST_SIZE:
            self._answer(413, b"request too large\n", close=True)
            return None
        deadline = time.monotonic() + REQUEST_DEADLINE
        chunks, left = [], int(length)
        while left:
            if time.monotonic() > deadline:
                self._answer(408, b"request too slow\n", close=True)
                return None
            chunk = self.rfile.read1(min(left, 16384))
            if not chunk:
                self.close_connection = True
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _answer(
        self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8", *,
        close: bool = False,
    ) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _note(self, message: str) -> None:
        if self.server.verbose:
            sys.stderr.write(f"witness: {self.address_string()} {message}\n")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class WitnessServer(ThreadingHTTPServer):
    """The HTTP face of a ``Witness``: one thread per connection, at most ``MAX_CONNECTIONS``."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], witness: Witness, *, verbose: bool = False):
        self.witness = witness
        self.verbose = verbose
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it is bound to (the port chosen when asked for 0)."""
        host, port = self.server_address[:2]
        return (host if isinstance(host, str) else host.decode()), int(port)

    @property
    def url(self) -> str:
        """The base URL it serves, its submission prefix."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6, ``:PORT`` for every interface; port 0 picks a
    free one) as an address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def witness_server(
    signer: CosignatureSigner,
    logs: Iterable[Verifier],
    state_path: Path,
    listen: tuple[str, int],
    *,
    verbose: bool = False,
) -> WitnessServer:
    """A witness bound to ``listen`` (call ``serve_forever``), with its state at ``state_path``."""
    witness = Witness(signer, logs, WitnessState(state_path))
    return WitnessServer(listen, witness, verbose=verbose)


def keygen(name: str, path: Path) -> CosignatureSigner:
    """Make a cosigner key named ``name`` and write its private key to ``path``, mode 0600,
    refusing to overwrite a file (``FileExistsError``)."""
    signer = generate_cosigner(name)
    data = (cosigner_private_key(signer) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return signer


def load_signer(path: Path) -> CosignatureSigner:
    """Read a private key ``keygen`` wrote (``CosignatureError`` if it is not one)."""
    return parse_cosigner_private_key(path.read_text("ascii"))
