"""``rs webhook serve``: receive the service's webhooks, check each one's signature with the
endpoint's secret (``resolution.client.webhooks``), and print each verified event as one JSON
line on standard output: a receiver to try an endpoint with, or to pipe into a script.

It answers 204 to a verified delivery, 400 to a malformed one (a header missing, a body that is
not an event) and 401 to one whose signature does not match or whose timestamp is more than 5
minutes off. The service sends only to https URLs: give ``--tls-cert`` and ``--tls-key``, or put
it behind a TLS proxy. A delivery retried after a failed answer is printed again, with the same
``id``: deduplicate on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from resolution.cli import arguments
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import info
from resolution.client.webhooks import (
    WebhookMalformedError,
    WebhookVerificationError,
    webhook_verify,
)
from resolution.protocol.webhooks import SecretError, secret_parse

# Far more than an event's body (Standard Webhooks suggests under 20 kB).
MAX_BODY_BYTES = 256 * 1024


class WebhookServer(ThreadingHTTPServer):
    """Verifies each POST with ``secret`` and writes each event to ``out``, one JSON line."""

    daemon_threads = True

    def __init__(self, listen: tuple[str, int], secret: str, out: TextIO) -> None:
        super().__init__(listen, _Handler)
        self.secret, self.out = secret, out
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        host, port = self.socket.getsockname()[:2]
        return f"{scheme}://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._answer(400, "a body of at most 256 KiB, with its Content-Length")
            return
        body = self.rfile.read(int(length))
        try:
            event = webhook_verify(body, dict(self.headers.items()), self.server.secret)
        except WebhookMalformedError as error:
            self._answer(400, str(error))
            return
        except WebhookVerificationError as error:
            self._answer(401, str(error))
            return
        line = json.dumps(
            {"id": event.id, "type": event.type, "timestamp": event.timestamp, "data": event.data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        with self.server.lock:
            print(line, file=self.server.out, flush=True)
        self._answer(204, "")

    def _answer(self, status: int, reason: str) -> None:
        body = reason.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if status >= 400:
            info(f"refused a delivery from {self.client_address[0]}: {status} {reason}")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the events are the output; refusals are said on standard error


def webhook_server(
    listen: tuple[str, int],
    secret: str,
    *,
    out: TextIO,
    tls: tuple[Path, Path] | None = None,
) -> WebhookServer:
    """A receiver bound to ``listen`` (call ``serve_forever``), over TLS with ``tls``'s
    certificate chain and key files when given."""
    server = WebhookServer(listen, secret, out)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    webhook = commands.add_parser(
        "webhook",
        help="receive and verify the service's webhooks",
        description="Receive the service's webhooks (Standard Webhooks signatures).",
    )
    webhook_commands = webhook.add_subparsers(
        dest="webhook_command", metavar="WEBHOOK_COMMAND", required=True
    )
    serve = webhook_commands.add_parser(
        "serve",
        help="verify each delivery and print its event as a JSON line",
        description=(
            "Listen for webhook deliveries, verify each with the endpoint's secret, print each "
            "verified event as one JSON line {id, type, timestamp, data}, and answer 204 (400 "
            "malformed, 401 not signed with the secret or too old). The service sends to https "
            "URLs only: give --tls-cert and --tls-key, or serve behind a TLS proxy. Its "
            "output is JSON already (one line per event): it has no --json."
        ),
        epilog=arguments.epilog(
            (
                (
                    "rs webhook serve --secret-file whsec.txt --listen 0.0.0.0:8443 "
                    "--tls-cert fullchain.pem --tls-key privkey.pem",
                    "receive the service's events over https, one JSON line each",
                ),
                (
                    "rs webhook serve --secret-file whsec.txt --listen 127.0.0.1:9000 "
                    "| jq -r .type",
                    "behind a TLS proxy; the type of each verified event",
                ),
            )
        ),
        formatter_class=arguments.HelpFormatter,
    )
    serve.add_argument(
        "--secret-file",
        required=True,
        type=Path,
        metavar="FILE",
        help="a file holding the endpoint's whsec_ secret",
    )
    serve.add_argument(
        "--listen",
        required=True,
        type=arguments.listen_address,
        metavar="ADDR",
        help="HOST:PORT (port 0: any)",
    )
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="certificate chain (PEM)")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    serve.set_defaults(run=run, needs_service=False)


def run(args: argparse.Namespace) -> int:
    try:
        secret = args.secret_file.read_text().strip()
        secret_parse(secret)
    except OSError as exc:
        raise UsageError(f"cannot read {args.secret_file}: {exc.strerror or exc}") from None
    except SecretError as exc:
        raise UsageError(f"{args.secret_file} holds no webhook secret: {exc}") from None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("give both --tls-cert and --tls-key, or neither")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        server = webhook_server(args.listen, secret, out=sys.stdout, tls=tls)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot listen on {args.listen}: {exc}") from None

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever, which runs in this thread: ask from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    # The address on standard error, so that standard output holds only events.
    info(f"listening on {server.url}")
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK
