"""The SDK's one HTTP transport (``resolution.client.transport``) and the log reader on it:
reads retried after an overload, as long as ``Retry-After`` asks within a cap; writes sent
once unless made idempotent (an Idempotency-Key, a JWS), then retried with the same key and
bytes; bodies bounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.client import ApiError, Client, NetworkError, ResponseError
from resolution.client.logreader import LogReader
from resolution.client.transport import (
    BACKOFF,
    MAX_RETRY_AFTER,
    Transport,
    retry_delay,
)
from resolution.protocol.tiles import encode_entry_bundle
from tests.ca.flow import NUMBER


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, instead of waiting them."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


class Server:
    """A mock service answering each request with the next of ``answers``."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def transport(self, retries: int = 2) -> Transport:
        return Transport(http=httpx.Client(transport=httpx.MockTransport(self)), retries=retries)

    @property
    def methods(self) -> list[str]:
        return [request.method for request in self.seen]


def busy(retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, headers=headers, json={"type": "t/busy", "title": "Busy"})


def test_a_read_waits_as_long_as_retry_after_asks(slept):
    server = Server(busy("3"), httpx.Response(200, content=b"ok"))
    assert server.transport().request("GET", "http://rs.test/x").content == b"ok"
    assert server.methods == ["GET", "GET"] and slept == [3.0]


def test_retry_after_is_capped(slept):
    too_many = httpx.Response(429, headers={"Retry-After": "86400"})
    server = Server(busy("3600"), too_many, httpx.Response(200))
    server.transport().request("GET", "http://rs.test/x")
    assert slept == [MAX_RETRY_AFTER, MAX_RETRY_AFTER]


def test_retry_after_as_an_http_date_and_without_it_the_backoff(slept):
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    server = Server(busy(soon), busy(), httpx.Response(200))
    server.transport().request("GET", "http://rs.test/x")
    assert 3.0 < slept[0] <= 5.0 and slept[1] == BACKOFF * 2
    assert retry_delay(0, "soon") == BACKOFF  # an unreadable header is no instruction
    assert retry_delay(1, "0") == BACKOFF * 2  # never less than the backoff


def test_a_read_gives_up_after_its_retries_with_the_last_answer(slept):
    server = Server(busy("1"))
    with pytest.raises(ApiError) as refused:
        server.transport(retries=2).request("GET", "http://rs.test/x")
    assert refused.value.status == 503 and server.methods == ["GET"] * 3 and len(slept) == 2


def test_writes_are_sent_once_whatever_happens(slept):
    server = Server(busy("1"))
    with pytest.raises(ApiError):
        server.transport().request("POST", "http://rs.test/x", content=b"{}")
    lost = Server(httpx.ReadTimeout("no answer"))
    with pytest.raises(NetworkError, match=r"POST http://rs\.test/x: no answer in time"):
        lost.transport().request("POST", "http://rs.test/x", content=b"{}")
    for method in ("PUT", "DELETE"):
        with pytest.raises(ApiError):
            server.transport().request(method, "http://rs.test/x")
    assert server.methods == ["POST", "PUT", "DELETE"] and lost.methods == ["POST"]
    assert slept == []


def in_use() -> httpx.Response:
    problem = {"type": "https://rs.test/problems/idempotency-key-in-use", "title": "Running"}
    return httpx.Response(409, headers={"Retry-After": "1"}, json=problem)


def test_the_sdks_posts_carry_a_key_and_are_retried_with_it(slept):
    challenge = {
        "id": "6f1c0e4a-9d59-4a2e-9f0e-3c7c1d2b5a10",
        "number": NUMBER,
        "status": "pending",
        "expires_at": "2026-12-05T10:00:00Z",
        "attempts_left": 5,
        "delivery": "queued",
    }
    server = Server(
        httpx.ReadTimeout("no answer"), in_use(), busy("2"), httpx.Response(201, json=challenge)
    )
    http = httpx.Client(transport=httpx.MockTransport(server))
    with Client("http://rs.test", "k", http=http, retries=3) as client:
        assert client.challenge_start(NUMBER).id == challenge["id"]
        keys = {request.headers["Idempotency-Key"] for request in server.seen}
        assert len(server.seen) == 4 and len(keys) == 1  # one key for the call's attempts
        assert slept == [BACKOFF, 1.0, 2.0]
        server.seen.clear()
        client.challenge_start(NUMBER)
        assert server.seen[0].headers["Idempotency-Key"] not in keys  # a new call, a new key


