"""Fetching documents named by untrusted URLs (x5u certificates, CRLs) without SSRF.

A PASSporT's ``x5u`` header is chosen by whoever signed it (DESIGN §4.4), so following it must
not let them reach into our own network or stall a worker. :func:`url_fetch` therefore:

- takes only ``https`` URLs written in plain ASCII, without userinfo, whose host is on an
  allow-list (the exact name, or ``*.example.org`` for any name below ``example.org``) and whose
  port is 443 unless the allow-list entry names another;
- resolves the host once, refuses the fetch if any of its addresses is not a globally routable
  unicast address (loopback, private, link-local, shared, reserved, multicast, IPv4 embedded in
  IPv6 of those, ...) unless it lies in a network the operator permitted, and then connects to
  the address it checked, so a second DNS answer (rebinding) is never used. TLS is still
  verified against the host name, which is also the SNI and the Host header;
- follows no redirect, uses no proxy, sends one HTTP/1.1 GET, stops reading past ``max_bytes``,
  and gives up when ``timeout`` seconds have passed for the whole fetch, resolution included.

:func:`url_post` sends one POST (a webhook) the same way, with every guarantee but the host
allow-list: a provider names its own endpoint, so the address checks are what keep it out of
our network. Its caller may also allow plain ``http`` (``plain_http``): a witness's submission
URL, whose answers are signatures checked on their own, so the channel needs no integrity.
:func:`url_destination_check` makes those checks ahead, when the URL is registered, and also
refuses IP literals there: an endpoint is named by a host name.

The HTTP client is httpcore (httpx's transport layer, which never reads proxy settings from the
environment and never follows redirects) over a network backend that does the resolving and
checking. This module knows no Django; :func:`url_fetch_configured` and
:func:`operator_options` add the operator's ``RS_FETCH_*`` settings.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypedDict

import certifi
import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Host name -> its addresses, as text ("192.0.2.1", "2001:db8::1"); raises OSError on failure.
Resolver = Callable[[str], Iterable[str]]

FetchFailure = Literal[
    "url",  # not a URL we accept: non-ASCII (IDN), spaces, backslashes, odd IPv4 forms, no host
    "scheme",  # not https (nor http, where the caller allows it)
    "userinfo",  # user:password@ in the URL
    "port",  # a port the allow-list entry for the host does not name
    "host-not-allowed",
    "host-literal",  # an IP address where a host name is required (a webhook's URL)
    "address-not-permitted",  # the host resolves to an address that is not public
    "too-large",
    "timeout",
    "status",  # not 200 (redirects included)
    "content-type",  # not one of the accepted media types, or an unrequested content coding
    "connect",  # the name did not resolve, the connection failed, or the answer was not HTTP
    "tls",  # the handshake or the certificate check failed
]

HTTPS_PORT = 443
HTTP_PORT = 80
# The largest delta-seconds a cache needs to read (RFC 9111 §1.2.2).
MAX_DELTA_SECONDS = 2**31
USER_AGENT = b"resolution-service-fetch/1"

# RFC 6598 shared address space (carrier-grade NAT); ipaddress counts it as neither private nor
# global, so it is named here.
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# RFC 6052 well-known NAT64 prefix: ipaddress calls it global, but it reaches the IPv4 address
# in its last 32 bits, which must be checked in turn.
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# host, or [IPv6], then an optional :port; userinfo is refused before this is applied.
_AUTHORITY = re.compile(r"(?P<host>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")


class AllowedHostsError(ValueError):
    """An ``allowed_hosts`` entry is not one: the operator's configuration, not the URL."""


