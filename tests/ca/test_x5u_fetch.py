"""A slow or failing x5u host costs a bounded time, once, not a worker per PASSporT check.

A real HTTPS server on 127.0.0.1 (its CA trusted through RS_FETCH_CA_FILE, its network
permitted) serves a chain, slowly or not, or fails; it counts the requests it receives.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ca.passports import X5uError, x5u_chain
from resolution.protocol.passport import passport_sign
from tests.ca.test_passports import (  # noqa: F401  (fixtures: a trusted carrier, a clean cache)
    Carrier,
    carrier,
    chains_forgotten,
    tls,
    verdict,
)
from tests.pki import NUMBER, p256
from tests.tls import TlsPki

pytestmark = pytest.mark.django_db

PEM_CHAIN = "application/pem-certificate-chain"


@dataclass
class Repository:
    """What the local server does, and the paths it was asked for."""

    chain: bytes
    port: int = 0
    delay: float = 0.0  # seconds before each answer
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    repository: Repository


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        repository = self.server.repository
        repository.requests.append(self.path)
        time.sleep(repository.delay)
        if self.path.startswith("/missing"):
            status, body = 404, b"not here"
        else:
            status, body = 200, repository.chain
        try:
            self.send_response(status)
            self.send_header("Content-Type", PEM_CHAIN)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def repository(tls: TlsPki, settings: Any) -> Iterator[Repository]:  # noqa: F811
    """An allowed x5u host on loopback, as an operator would permit an internal PKI host."""
    leaf = x509.load_der_x509_certificate(tls.document)
    repository = Repository(chain=leaf.public_bytes(serialization.Encoding.PEM))
    server = _Server(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.chain_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.repository = repository
    repository.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.RS_X5U_ALLOWED_HOSTS = [f"127.0.0.1:{repository.port}"]
    settings.RS_FETCH_PERMITTED_NETWORKS = ["127.0.0.1/32"]
    settings.RS_FETCH_CA_FILE = str(tls.ca_file)
    yield repository
    server.shutdown()
    server.server_close()
    thread.join()


def signed(x5u: str) -> str:
    return passport_sign(p256(), x5u=x5u, orig=NUMBER, dest=["33698765432"], iat=int(time.time()))


def timed_reasons(client: Any, x5u: str) -> tuple[list[str], float]:
    start = time.monotonic()
    answer = verdict(client, signed(x5u))
    return list(answer["reasons"]), time.monotonic() - start


def test_a_failed_fetch_is_remembered_briefly(
    api_client: Any, repository: Repository, settings: Any
) -> None:
    settings.RS_X5U_FAILURE_CACHE_SECONDS = 60
    url = repository.url("/missing.pem")

    for _ in range(3):
        assert timed_reasons(api_client, url)[0] == ["x5u-fetch-failed"]

    assert repository.requests == ["/missing.pem"]


def test_failures_are_not_remembered_when_the_setting_is_zero(
    api_client: Any, repository: Repository, settings: Any
) -> None:
    settings.RS_X5U_FAILURE_CACHE_SECONDS = 0
    url = repository.url("/missing.pem")

    for _ in range(2):
        assert timed_reasons(api_client, url)[0] == ["x5u-fetch-failed"]

    assert repository.requests == ["/missing.pem"] * 2


def test_a_host_too_slow_is_waited_for_once_within_the_budget_and_not_asked_again(
    api_client: Any, repository: Repository, settings: Any
) -> None:
    settings.RS_X5U_FETCH_TIMEOUT_SECONDS = 0.5
    repository.delay = 3.0

    reasons, first = timed_reasons(api_client, repository.url("/slow.pem"))
    # Another path on the same host: a signer cannot buy a fresh wait with a new name.
    again, second = timed_reasons(api_client, repository.url("/other.pem"))

    assert reasons == again == ["x5u-fetch-failed"]
    assert first < 2.0
    assert second < 0.4
    assert repository.requests == ["/slow.pem"]


@pytest.mark.parametrize("suffix", ["?v=1", "?", "#chain", "?a=1#b"])
def test_an_x5u_with_a_query_or_fragment_is_refused_unfetched(
    api_client: Any, repository: Repository, suffix: str
) -> None:
    reasons, _ = timed_reasons(api_client, repository.url("/chain.pem" + suffix))

    assert reasons == ["x5u-not-allowed"]
    assert repository.requests == []


def test_concurrent_checks_of_one_x5u_share_one_fetch(repository: Repository) -> None:
    repository.delay = 0.5
    url = repository.url("/chain.pem")

    with ThreadPoolExecutor(max_workers=6) as pool:
        chains = list(pool.map(lambda _: x5u_chain(url), range(6)))

    assert repository.requests == ["/chain.pem"]
    assert all(chain == chains[0] for chain in chains)
    assert len(chains[0]) == 1


def test_concurrent_checks_of_a_failing_x5u_share_its_failure(
    repository: Repository, settings: Any
) -> None:
    settings.RS_X5U_FAILURE_CACHE_SECONDS = 0
    repository.delay = 0.5
    url = repository.url("/missing.pem")

    def reason(_: int) -> str:
        try:
            x5u_chain(url)
        except X5uError as error:
            return error.reason
        return "fetched"

    with ThreadPoolExecutor(max_workers=4) as pool:
        reasons = list(pool.map(reason, range(4)))

    assert reasons == ["x5u-fetch-failed"] * 4
    assert repository.requests == ["/missing.pem"]


def test_a_max_age_of_thousands_of_digits_keeps_the_chain(
    api_client: Any,
    carrier: Carrier,  # noqa: F811
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    chain = carrier.repository.documents.served["/ee.pem"][1]
    signer.x5u = carrier.serve("/ee.pem", chain, **{"Cache-Control": "max-age=" + "9" * 5000})

    assert verdict(api_client, signer.sign())["verdict"] == "valid"
    assert verdict(api_client, signer.sign(dest=["33600000001"]))["verdict"] == "valid"
    assert carrier.requests == ["/ee.pem"]
