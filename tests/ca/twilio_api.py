"""A local stand-in for Twilio's REST API, so that tests of the Twilio backend stay offline.

``with twilio_api() as api:`` serves on 127.0.0.1 (a free port) until the block ends. Point
``TWILIO_API_BASE_URL`` at ``api.base_url``; every request is recorded in ``api.requests``. Each
request is answered with the next entry of ``api.responses``, a ``(status, json)`` pair or
:data:`HANG` (no answer until the stand-in closes, to exercise timeouts); when the queue is
empty, with 201 and a Message resource like Twilio's.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl

HANG: Literal["hang"] = "hang"
# A hanging request is released when the stand-in closes, or after this long at most.
HANG_LIMIT_SECONDS = 10.0

Response = tuple[int, dict[str, Any]] | Literal["hang"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it; ``form`` holds the urlencoded body's fields."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def auth_user(self) -> str:
        """The user of the request's HTTP Basic credentials ("" if it has none)."""
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return ""
        return base64.b64decode(credentials).decode().partition(":")[0]


@dataclass
class TwilioApi:
    """What a test sees of the stand-in."""

    base_url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    responses: deque[Response] = field(default_factory=deque)
    # Set when the stand-in closes, to release the handlers of hanging requests.
    closing: threading.Event = field(default_factory=threading.Event)


def twilio_error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    """An error answer in Twilio's (legacy, non RFC 9457) JSON form."""
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def message_resource(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    """The Message resource Twilio returns for a new message sent with ``form``."""
    sid = "SM" + secrets.token_hex(16)
    now = formatdate(usegmt=True)
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if "MessagingServiceSid" in form else "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
        },
        "to": form.get("To"),
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


class StandInServer(ThreadingHTTPServer):
    """An HTTP server holding the :class:`TwilioApi` its handlers record into."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StandInHandler)
        host, port = self.server_address[:2]
        self.api = TwilioApi(base_url=f"http://{host!s}:{port}")


class StandInHandler(BaseHTTPRequestHandler):
    """Records each request, then answers it with the next queued response."""

    server: StandInServer

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        api = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        path = self.path.partition("?")[0]
        form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        api.requests.append(
            RecordedRequest(
                method=self.command, path=path, headers=dict(self.headers.items()), form=form
            )
        )
        response = api.responses.popleft() if api.responses else None
        if response == HANG:
            # Never answer: the client gives up first; the thread ends when the stand-in closes.
            api.closing.wait(HANG_LIMIT_SECONDS)
            return
        if not isinstance(response, tuple):
            # /2010-04-01/Accounts/<account sid>/Messages.json
            account_sid = path.split("/")[3] if path.count("/") >= 3 else ""
            response = (201, message_resource(account_sid, form))
        status, payload = response
        content = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``api.requests`` instead."""


@contextmanager
def twilio_api() -> Iterator[TwilioApi]:
    """Serve the stand-in in a daemon thread for the duration of the block."""
    server = StandInServer()
    # A short poll interval: shutdown() waits for the loop to notice, at the end of every test.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="twilio-stand-in", daemon=True
    )
    thread.start()
    try:
        yield server.api
    finally:
        server.api.closing.set()
        server.shutdown()
        server.server_close()
        thread.join()