class FetchError(Exception):
    """A URL was not fetched. ``reason`` is one stable word (:data:`FetchFailure`) callers may
    show or branch on; ``detail`` is for logs and may quote the untrusted URL's parts."""

    def __init__(self, reason: FetchFailure, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: FetchFailure = reason
        self.detail = detail


@dataclass(frozen=True)
class FetchedDocument:
    """A document fetched whole: its body is at most the ``max_bytes`` asked for."""

    url: str  # as requested, in normal form (no fragment, no default port)
    body: bytes
    content_type: str  # the media type, lower case, without parameters
    fetched_at: datetime
    # Seconds the server says the document stays fresh (Cache-Control max-age); 0 for no-store
    # or no-cache; None when it says nothing.
    max_age: int | None


def url_fetch(
    url: str,
    *,
    allowed_hosts: Collection[str],
    max_bytes: int,
    timeout: float,
    accept: str | Collection[str],
    permitted_networks: Collection[str | IPNetwork] = (),
    ca_file: str | Path | None = None,
    resolver: Resolver | None = None,
) -> FetchedDocument:
    """GET ``url`` if it is safe to, and return its body; raise :class:`FetchError` otherwise.

    ``allowed_hosts`` entries are ``host``, ``host:port``, ``*.domain`` or ``*.domain:port``
    (IP literals allowed, IPv6 in brackets, never under a wildcard); a malformed entry raises
    :class:`AllowedHostsError` (a ValueError). ``accept`` is the media type, or types, the
    body may have. Addresses in ``permitted_networks`` (CIDRs) are let through although they
    are not public; ``ca_file`` is a PEM bundle trusted in addition to the public CAs
    (certifi). ``resolver`` replaces the system's name resolution (tests).
    """
    connection = _Connection.within(timeout, permitted_networks, ca_file, resolver)
    target = _url_parse(url)
    _allowed_check(target, allowed_hosts)
    media_types = [accept] if isinstance(accept, str) else list(accept)
    headers = [(b"Accept", ", ".join(media_types).encode("ascii"))]
    with _exchange(target, "GET", headers, None, connection) as response:
        content_type, max_age = _response_check(response, media_types, max_bytes)
        body = _body_read(response, max_bytes)
    return FetchedDocument(
        url=f"https://{target.authority}{target.path}",
        body=body,
        content_type=content_type,
        fetched_at=datetime.now(UTC),
        max_age=max_age,
    )


@dataclass(frozen=True)
class PostAnswer:
    """What the server answered a POST: any status (the caller judges it), and the start of
    the body, at most the ``max_bytes`` asked for (the rest is never read)."""

    status: int
    body: bytes


def url_post(
    url: str,
    *,
    content: bytes,
    content_type: str,
    headers: Collection[tuple[str, str]] = (),
    max_bytes: int,
    timeout: float,
    permitted_networks: Collection[str | IPNetwork] = (),
    ca_file: str | Path | None = None,
    resolver: Resolver | None = None,
    plain_http: bool = False,
) -> PostAnswer:
    """POST ``content`` to ``url`` if it is safe to; the answer, whatever its status. Raise
    :class:`FetchError` when no answer came: the URL or its addresses are refused (as
    :func:`url_fetch` refuses them, with no host allow-list), the connection or TLS failed, or
    ``timeout`` seconds passed for the whole exchange. A redirect is an answer like any other,
    never followed. ``headers`` are added to the request (names and values in ASCII).
    ``plain_http`` also accepts ``http`` URLs (sent without TLS; the address checks still hold).
    """
    connection = _Connection.within(timeout, permitted_networks, ca_file, resolver)
    target = _url_parse(url, plain_http=plain_http)
    request_headers = [
        (b"Content-Type", content_type.encode("ascii")),
        (b"Content-Length", str(len(content)).encode("ascii")),
        *((name.encode("ascii"), value.encode("ascii")) for name, value in headers),
    ]
    with _exchange(target, "POST", request_headers, content, connection) as response:
        body = bytearray()
        for chunk in response.iter_stream():
            body += chunk
            if len(body) >= max_bytes:
                break  # leaving the stream unread closes the connection
    return PostAnswer(status=response.status, body=bytes(body[:max_bytes]))


def url_destination_check(
    url: str,
    *,
    timeout: float,
    permitted_networks: Collection[str | IPNetwork] = (),
    resolver: Resolver | None = None,
) -> None:
    """Refuse (:class:`FetchError`) a URL that :func:`url_post` would refuse now, or whose host
    is an IP literal: checked when a URL is registered, so that its owner hears at once. It
    resolves the name but connects nowhere; each POST checks again (a name's addresses change).
    """
    deadline = time.monotonic() + timeout
    target = _url_parse(url)
    if target.literal:
        raise FetchError("host-literal", "the URL must name its host, not an IP address")
    networks = [_network(network) for network in permitted_networks]
    addresses = _resolve(resolver or system_resolve, target.host, deadline)
    _addresses_check(target.host, addresses, networks)


@dataclass(frozen=True)
class _Connection:
    """How a request connects: by when it must be over, where it may go, whom it trusts."""

    deadline: float  # time.monotonic()
    timeout: float
    permitted_networks: list[IPNetwork]
    ca_file: str | None
    resolver: Resolver

    @classmethod
    def within(
        cls,
        timeout: float,
        permitted_networks: Collection[str | IPNetwork],
        ca_file: str | Path | None,
        resolver: Resolver | None,
    ) -> _Connection:
        return cls(
            deadline=time.monotonic() + timeout,
            timeout=timeout,
            permitted_networks=[_network(network) for network in permitted_networks],
            ca_file=str(ca_file) if ca_file else None,
            resolver=resolver or system_resolve,
        )


@contextmanager
def _exchange(
    target: _Target,
    method: Literal["GET", "POST"],
    headers: list[tuple[bytes, bytes]],
    content: bytes | None,
    connection: _Connection,
) -> Iterator[httpcore.Response]:
    """One request to ``target`` over a checked connection, its response open in the block;
    httpcore's failures, in the request or in the block, become :class:`FetchError`."""
    backend = _CheckedBackend(
        resolver=connection.resolver,
        permitted_networks=connection.permitted_networks,
        deadline=connection.deadline,
    )
    request_headers = [
        (b"Host", target.authority.encode("ascii")),
        *headers,
        (b"Accept-Encoding", b"identity"),
        (b"User-Agent", USER_AGENT),
        (b"Connection", b"close"),
    ]
    request_url = httpcore.URL(
        scheme=target.scheme.encode("ascii"),
        host=target.host.encode("ascii"),
        port=target.port,
        target=target.path.encode("ascii"),
    )
    # Each operation may take the whole budget; the backend's streams cut it to what is left.
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), connection.timeout)
    with httpcore.ConnectionPool(
        ssl_context=_ssl_context(connection.ca_file),
        network_backend=backend,
        max_connections=1,
        http1=True,
        http2=False,
        retries=0,
    ) as pool:
        try:
            with pool.stream(
                method,
                request_url,
                headers=request_headers,
                content=content,
                extensions={"timeout": timeouts},
            ) as response:
                yield response
        except httpcore.TimeoutException as exc:
            raise FetchError("timeout", str(exc)) from exc
        except httpcore.ProtocolError as exc:
            raise FetchError("connect", f"not an HTTP/1.1 answer: {exc}") from exc
        except httpcore.NetworkError as exc:
            raise FetchError("connect", str(exc)) from exc


