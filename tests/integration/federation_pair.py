"""Two resolution services on loopback, peers of each other (DESIGN §7.4): the ``rs_pair``
fixture, and a small HTTPS server of advertisements for a third peer (``AdvertisementServer``).

Each service is what an operator runs: its own PostgreSQL database (``test_fed_a``,
``test_fed_b`` on the machine's server, dropped and created afresh), migrated and bootstrapped
(its own log, CA with a development root, range certificate and signed advertisement), served
by gunicorn over HTTPS (``config.gunicorn``, ``--certfile``/``--keyfile`` from the tests'
throwaway TLS CA, ``tests.tls``), reached as ``https://localhost:PORT``; and configured with
the project's commands: ``provider_create``, ``peer_add`` (the other's root from its
``/ca/root.pem``, the other's served block) and ``peers_fetch``.

The processes run the development settings without debug (``config.settings.local``,
``DJANGO_DEBUG=false``): the production settings refuse the console SMS backend, and the test
settings fix the public URL. No ``CELERY_BROKER_URL``: tasks (the log's integration, the outbox
that sends SMS) run in the gunicorn worker after the commit that queued them, as under
``manage.py serve``, so the SMS with its code is printed to that service's console at once.
Nothing runs beat: the advertisement is signed by ``bootstrap``, peers are fetched by
``peers_fetch``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
import httpx
import psycopg
import pytest
import redis

from tests.tls import TlsPki, tls_pki_make

ROOT = Path(__file__).resolve().parents[2]

# Variables of this test session the services must not inherit: each gets its own.
_OWN_PREFIXES = ("RS_", "DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "SMS_", "TWILIO_")
STARTUP_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ResolutionService:
    """One service of the pair; see :func:`rs_pair` for its attributes."""

    label: str
    port: int
    database: str
    database_url: str
    ranges: str
    folder: Path
    tls: TlsPki
    env: dict[str, str]
    api_key: str = ""
    root_pem: str = ""
    peers_fetched: str = ""
    process: subprocess.Popen[bytes] | None = None
    _client: httpx.Client | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def console_file(self) -> Path:
        return self.folder / "console.log"

    @property
    def key_dir(self) -> Path:
        return Path(self.env["RS_KEY_DIR"])

    def manage(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``manage.py ARGS`` against this service (its environment, database and keys); with
        ``check``, a non-zero exit fails the test showing both outputs."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"RS {self.label}: manage.py {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def shell(self, code: str) -> str:
        """What ``manage.py shell -c CODE`` printed (standard output)."""
        return self.manage("shell", "--verbosity", "0", "-c", code).stdout

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """The rows of a query on this service's database (read what its processes wrote)."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    @property
    def client(self) -> httpx.Client:
        """An HTTPS client of this service (``base_url`` its URL, the throwaway TLS CA
        trusted) sending its admin API key."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.url,
                verify=ssl.create_default_context(cafile=str(self.tls.ca_file)),
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=30,
            )
        return self._client

    def console(self) -> str:
        """Everything its gunicorn printed so far: access log, application log, and the SMS of
        the console backend (``To: +…``, ``Reference: <challenge id>``, the text)."""
        return self.console_file.read_text(errors="replace")

    def sms_code(self, challenge_id: str, *, timeout: float = 10) -> str:
        """The code of the challenge's SMS as the console backend printed it."""
        pattern = re.compile(
            rf"^Reference: {re.escape(challenge_id)}\n.*?(\d+) is your code", re.M | re.S
        )
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(self.console())
            if found:
                return found.group(1)
            if time.monotonic() > deadline:
                pytest.fail(f"RS {self.label}: no SMS for challenge {challenge_id}")
            time.sleep(0.1)

    def start(self) -> None:
        with self.console_file.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "python:config.gunicorn",
                    "config.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--certfile",
                    str(self.tls.chain_file),
                    "--keyfile",
                    str(self.tls.key_file),
                    "--workers",
                    "1",
                    "--threads",
                    "4",
                    "--graceful-timeout",
                    "5",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"RS {self.label} exited {self.process.returncode}:\n{self.console()}")
            with contextlib.suppress(httpx.TransportError):
                self.client.get("/healthz")
                return
            if time.monotonic() > deadline:
                pytest.fail(f"RS {self.label} did not answer:\n{self.console()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class RsPair:
    """The two services, ``a`` and ``b``, and the throwaway TLS CA their certificates share."""

    a: ResolutionService
    b: ResolutionService
    tls: TlsPki

    def __iter__(self) -> Iterator[ResolutionService]:
        return iter((self.a, self.b))


def _database_server() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        pytest.skip("needs the machine's PostgreSQL: DATABASE_URL (.ci/run)")
    config: dict[str, Any] = environ.Env.db_url_config(url)
    return config


def _database_url(server: dict[str, Any], name: str) -> str:
    credentials = server["USER"] + (f":{server['PASSWORD']}" if server["PASSWORD"] else "")
    return f"postgres://{credentials}@{server['HOST']}:{server['PORT'] or 5432}/{name}"


def _cache_url(index: int) -> str:
    """A Redis database of its own for a service's cache (throttles, rate limits), on the
    machine's Redis (the session's CACHE_URL's host, else 127.0.0.1:6379)."""
    location = urlsplit(os.environ.get("CACHE_URL", "") or "rediscache://127.0.0.1:6379/1")
    if not location.scheme.startswith("redis"):
        location = urlsplit("rediscache://127.0.0.1:6379/1")
    return f"rediscache://{location.hostname}:{location.port or 6379}/{index}"


def _cache_flush(cache_url: str) -> None:
    redis.Redis.from_url(cache_url.replace("rediscache://", "redis://", 1)).flushdb()


def _service_env(service: ResolutionService, *, cache_url: str) -> dict[str, str]:
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith(_OWN_PREFIXES)
    }
    return inherited | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": service.database_url,
        "CACHE_URL": cache_url,
        "RS_PUBLIC_URL": service.url,
        "RS_SERVED_RANGES": service.ranges,
        "RS_DATA_DIR": str(service.folder),
        "RS_KEY_DIR": str(service.folder / "keys"),
        "RS_KEY_PASSPHRASE": f"rs-{service.label}-{secrets.token_urlsafe(16)}",
        # Key files cheap to open (16 MiB of scrypt): every command opens some.
        "RS_KEY_SCRYPT_LOG2N": "14",
        # Its peers are on loopback, behind the throwaway TLS CA.
        "RS_FETCH_PERMITTED_NETWORKS": "127.0.0.0/8,::1/128",
        "RS_FETCH_CA_FILE": str(service.tls.ca_file),
        "SMS_BACKEND": "console",
        # Lookups' referrals read the peers' claims afresh each time, not up to 30 s late.
        "RS_CLAIMS_CACHE_SECONDS": "0",
        "RS_LOG_FORMAT": "console",
        "RS_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def _databases_drop(server: dict[str, Any], *names: str) -> None:
    with psycopg.connect(_database_url(server, "postgres"), autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_create(server: dict[str, Any], name: str, template: str | None = None) -> None:
    with psycopg.connect(_database_url(server, "postgres"), autocommit=True) as connection:
        copy = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{copy}')


# The pair's served blocks: A a million French mobile numbers, B a hundred North American
# numbers (US numbers may be mobile: an SMS challenge accepts them).
A_RANGES = "1-33612000000-1000000"
B_RANGES = "1-12015550100-100"
CACHE_INDEXES = {"a": 12, "b": 13}


@pytest.fixture(scope="module")
def rs_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RsPair]:
    """The pair (:func:`pair_started`), started once per module."""
    with pair_started(tmp_path_factory.mktemp("rs-pair")) as pair:
        yield pair