def test_a_keyed_write_told_to_wait_long_fails_at_once(slept):
    limited = httpx.Response(429, headers={"Retry-After": "3600"}, json={"type": "t/limit"})
    server = Server(limited)
    with pytest.raises(ApiError) as refused:
        server.transport().request("POST", "http://rs.test/x", idempotent=True)
    assert refused.value.status == 429 and server.methods == ["POST"] and slept == []


def test_a_conflict_that_is_not_the_key_in_use_is_not_retried(slept):
    used = httpx.Response(409, json={"type": "https://rs.test/problems/challenge-used"})
    server = Server(used)
    with pytest.raises(ApiError):
        server.transport().request("POST", "http://rs.test/x", idempotent=True)
    assert server.methods == ["POST"] and slept == []


def test_a_jws_put_or_delete_is_retried_with_the_same_bytes(slept):
    for method in ("PUT", "DELETE"):
        server = Server(httpx.ConnectError("reset"), httpx.Response(200, content=b"{}"))
        server.transport().request(method, "http://rs.test/h", content=b"jws", idempotent=True)
        assert server.methods == [method, method]
        assert [request.content for request in server.seen] == [b"jws", b"jws"]


def test_a_network_error_is_retried_for_a_read(slept):
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, content=b"ok"))
    assert server.transport().request("GET", "http://rs.test/x").content == b"ok"
    assert slept == [BACKOFF]
    refused = Server(httpx.ConnectError("refused"))
    with pytest.raises(NetworkError) as failed:
        refused.transport(retries=1).request("GET", "http://rs.test/y")
    assert (failed.value.method, failed.value.url) == ("GET", "http://rs.test/y")
    assert isinstance(failed.value.cause, httpx.ConnectError)


def test_a_body_over_its_limit_is_refused(slept):
    server = Server(httpx.Response(200, content=b"x" * 101))
    with pytest.raises(ResponseError, match="over the 100-byte limit"):
        server.transport().request("GET", "http://rs.test/x", limit=100)
    assert server.transport().request("GET", "http://rs.test/x", limit=101).content == b"x" * 101


def _certificate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_x5u_fetch_is_retried_like_every_read(slept):
    pem = _certificate_pem()
    server = Server(busy("2"), httpx.Response(200, content=pem))
    http = httpx.Client(transport=httpx.MockTransport(server))
    with Client("http://rs.test", http=http) as client:
        (leaf,) = client.x5u_chain("https://other.example/certs/7.pem")
    assert leaf.serial_number == 7 and slept == [2.0]
    assert str(server.seen[0].url) == "https://other.example/certs/7.pem"


def test_the_sdk_auditor_and_monitor_read_the_log_alike(slept):
    bundle = encode_entry_bundle([b'{"kind":"x","v":1}'] * 3)
    served: dict[str, Any] = {"/log/tile/entries/000.p/3": bundle}

    def log(request: httpx.Request) -> httpx.Response:
        body = served.get(request.url.path)
        return httpx.Response(200, content=body) if body is not None else httpx.Response(404)

    http = httpx.Client(transport=httpx.MockTransport(log))
    with Client("http://rs.test", http=http) as client:
        assert client.log_entry_bundle(0, 3) == [b'{"kind":"x","v":1}'] * 3
        assert client.log_checkpoint() is None  # an empty log
        # Neither the partial bundle nor the full one: the log does not serve what it must.
        with pytest.raises(ResponseError, match=r"000\.p/2: HTTP 404 Not Found \(and no full"):
            client.log_entry_bundle(0, 2)
        reader = LogReader("http://rs.test/log", client.transport)
        with pytest.raises(ResponseError, match="entry bundle 0 has 3 entries, want 256"):
            served["/log/tile/entries/000"] = bundle
            reader.bundle(0, 256)


def test_sdk_errors_name_the_api_path():
    server = Server(httpx.Response(404, json={"type": "t/number-not-found", "title": "No"}))
    http = httpx.Client(transport=httpx.MockTransport(server))
    with Client("http://rs.test", "k", http=http) as client, pytest.raises(ApiError) as missing:
        client.number_lookup(NUMBER)
    assert str(missing.value).startswith(f"GET /v1/numbers/{NUMBER}: 404 number-not-found")