def url_fetch_configured(
    url: str,
    *,
    allowed_hosts: Collection[str],
    max_bytes: int,
    timeout: float,
    accept: str | Collection[str],
) -> FetchedDocument:
    """:func:`url_fetch` with the operator's ``RS_FETCH_PERMITTED_NETWORKS`` and
    ``RS_FETCH_CA_FILE``: what the service's own code calls."""
    return url_fetch(
        url,
        allowed_hosts=allowed_hosts,
        max_bytes=max_bytes,
        timeout=timeout,
        accept=accept,
        **operator_options(),
    )


class OperatorOptions(TypedDict):
    permitted_networks: list[str]
    ca_file: str | None


def operator_options() -> OperatorOptions:
    """The operator's ``RS_FETCH_PERMITTED_NETWORKS`` and ``RS_FETCH_CA_FILE``, as the keyword
    arguments of :func:`url_fetch`, :func:`url_post` and :func:`url_destination_check` (which
    takes the first alone)."""
    # Imported here so that the rest of this module can be used without Django.
    from django.conf import settings

    return OperatorOptions(
        permitted_networks=list(settings.RS_FETCH_PERMITTED_NETWORKS),
        ca_file=settings.RS_FETCH_CA_FILE or None,
    )


def address_permitted(
    address: IPAddress, *, permitted_networks: Collection[IPNetwork] = ()
) -> bool:
    """Whether a fetch may connect to ``address``: a globally routable unicast address, or one
    in ``permitted_networks``. Unspecified and multicast addresses are never permitted (the
    first connects to this very host), whatever the networks say."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is an IPv4 connection to a.b.c.d
    if address.is_unspecified or address.is_multicast:
        return False
    if any(address in network for network in permitted_networks):
        return True
    return _globally_routable(address)


def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order of preference."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


# --- The URL and the allow-list ------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    host: str  # lower case; an IPv6 literal without its brackets
    port: int
    path: str  # path and query, as sent in the request line
    literal: bool  # the host is an IP address
    scheme: str = "https"

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = HTTPS_PORT if self.scheme == "https" else HTTP_PORT
        return host if self.port == default else f"{host}:{self.port}"


def _url_parse(url: str, *, plain_http: bool = False) -> _Target:
    # Printable ASCII only: URL parsers silently drop tabs and newlines, IDNA has look-alike
    # letters, and parsers disagree about backslashes (WHATWG reads them as "/").
    if not all("!" <= char <= "~" for char in url) or "\\" in url:
        raise FetchError("url", "only printable ASCII without spaces or backslashes")
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme != "https" and not (plain_http and scheme == "http"):
        raise FetchError("scheme", "only https URLs are fetched")
    if not rest.startswith("//"):
        raise FetchError("url", "no host")
    rest = rest.removeprefix("//")
    authority, path = _authority_split(rest)
    if "@" in authority:
        raise FetchError("userinfo", "URLs with a user or password are not fetched")
    match = _AUTHORITY.fullmatch(authority.lower())
    if match is None:
        raise FetchError("url", "no valid host")
    host, literal = _host_parse(match["host"])
    port = _port_parse(match["port"], HTTPS_PORT if scheme == "https" else HTTP_PORT)
    return _Target(host=host, port=port, path=path, literal=literal, scheme=scheme)


def _authority_split(rest: str) -> tuple[str, str]:
    """``host:port/path?query#fragment`` -> (``host:port``, ``/path?query``)."""
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, path = rest[:end], rest[end:].partition("#")[0]
    if not path.startswith("/"):
        path = "/" + path
    return authority, path