@contextlib.contextmanager
def pair_started(folder: Path, env: dict[str, str] | None = None) -> Iterator[RsPair]:
    """Two resolution services on loopback, each a peer of the other, their files in
    ``folder`` (a benchmark starts them too: bench/referrals.py), ``env`` added to the
    environment of both.

    ``rs_pair.a`` and ``rs_pair.b`` (``ResolutionService``; iterating the pair gives both):

    - ``url``: its base URL, ``https://localhost:PORT`` (also its ``RS_PUBLIC_URL``); ``port``.
    - ``ranges``: its ``RS_SERVED_RANGES`` (A ``1-33612000000-1000000``: +33612000000 to
      +33612999999; B ``1-12015550100-100``: +12015550100 to +12015550199).
    - ``database`` (``test_fed_a``, ``test_fed_b``) and ``database_url``; ``query(sql, *params)``
      reads it directly (psycopg) and returns the rows.
    - ``env``: the environment of its processes (``RS_CLAIMS_CACHE_SECONDS=0``: a lookup's
      referrals follow a change of peers at once); ``manage(*args, check=True, input=None)`` runs
      ``manage.py`` with it (a ``CompletedProcess``; a non-zero exit fails the test when
      ``check``), ``shell(code)`` what ``manage.py shell -c`` printed.
    - ``api_key``: an admin API key of a provider ``app-a`` / ``app-b`` (``provider_create``);
      ``client``: an ``httpx.Client`` on ``url`` that sends it and trusts the TLS CA.
    - ``console()``: what its gunicorn printed (access and application logs, and the SMS of the
      console backend); ``sms_code(challenge_id)`` waits for a challenge's SMS and returns its
      code; ``console_file``.
    - ``root_pem``: its CA root (as ``GET /ca/root.pem`` serves it), which the other trusts for
      its advertisements; ``key_dir`` its ``RS_KEY_DIR``.
    - ``peers_fetched``: what its first ``manage.py peers_fetch`` printed.

    A knows B as the peer ``rs-b`` (root B's, allowed ranges B's block), B knows A as ``rs-a``;
    each has accepted the other's advertisement. ``rs_pair.tls`` is the throwaway TLS CA
    (``ca_file``, ``chain_file``, ``key_file``) of both servers, which both trust for their
    fetches (``RS_FETCH_CA_FILE``, loopback in ``RS_FETCH_PERMITTED_NETWORKS``): a third peer
    served with it (:class:`AdvertisementServer`) is reachable from either. Tests that add
    peers or rows should remove them, as the pair is shared by the module's tests.
    """
    server = _database_server()
    tls = tls_pki_make(folder)
    services = []
    for label, ranges in (("a", A_RANGES), ("b", B_RANGES)):
        database = f"test_fed_{label}"
        (folder / label).mkdir()
        service = ResolutionService(
            label=label,
            port=_free_port(),
            database=database,
            database_url=_database_url(server, database),
            ranges=ranges,
            folder=folder / label,
            tls=tls,
            env={},
        )
        service.env = _service_env(service, cache_url=_cache_url(CACHE_INDEXES[label]))
        service.env.update(env or {})
        services.append(service)
    pair = RsPair(a=services[0], b=services[1], tls=tls)
    names = [service.database for service in pair]
    _databases_drop(server, *names)
    try:
        for service in pair:
            _cache_flush(service.env["CACHE_URL"])
        # One migration, copied: migrating takes seconds, copying the result a fraction.
        _database_create(server, pair.a.database)
        pair.a.manage("migrate", "--verbosity", "0")
        _database_create(server, pair.b.database, template=pair.a.database)

        def start(service: ResolutionService) -> None:
            service.manage("bootstrap")
            service.api_key = service.manage(
                "provider_create", f"app-{service.label}", "--name", f"App {service.label.upper()}"
            ).stdout.strip()
            service.start()
            service.wait_serving()
            root = service.client.get("/ca/root.pem")
            root.raise_for_status()
            service.root_pem = root.text

        def peer(service: ResolutionService, other: ResolutionService) -> None:
            root_file = service.folder / f"peer-{other.label}-root.pem"
            root_file.write_text(other.root_pem)
            service.manage(
                "peer_add", f"rs-{other.label}", other.url, "--root", str(root_file),
                "--ranges", other.ranges,
            )  # fmt: skip

        def fetch(service: ResolutionService) -> None:
            service.peers_fetched = service.manage("peers_fetch").stdout

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(start, pair))
            list(pool.map(peer, pair, (pair.b, pair.a)))
            list(pool.map(fetch, pair))
        yield pair
    finally:
        for service in pair:
            service.stop()
        _databases_drop(server, *names)
        for service in pair:
            with contextlib.suppress(redis.RedisError):
                _cache_flush(service.env["CACHE_URL"])


class _AdvertisementHandler(BaseHTTPRequestHandler):
    server: _AdvertisementHttpServer

    def do_GET(self) -> None:
        found = self.path == "/.well-known/rs-advertisement"
        body = self.server.body if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/jose")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _AdvertisementHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    body = b""


class AdvertisementServer:
    """A third peer on loopback: an HTTPS server (certificate from ``tls``, the pair's TLS CA)
    whose ``/.well-known/rs-advertisement`` answers ``body``. Use as a context manager."""

    def __init__(self, tls: TlsPki, body: str = "") -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.chain_file, tls.key_file)
        self._server = _AdvertisementHttpServer(("127.0.0.1", 0), _AdvertisementHandler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.body = body.encode()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"https://localhost:{self._server.server_address[1]}"

    @property
    def body(self) -> str:
        return self._server.body.decode()

    @body.setter
    def body(self, token: str) -> None:
        self._server.body = token.encode()

    def __enter__(self) -> AdvertisementServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
