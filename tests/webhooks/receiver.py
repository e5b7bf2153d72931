"""A webhook receiver for tests: a real HTTPS server on 127.0.0.1, reached as ``localhost``
(its certificate is from tests.tls's throwaway CA, which the tests trust through
RS_FETCH_CA_FILE), that records every delivery and answers as a test tells it to.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from resolution.client.webhooks import WebhookEvent, webhook_verify
from tests.tls import TlsPki, tls_pki_make

# Where loopback is, as the service must be told it may connect there (RS_FETCH_PERMITTED_NETWORKS).
LOOPBACK = ["127.0.0.0/8", "::1/128"]
# A status that is no answer: the receiver holds the request until the test releases it.
HANG = 0


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the server received, and the statuses it answers (204 once they run out)."""

    port: int
    pki: TlsPki
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        return f"https://localhost:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [delivery for delivery in self.received if delivery.path == path]

    def events(self, path: str, secret: str, **verify: Any) -> list[WebhookEvent]:
        """Every delivery to ``path``, each verified with ``secret`` (raises if one fails)."""
        return [
            webhook_verify(delivery.body, delivery.headers, secret, **verify)
            for delivery in self.at(path)
        ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with receiver.lock:
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.statuses.pop(0) if receiver.statuses else 204
        if status == HANG:
            receiver.released.wait(60)
            return  # closed unanswered
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def receiver_running(folder: Path, port: int = 0) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (``port``: any free one when 0)."""
    pki = tls_pki_make(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.chain_file, pki.key_file)
    server = _Server(("127.0.0.1", port), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.receiver = Receiver(port=server.server_address[1], pki=pki)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.receiver.released.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(tmp_path: Path, settings: Any) -> Iterator[Receiver]:
    """A receiver on loopback, which the operator's settings let the service reach and trust."""
    with receiver_running(tmp_path) as running:
        settings.RS_FETCH_PERMITTED_NETWORKS = LOOPBACK
        settings.RS_FETCH_CA_FILE = str(running.pki.ca_file)
        yield running
