"""A peer resolution service for tests: a real HTTPS server on 127.0.0.1, reached as
``localhost`` (its certificate from tests.tls's throwaway CA, which the settings trust through
RS_FETCH_CA_FILE), serving at /.well-known/rs-advertisement whatever the test sets."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.tls import tls_pki_make
from tests.webhooks.receiver import LOOPBACK


@dataclass
class PeerServer:
    port: int
    body: bytes = b""
    status: int = 200
    content_type: str = "application/jose"

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer: PeerServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        peer = self.server.peer
        found = self.path == "/.well-known/rs-advertisement"
        body = peer.body if found else b""
        self.send_response(peer.status if found else 404)
        self.send_header("Content-Type", peer.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer_server(tmp_path: Path, settings: Any) -> Iterator[PeerServer]:
    """A peer on loopback, which the operator's settings let the service reach and trust."""
    pki = tls_pki_make(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.chain_file, pki.key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.peer = PeerServer(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.RS_FETCH_PERMITTED_NETWORKS = LOOPBACK
    settings.RS_FETCH_CA_FILE = str(pki.ca_file)
    try:
        yield server.peer
    finally:
        server.shutdown()
        server.server_close()