def _host_parse(text: str) -> tuple[str, bool]:
    """(host in normal form, whether it is an IP literal); FetchError("url") if malformed."""
    if text.startswith("["):
        try:
            return str(ipaddress.IPv6Address(text[1:-1])), True
        except ValueError:
            raise FetchError("url", "malformed IPv6 literal") from None
    labels = text.split(".")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # A numeric last label makes resolvers and browsers read the host as IPv4, in forms
        # such as "127.1", "2130706433" or "0x7f.1": only the dotted quad is accepted.
        try:
            return str(ipaddress.IPv4Address(text)), True
        except ValueError:
            raise FetchError("url", "IPv4 hosts must be dotted quads") from None
    if len(text) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise FetchError("url", "the host is not an ASCII DNS name")
    return text, False


def _port_parse(text: str | None, default: int = HTTPS_PORT) -> int:
    if text is None:
        return default
    port = int(text)
    if not 0 < port < 65536:
        raise FetchError("url", "port out of range")
    return port


@dataclass(frozen=True)
class _AllowedHost:
    host: str  # for a wildcard, the domain below which names match
    wildcard: bool
    port: int

    @classmethod
    def parse(cls, entry: str) -> _AllowedHost:
        text = entry.strip().lower()
        wildcard = text.startswith("*.")
        match = _AUTHORITY.fullmatch(text.removeprefix("*."))
        try:
            if match is None:
                raise FetchError("url")
            host, literal = _host_parse(match["host"])
            port = _port_parse(match["port"])
        except FetchError:
            raise AllowedHostsError(f"not an allowed-host entry: {entry!r}") from None
        if wildcard and literal:
            raise AllowedHostsError(
                f"not an allowed-host entry (a wildcard over IP addresses): {entry!r}"
            )
        return cls(host=host, wildcard=wildcard, port=port)

    def covers(self, target: _Target) -> bool:
        if self.wildcard:
            return not target.literal and target.host.endswith("." + self.host)
        return target.host == self.host


def _allowed_check(target: _Target, allowed_hosts: Collection[str]) -> None:
    if isinstance(allowed_hosts, str):
        raise TypeError("allowed_hosts must be a collection of entries, not one string")
    covering = [entry for entry in map(_AllowedHost.parse, allowed_hosts) if entry.covers(target)]
    if not covering:
        raise FetchError("host-not-allowed", target.host)
    if not any(entry.port == target.port for entry in covering):
        raise FetchError("port", f"port {target.port} is not allowed for {target.host}")


# --- Addresses -------------------------------------------------------------------------------


def _network(network: str | IPNetwork) -> IPNetwork:
    if isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return network
    return ipaddress.ip_network(network)


