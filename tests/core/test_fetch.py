"""Fetching untrusted URLs (core.fetch): only what the allow-list names, never our own network.

A real HTTPS server on 127.0.0.1 with its own throwaway CA stands in for a certificate
repository; name resolution is injected, so that no test reaches the internet and names can
resolve to any address a test needs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest

from core.fetch import (
    FetchedDocument,
    FetchError,
    PostAnswer,
    Resolver,
    address_permitted,
    url_destination_check,
    url_fetch,
    url_fetch_configured,
    url_post,
)
from tests.tls import HOST, TlsPki, tls_pki_make

PKIX_CERT = "application/pkix-cert"
# Bytes the endless route offers; the fetch must stop long before.
ENDLESS_BYTES = 256 * 1024 * 1024


# --- A throwaway PKI and a local HTTPS server ---------------------------------------------------


@dataclass
class Origin:
    """What a test sees of the local server."""

    port: int
    pki: TlsPki
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # (path, headers, body) of each POST.
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    # Bytes the endless route got out before the client went away, once it has.
    endless_sent: list[int] = field(default_factory=list)
    endless_done: threading.Event = field(default_factory=threading.Event)

    @property
    def authority(self) -> str:
        return f"{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return f"https://{self.authority}{path}"


class _Handler(BaseHTTPRequestHandler):
    origin: ClassVar[Origin]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.origin.requests.append((self.path, dict(self.headers.items())))
        document = self.origin.pki.document
        if self.path == "/cert.pem":
            self._answer(200, PKIX_CERT, document, {"Cache-Control": "public, max-age=3600"})
        elif self.path == "/no-store.pem":
            self._answer(200, PKIX_CERT, document, {"Cache-Control": "no-store"})
        elif self.path.startswith("/max-age/"):
            max_age = unquote(self.path.removeprefix("/max-age/"), encoding="latin-1")
            self._answer(200, PKIX_CERT, document, {"Cache-Control": f"max-age={max_age}"})
        elif self.path == "/redirect":
            self._answer(302, "text/plain", b"", {"Location": self.origin.url("/cert.pem")})
        elif self.path == "/page.html":
            self._answer(200, "text/html; charset=utf-8", b"<p>not a certificate</p>")
        elif self.path == "/gzipped.pem":
            self._answer(200, PKIX_CERT, document, {"Content-Encoding": "gzip"})
        elif self.path == "/announced-large":
            self._answer(200, PKIX_CERT, b"", {"Content-Length": str(ENDLESS_BYTES)})
        elif self.path == "/endless":
            self._endless()
        elif self.path == "/trickle":
            self._trickle()
        else:
            self._answer(404, "text/plain", b"not here")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.origin.posts.append((self.path, dict(self.headers.items()), body))
        if self.path == "/redirect":
            self._answer(307, "text/plain", b"", {"Location": self.origin.url("/hook")})
        elif self.path.startswith("/status/"):
            self._answer(int(self.path.removeprefix("/status/")), "text/plain", b"noted")
        elif self.path == "/endless":
            self._endless()
        elif self.path == "/trickle":
            self._trickle()
        else:
            self._answer(204, "text/plain", b"")

    def _answer(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        headers = {"Content-Length": str(len(body)), **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _endless(self) -> None:
        """A body with no announced length (HTTP/1.0, ended by closing) that never ends."""
        self.send_response(200)
        self.send_header("Content-Type", PKIX_CERT)
        self.end_headers()
        chunk, sent = b"\x30" * 65536, 0
        try:
            while sent < ENDLESS_BYTES:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            self.origin.endless_sent.append(sent)
            self.origin.endless_done.set()

    def _trickle(self) -> None:
        """A byte every 50 ms: each read is quick, the whole answer takes a minute."""
        self.send_response(200)
        self.send_header("Content-Type", PKIX_CERT)
        self.send_header("Content-Length", "1200")
        self.end_headers()
        try:
            for _ in range(1200):
                self.wfile.write(b"\x30")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TlsPki:
    return tls_pki_make(tmp_path_factory.mktemp("fetch-pki"))


@pytest.fixture(scope="module")
def origin(pki: TlsPki) -> Iterator[Origin]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.chain_file, pki.key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state = Origin(port=server.server_address[1], pki=pki)
    _Handler.origin = state
    # A short poll interval: shutdown() waits for the loop to notice, at the end of every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def resolver_from(table: dict[str, list[str]]) -> Resolver:
    """A resolver answering from ``table``; other names do not exist."""

    def resolve(host: str) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


LOCAL = resolver_from({HOST: ["127.0.0.1"], "wrong.rs.test": ["127.0.0.1"]})


def fetch_local(origin: Origin, path: str, **options: Any) -> FetchedDocument:
    """A fetch from the local server, 127.0.0.1 permitted and its CA trusted unless overridden."""
    arguments: dict[str, Any] = {
        "allowed_hosts": [origin.authority],
        "max_bytes": 64 * 1024,
        "timeout": 5.0,
        "accept": PKIX_CERT,
        "permitted_networks": ["127.0.0.1/32"],
        "ca_file": origin.pki.ca_file,
        "resolver": LOCAL,
    }
    return url_fetch(origin.url(path), **{**arguments, **options})


def fetch_remote(url: str, addresses: list[str], allowed_hosts: list[str]) -> FetchedDocument:
    """A fetch from a host whose name resolves to ``addresses``: none of them is public, so
    it ends before connecting."""
    return url_fetch(
        url,
        allowed_hosts=allowed_hosts,
        max_bytes=64 * 1024,
        timeout=2.0,
        accept=PKIX_CERT,
        resolver=lambda host: addresses,
    )


def failure(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as caught:
        call()
    return caught.value


# --- A fetch that is allowed ---------------------------------------------------------------------


def test_a_document_on_an_allowed_host_is_fetched(origin, monkeypatch):
    # A proxy in the environment would let it see, or change, what we fetch: it is not used.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    before = dt.datetime.now(dt.UTC)

    document = fetch_local(origin, "/cert.pem#fragment")

    assert document.body == origin.pki.document
    assert document.content_type == PKIX_CERT
    assert document.max_age == 3600
    assert document.url == origin.url("/cert.pem")
    assert before <= document.fetched_at <= dt.datetime.now(dt.UTC)
    path, headers = origin.requests[-1]
    assert path == "/cert.pem"
    assert headers["Host"] == origin.authority
    assert headers["Accept"] == PKIX_CERT
    assert headers["Accept-Encoding"] == "identity"


def test_no_store_gives_a_max_age_of_zero(origin):
    assert fetch_local(origin, "/no-store.pem").max_age == 0


@pytest.mark.parametrize(
    ("max_age", "read"),
    [
        ("60", 60),
        ("0060", 60),
        # RFC 9111 §1.2.2: a delta-seconds too large to hold is taken as 2**31.
        ("9" * 5000, 2**31),
        ("1" + "0" * 11, 2**31),
        ("-5", None),
        ("%B2", None),  # "²" in Latin-1: a digit to str.isdigit, not to HTTP
    ],
)
def test_max_age_is_read_within_bounds(origin, max_age, read):
    assert fetch_local(origin, f"/max-age/{max_age}").max_age == read


def test_a_body_of_exactly_max_bytes_is_fetched(origin):
    size = len(origin.pki.document)

    assert fetch_local(origin, "/cert.pem", max_bytes=size).body == origin.pki.document
    assert failure(lambda: fetch_local(origin, "/cert.pem", max_bytes=size - 1)).reason == (
        "too-large"
    )


def test_the_operator_settings_permit_a_network_and_trust_a_ca(origin, settings):
    def fetch() -> FetchedDocument:
        return url_fetch_configured(
            f"https://127.0.0.1:{origin.port}/cert.pem",
            allowed_hosts=[f"127.0.0.1:{origin.port}"],
            max_bytes=64 * 1024,
            timeout=5.0,
            accept=[PKIX_CERT, "application/pem-certificate-chain"],
        )

    settings.RS_FETCH_PERMITTED_NETWORKS = []
    settings.RS_FETCH_CA_FILE = str(origin.pki.ca_file)
    assert failure(fetch).reason == "address-not-permitted"

    settings.RS_FETCH_PERMITTED_NETWORKS = ["127.0.0.1/32"]
    settings.RS_FETCH_CA_FILE = ""
    assert failure(fetch).reason == "tls"

    settings.RS_FETCH_CA_FILE = str(origin.pki.ca_file)
    assert fetch().body == origin.pki.document


# --- Addresses ----------------------------------------------------------------------------------


def test_loopback_is_refused_unless_permitted_although_the_host_is_allowed(origin):
    seen = len(origin.requests)

    error = failure(lambda: fetch_local(origin, "/cert.pem", permitted_networks=[]))

    assert error.reason == "address-not-permitted"
    assert len(origin.requests) == seen  # nothing was sent


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "127.0.0.1",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:db8::1",  # documentation
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(address):
    error = failure(
        lambda: fetch_remote("https://certs.example.org/ee.pem", [address], ["certs.example.org"])
    )

    assert error.reason == "address-not-permitted"
    assert address_permitted(ipaddress.ip_address(address)) is False


def test_one_non_public_address_among_public_ones_refuses_the_fetch():
    error = failure(
        lambda: fetch_remote(
            "https://certs.example.org/ee.pem",
            ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.0.0.1"],
            ["certs.example.org"],
        )
    )

    assert error.reason == "address-not-permitted"


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_permitted(address):
    assert address_permitted(ipaddress.ip_address(address))


def test_permitted_networks_let_internal_addresses_through_but_never_unspecified_or_multicast():
    everything = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    internal = [ipaddress.ip_network("10.20.0.0/16")]

    assert address_permitted(ipaddress.ip_address("10.20.1.2"), permitted_networks=internal)
    assert not address_permitted(ipaddress.ip_address("10.21.1.2"), permitted_networks=internal)
    assert address_permitted(ipaddress.ip_address("::ffff:10.20.1.2"), permitted_networks=internal)
    never = ("0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:0.0.0.0")  # noqa: S104
    for address in never:
        assert not address_permitted(ipaddress.ip_address(address), permitted_networks=everything)


def test_the_name_is_resolved_once_and_the_checked_address_connected_to(origin, monkeypatch):
    # DNS rebinding: the first answer passes the check, later ones would point elsewhere.
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        answers.append(host)
        address = "127.0.0.1" if len(answers) == 1 else "10.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    document = fetch_local(origin, "/cert.pem", resolver=None)

    assert document.body == origin.pki.document
    assert answers == [HOST]


def test_a_name_that_does_not_resolve_fails_to_connect():
    assert failure(
        lambda: fetch_remote("https://a.example.org/", [], ["*.example.org"])
    ).reason == ("connect")
    error = failure(
        lambda: url_fetch(
            "https://b.example.org/",
            allowed_hosts=["*.example.org"],
            max_bytes=1024,
            timeout=2.0,
            accept=PKIX_CERT,
            resolver=resolver_from({}),
        )
    )
    assert error.reason == "connect"


def test_a_closed_port_fails_to_connect(origin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = failure(
        lambda: url_fetch(
            f"https://{HOST}:{port}/cert.pem",
            allowed_hosts=[f"{HOST}:{port}"],
            max_bytes=1024,
            timeout=5.0,
            accept=PKIX_CERT,
            permitted_networks=["127.0.0.1/32"],
            resolver=LOCAL,
        )
    )

    assert error.reason == "connect"


# --- URLs and the allow-list --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://certs.example.org/ee.pem", "scheme"),
        ("HTTP://certs.example.org/ee.pem", "scheme"),
        ("ftp://certs.example.org/ee.pem", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("//certs.example.org/ee.pem", "scheme"),
        ("https:certs.example.org/ee.pem", "url"),
        ("https://user@certs.example.org/ee.pem", "userinfo"),
        ("https://user:secret@certs.example.org/ee.pem", "userinfo"),
        ("https://certs.example.org@evil.example.net/ee.pem", "userinfo"),
        ("https://certs.example.org\\@evil.example.net/ee.pem", "url"),
        ("https://c\u0435rts.example.org/ee.pem", "url"),  # Cyrillic U+0435 for the "e"
        ("https://certs.example.org/\u00e9e.pem", "url"),
        ("https://certs.exa\tmple.org/ee.pem", "url"),
        ("https://certs.example.org /ee.pem", "url"),
        ("https://certs.example.org./ee.pem", "url"),
        ("https://certs..example.org/ee.pem", "url"),
        ("https://-certs.example.org/ee.pem", "url"),
        ("https://certs_1.example.org/ee.pem", "url"),
        ("https://certs%2eexample.org/ee.pem", "url"),
        ("https://127.1/ee.pem", "url"),
        ("https://2130706433/ee.pem", "url"),
        ("https://0x7f.0.0.1/ee.pem", "url"),
        ("https://[::1%25eth0]/ee.pem", "url"),
        ("https:///ee.pem", "url"),
        ("https://certs.example.org:99999/ee.pem", "url"),
        ("https://certs.example.org:0/ee.pem", "url"),
        ("https://certs.example.org:8443/ee.pem", "port"),
        ("https://evil.example.net/ee.pem", "host-not-allowed"),
        ("https://127.0.0.1/ee.pem", "host-not-allowed"),
        ("https://[::1]/ee.pem", "host-not-allowed"),
    ],
)
def test_urls_that_are_not_https_to_an_allowed_host_are_refused(url, reason):
    error = failure(lambda: fetch_remote(url, ["10.0.0.1"], ["certs.example.org"]))

    assert error.reason == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://certs.example.org/ee.pem",
        "https://CERTS.Example.ORG/ee.pem",
        "https://certs.example.org:443/ee.pem",
        "https://certs.example.org?serial=1",
    ],
)
def test_an_allowed_host_gets_as_far_as_the_address_check(url):
    # The name is let through; only its (private) address stops the fetch.
    error = failure(lambda: fetch_remote(url, ["10.0.0.1"], ["certs.example.org"]))

    assert error.reason == "address-not-permitted"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("a.example.org", True),
        ("a.b.example.org", True),
        ("A.B.Example.ORG", True),
        ("xn--e1aybc.example.org", True),
        ("example.org", False),
        ("badexample.org", False),
        ("aexample.org", False),
        ("example.org.evil.net", False),
        ("a.example.org.evil.net", False),
        ("a.example.com", False),
    ],
)
def test_a_wildcard_covers_every_name_below_its_domain_only(host, allowed):
    error = failure(lambda: fetch_remote(f"https://{host}/ee.pem", ["10.0.0.1"], ["*.example.org"]))

    assert error.reason == ("address-not-permitted" if allowed else "host-not-allowed")


def test_an_exact_entry_covers_no_name_below_it():
    error = failure(
        lambda: fetch_remote("https://a.certs.example.org/", ["10.0.0.1"], ["certs.example.org"])
    )

    assert error.reason == "host-not-allowed"


def test_another_port_must_be_named_by_the_entry():
    entries = ["*.example.org:8443", "[2001:db8::1]:8443"]

    def reason(url: str) -> str:
        return failure(lambda: fetch_remote(url, ["10.0.0.1"], entries)).reason

    assert reason("https://a.example.org:8443/") == "address-not-permitted"
    assert reason("https://a.example.org/") == "port"
    assert reason("https://a.example.org:8444/") == "port"
    assert reason("https://[2001:db8::1]:8443/") == "address-not-permitted"


@pytest.mark.parametrize("entry", ["*", "*.*.example.org", "*.10.0.0.1", "https://x.org", "a b"])
def test_a_malformed_allow_list_entry_is_a_programming_error(entry):
    with pytest.raises(ValueError, match="entry"):
        fetch_remote("https://certs.example.org/", ["10.0.0.1"], [entry])


# --- Responses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/redirect", "HTTP 302"), ("/missing", "HTTP 404")])
def test_anything_but_200_is_refused_and_redirects_are_not_followed(origin, path, status):
    seen = len(origin.requests)

    error = failure(lambda: fetch_local(origin, path))

    assert (error.reason, error.detail) == ("status", status)
    assert [request[0] for request in origin.requests[seen:]] == [path]


def test_a_document_of_another_media_type_is_refused(origin):
    error = failure(lambda: fetch_local(origin, "/page.html"))

    assert (error.reason, error.detail) == ("content-type", "text/html")


def test_a_content_coding_that_was_not_asked_for_is_refused(origin):
    assert failure(lambda: fetch_local(origin, "/gzipped.pem")).reason == "content-type"


def test_an_announced_length_over_max_bytes_is_refused_before_the_body(origin):
    started = time.monotonic()

    error = failure(lambda: fetch_local(origin, "/announced-large"))

    assert error.reason == "too-large"
    assert time.monotonic() - started < 2


def test_a_body_that_does_not_end_is_cut_off_at_max_bytes(origin):
    error = failure(lambda: fetch_local(origin, "/endless", max_bytes=100_000))

    assert error.reason == "too-large"
    assert origin.endless_done.wait(10)
    # Only what socket buffers hold got out before the fetch closed the connection.
    assert origin.endless_sent[0] < ENDLESS_BYTES // 8


def test_a_slow_server_times_out_within_the_timeout_for_the_whole_fetch(origin):
    started = time.monotonic()

    error = failure(lambda: fetch_local(origin, "/trickle", timeout=0.5))

    assert error.reason == "timeout"
    assert time.monotonic() - started < 1.5


def test_slow_name_resolution_times_out():
    def resolve(host: str) -> list[str]:
        time.sleep(1.0)
        return ["93.184.215.14"]

    started = time.monotonic()
    error = failure(
        lambda: url_fetch(
            "https://certs.example.org/",
            allowed_hosts=["certs.example.org"],
            max_bytes=1024,
            timeout=0.2,
            accept=PKIX_CERT,
            resolver=resolve,
        )
    )

    assert error.reason == "timeout"
    assert time.monotonic() - started < 0.8


# --- TLS ----------------------------------------------------------------------------------------


def test_a_certificate_for_another_name_is_refused(origin):
    url = f"https://wrong.rs.test:{origin.port}/cert.pem"

    error = failure(
        lambda: url_fetch(
            url,
            allowed_hosts=[f"wrong.rs.test:{origin.port}"],
            max_bytes=64 * 1024,
            timeout=5.0,
            accept=PKIX_CERT,
            permitted_networks=["127.0.0.1/32"],
            ca_file=origin.pki.ca_file,
            resolver=LOCAL,
        )
    )

    assert error.reason == "tls"
    assert "wrong.rs.test" in error.detail


def test_a_certificate_from_an_untrusted_ca_is_refused(origin):
    error = failure(lambda: fetch_local(origin, "/cert.pem", ca_file=None))

    assert error.reason == "tls"


# --- POST (webhooks): the same guarantees, with no host allow-list ------------------------------


def post_local(origin: Origin, path: str, **options: Any) -> PostAnswer:
    """A POST to the local server, 127.0.0.1 permitted and its CA trusted unless overridden."""
    arguments: dict[str, Any] = {
        "content": b'{"type":"test"}',
        "content_type": "application/json",
        "headers": [("webhook-id", "msg_1")],
        "max_bytes": 1024,
        "timeout": 5.0,
        "permitted_networks": ["127.0.0.1/32"],
        "ca_file": origin.pki.ca_file,
        "resolver": LOCAL,
    }
    return url_post(origin.url(path), **{**arguments, **options})


def test_a_post_sends_its_body_and_headers_and_returns_the_status(origin):
    answer = post_local(origin, "/hook")

    assert answer == PostAnswer(status=204, body=b"")
    path, headers, body = origin.posts[-1]
    assert (path, body) == ("/hook", b'{"type":"test"}')
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == "msg_1"
    assert headers["Host"] == origin.authority


@pytest.mark.parametrize("status", [400, 410, 500, 503])
def test_a_post_returns_any_status_for_its_caller_to_judge(origin, status):
    assert post_local(origin, f"/status/{status}") == PostAnswer(status=status, body=b"noted")


def test_a_post_follows_no_redirect(origin):
    before = len(origin.posts)

    assert post_local(origin, "/redirect").status == 307
    assert len(origin.posts) == before + 1


def test_a_post_reads_at_most_max_bytes_of_the_answer(origin):
    answer = post_local(origin, "/endless", max_bytes=100)

    assert (answer.status, len(answer.body)) == (200, 100)


def test_a_post_to_a_slow_server_times_out_within_the_timeout(origin):
    started = time.monotonic()

    error = failure(lambda: post_local(origin, "/trickle", timeout=0.5, max_bytes=2000))

    assert error.reason == "timeout"
    assert time.monotonic() - started < 1.5


def test_a_post_to_loopback_is_refused_unless_permitted(origin):
    before = len(origin.posts)

    error = failure(lambda: post_local(origin, "/hook", permitted_networks=[]))

    assert error.reason == "address-not-permitted"
    assert len(origin.posts) == before  # nothing reached the server


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.org/in", "scheme"),
        ("https://user:secret@hooks.example.org/in", "userinfo"),
        ("https://hooks.exa\tmple.org/in", "url"),
    ],
)
def test_a_post_to_a_url_we_do_not_accept_is_refused(url, reason):
    error = failure(
        lambda: url_post(
            url,
            content=b"{}",
            content_type="application/json",
            max_bytes=1024,
            timeout=1.0,
            resolver=lambda host: ["93.184.215.14"],
        )
    )

    assert error.reason == reason


def test_a_post_checks_the_certificate(origin):
    error = failure(lambda: post_local(origin, "/hook", ca_file=None))

    assert error.reason == "tls"


# --- Checking a URL ahead (a webhook's registration) --------------------------------------------


@pytest.mark.parametrize(
    ("url", "addresses", "reason"),
    [
        ("https://hooks.example.org/in", ["10.1.2.3"], "address-not-permitted"),
        ("https://hooks.example.org/in", ["93.184.215.14", "127.0.0.1"], "address-not-permitted"),
        ("https://hooks.example.org/in", ["fd00::1"], "address-not-permitted"),
        ("https://93.184.215.14/in", ["93.184.215.14"], "host-literal"),
        ("https://[2606:2800:220:1::1]/in", ["2606:2800:220:1::1"], "host-literal"),
        ("http://hooks.example.org/in", ["93.184.215.14"], "scheme"),
        ("https://u:p@hooks.example.org/in", ["93.184.215.14"], "userinfo"),
    ],
)
def test_a_destination_that_a_post_would_refuse_is_refused_ahead(url, addresses, reason):
    error = failure(lambda: url_destination_check(url, timeout=1.0, resolver=lambda h: addresses))

    assert error.reason == reason


def test_a_destination_whose_name_does_not_resolve_is_refused_ahead():
    error = failure(
        lambda: url_destination_check(
            "https://nowhere.example.org/in", timeout=1.0, resolver=resolver_from({})
        )
    )

    assert error.reason == "connect"


def test_a_public_destination_or_a_permitted_one_passes():
    url_destination_check(
        "https://hooks.example.org:8443/in", timeout=1.0, resolver=lambda h: ["93.184.215.14"]
    )
    url_destination_check(
        "https://localhost/in",
        timeout=1.0,
        permitted_networks=["127.0.0.0/8", "::1/128"],
        resolver=lambda h: ["127.0.0.1", "::1"],
    )
