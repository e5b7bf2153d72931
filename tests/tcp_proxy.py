"""A TCP proxy for fault tests: it forwards to a real server until told to stall or cut.

    with TcpProxy("127.0.0.1", 5432) as proxy:   # connect to 127.0.0.1:proxy.port instead
        ...
        proxy.pause()    # bytes stop flowing both ways; connections stay open, new ones are
                         # accepted and stall too: a network path that went silent
        proxy.resume()   # what was held back is delivered, as after a partition heals
        proxy.cut()      # every open connection is reset (new ones are still accepted)
        proxy.stop()     # cut, and each new connection is closed at once: the server stopped
        proxy.start()    # new connections are forwarded again: the server is back

The upstream may be a Unix socket, named as libpq names one: a folder for ``host`` (the embedded
PostgreSQL's), the socket being ``<host>/.s.PGSQL.<port>``.

A paused proxy is what neither end's kernel can tell from a slow peer: the client's data is
acknowledged (by the proxy's kernel) and keepalive probes are answered, so only timeouts that
count time without an answer end the wait. Threads, two per connection; for tests only.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``host``:``upstream_port``; see the module docstring."""

    def __init__(self, host: str, upstream_port: int) -> None:
        self.upstream = (host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._stopped = False
        threading.Thread(target=self._accept, name="tcp-proxy-accept", daemon=True).start()

    def pause(self) -> None:
        """Stop forwarding in both directions; what arrives meanwhile is held, not dropped."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again, what was held back first."""
        self._flowing.set()

    def cut(self) -> None:
        """Reset every open connection, both sides (RST, not an orderly close)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                # SO_LINGER with a zero timeout: close() sends a reset. Shutting the reading
                # side first wakes a pump blocked in recv(), which close() alone would not.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass  # already reset by the other end
            sock.close()

    def stop(self) -> None:
        """As if the server behind stopped: open connections are reset, new ones closed as soon
        as they are accepted, until :meth:`start`."""
        self._stopped = True
        self.cut()

    def start(self) -> None:
        """As if the server behind started again: new connections are forwarded."""
        self._stopped = False

    def close(self) -> None:
        """Stop accepting, reset every connection, and let held bytes go nowhere."""
        self._closed = True
        self._listener.close()
        self.cut()
        self._flowing.set()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._stopped:
                client.close()
                continue
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), name="tcp-proxy-pump", daemon=True
                ).start()

    def _connect_upstream(self) -> socket.socket:
        host, port = self.upstream
        if host.startswith("/"):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(f"{host}/.s.PGSQL.{port}")
            return server
        server = socket.create_connection(self.upstream, timeout=10)
        server.settimeout(None)
        return server

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` while flowing; a read during a pause is held until it
        ends."""
        try:
            while True:
                self._flowing.wait()
                data = source.recv(CHUNK)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                self._flowing.wait()
                if self._closed:
                    return
                sink.sendall(data)
        except OSError:
            return  # cut, closed, or reset by either end