def _globally_routable(address: IPAddress) -> bool:
    if (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or address.is_multicast
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address not in _SHARED_ADDRESS_SPACE
    if address.is_site_local:
        return False
    # Addresses that carry an IPv4 destination (6to4, NAT64) are as good as that destination.
    if address.sixtofour is not None:
        return _globally_routable(address.sixtofour)
    if address in _NAT64_PREFIX:
        return _globally_routable(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return True


def _resolve(resolver: Resolver, host: str, deadline: float) -> list[IPAddress]:
    """The host's addresses, without duplicates; within the deadline, which the system
    resolver does not know of, hence the thread."""
    addresses: list[IPAddress] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            for text in resolver(host):
                address = ipaddress.ip_address(text)
                if address not in addresses:
                    addresses.append(address)
        except BaseException as exc:  # handed to the caller's thread below
            failures.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="url-fetch-resolve", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise FetchError("timeout", f"resolving {host}")
    if failures:
        if isinstance(failures[0], OSError | ValueError):
            raise FetchError("connect", f"cannot resolve {host}: {failures[0]}")
        raise failures[0]
    if not addresses:
        raise FetchError("connect", f"{host} has no addresses")
    return addresses


def _addresses_check(
    host: str, addresses: Iterable[IPAddress], permitted_networks: Collection[IPNetwork]
) -> None:
    """Refuse the host if any of its addresses is not one a fetch may connect to."""
    for address in addresses:
        if not address_permitted(address, permitted_networks=permitted_networks):
            raise FetchError("address-not-permitted", f"{host} resolves to {address}")


# --- The network backend -----------------------------------------------------------------------


class _CheckedBackend(httpcore.NetworkBackend):
    """Resolves the host once, checks every address, and connects to a checked one."""

    def __init__(
        self, *, resolver: Resolver, permitted_networks: Collection[IPNetwork], deadline: float
    ) -> None:
        self._resolver = resolver
        self._permitted_networks = permitted_networks
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(self._resolver, host, self._deadline)
        _addresses_check(host, addresses, self._permitted_networks)
        failure: OSError | None = None
        for address in addresses:
            family = socket.AF_INET if address.version == 4 else socket.AF_INET6
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(_remaining(self._deadline))
                sock.connect((str(address), port))
            except TimeoutError:
                sock.close()
                raise FetchError("timeout", f"connecting to {address}") from None
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _DeadlineStream(sock, self._deadline)
        raise FetchError("connect", f"{host}: {failure}")


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every operation ends by the fetch's deadline, so that a server sending a
    byte now and then cannot hold a fetch open past its timeout."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _socket_failures_mapped():
            self._sock.settimeout(self._budget(timeout))
            return self._sock.recv(max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _socket_failures_mapped():
            self._sock.settimeout(self._budget(timeout))
            self._sock.sendall(buffer)

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            with _socket_failures_mapped():
                self._sock.settimeout(self._budget(timeout))
                tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except FetchError:
            self._sock.close()
            raise
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # httpcore asks it for the negotiated ALPN protocol
        if info == "socket":
            return self._sock
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "client_addr":
            return self._sock.getsockname()
        return None

    def _budget(self, timeout: float | None) -> float:
        remaining = _remaining(self._deadline)
        return remaining if timeout is None else min(timeout, remaining)


@contextmanager
def _socket_failures_mapped() -> Iterator[None]:
    """Turns socket and TLS exceptions into FetchError."""
    try:
        yield
    except TimeoutError:
        raise FetchError("timeout", "the server was too slow") from None
    except ssl.SSLCertVerificationError as exc:
        raise FetchError("tls", exc.verify_message or str(exc)) from None
    except ssl.SSLError as exc:
        raise FetchError("tls", str(exc)) from None
    except OSError as exc:
        raise FetchError("connect", str(exc)) from None


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timeout", "the fetch took too long")
    return remaining


@lru_cache(maxsize=8)
def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifies certificates and host names against the public CAs and ``ca_file``'s. Cached:
    loading the bundle costs more than a fetch of a small document."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


# --- The response ---------------------------------------------------------------------------


def _response_check(
    response: httpcore.Response, media_types: Collection[str], max_bytes: int
) -> tuple[str, int | None]:
    """(media type, max-age) of an acceptable response; FetchError otherwise."""
    if response.status != 200:
        # A redirect could lead anywhere, the allow-list's hosts to another: none is followed.
        raise FetchError("status", f"HTTP {response.status}")
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in {media_type.lower() for media_type in media_types}:
        raise FetchError("content-type", content_type or "none given")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise FetchError("content-type", f"content coding {encoding} was not asked for")
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError("too-large", f"{length} bytes announced, at most {max_bytes} accepted")
    return content_type, _max_age(headers.get("cache-control", ""))


def _body_read(response: httpcore.Response, max_bytes: int) -> bytes:
    body = bytearray()
    for chunk in response.iter_stream():
        body += chunk
        if len(body) > max_bytes:
            # Leaving the stream unread closes the connection: the rest is never downloaded.
            raise FetchError("too-large", f"more than {max_bytes} bytes")
    return bytes(body)


def _max_age(cache_control: str) -> int | None:
    """Freshness lifetime from Cache-Control (RFC 9111 §5.2.2).

    A value too large to be read is the largest we read (RFC 9111 §1.2.2: a delta-seconds
    beyond what a cache can hold is taken as 2**31), never an error: the header is the
    server's, and a caller keeps a document for the shorter of this and its own limit.
    """
    directives = {}
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    value = directives.get("max-age", "")
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(MAX_DELTA_SECONDS)):
        return MAX_DELTA_SECONDS
    return min(int(digits), MAX_DELTA_SECONDS)
