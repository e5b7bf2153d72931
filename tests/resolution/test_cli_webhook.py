"""``rs webhook serve``: a delivery signed with the secret is printed as one JSON line and
answered 204; a malformed one 400, one not signed with the secret or too old 401, and neither
is printed."""

from __future__ import annotations

import io
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from resolution.cli.commands.webhook import WebhookServer, webhook_server
from resolution.cli.main import main
from resolution.protocol.webhooks import secret_generate, secret_parse, signature
from tests.tls import tls_pki_make

SECRET = secret_generate()
EVENT = {"type": "certificate.revoked", "timestamp": "2026-01-02T03:04:05Z", "data": {"n": 1}}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebhookServer, io.StringIO]]:
    pki = tls_pki_make(tmp_path)
    out = io.StringIO()
    server = webhook_server(("127.0.0.1", 0), SECRET, out=out, tls=(pki.chain_file, pki.key_file))
    server.pki = pki  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, out
    server.shutdown()
    server.server_close()


def _post(server: WebhookServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    trusted = ssl.create_default_context(cafile=server.pki.ca_file)  # type: ignore[attr-defined]
    return httpx.post(server.url, content=body, headers=headers, verify=trusted, timeout=5)


def _signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    return {
        "webhook-id": "msg_abc",
        "webhook-timestamp": str(at),
        "webhook-signature": signature(
            secret_parse(secret), msg_id="msg_abc", timestamp=at, body=body
        ),
    }


def test_a_signed_delivery_is_printed_and_answered_204(served) -> None:
    server, out = served
    body = json.dumps(EVENT).encode()

    response = _post(server, body, _signed(body))

    assert response.status_code == 204
    assert json.loads(out.getvalue()) == {"id": "msg_abc", **EVENT}
    assert out.getvalue().count("\n") == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda body: _signed(body, secret=secret_generate()), 401),
        (lambda body: _signed(body, at=int(time.time()) - 301), 401),
        (lambda body: {k: v for k, v in _signed(body).items() if k != "webhook-id"}, 400),
    ],
)
def test_a_delivery_that_does_not_verify_is_refused_and_not_printed(
    served, headers, status
) -> None:
    server, out = served
    body = json.dumps(EVENT).encode()

    assert _post(server, body, headers(body)).status_code == status
    assert out.getvalue() == ""


def test_a_body_that_is_not_an_event_is_400_though_signed(served) -> None:
    server, out = served

    assert _post(server, b"[]", _signed(b"[]")).status_code == 400
    assert out.getvalue() == ""


def test_a_secret_file_without_a_secret_is_a_usage_error(tmp_path: Path, capsys) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("not a secret\n")

    code = main(["webhook", "serve", "--secret-file", str(secret_file), "--listen", "127.0.0.1:0"])

    assert code == 2
    assert "holds no webhook secret" in capsys.readouterr().err
