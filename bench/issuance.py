"""Certificate issuances per second through the HTTP API: the whole flow, and the issue step.

    .venv/bin/python bench/issuance.py [--flows 200] [--issues 500] [--rounds 3]
        [--server-workers 4] [--concurrency 8] [--tasks auto|in-process|broker|both]
    .venv/bin/python bench/issuance.py --profile 400     # where one issue request's time goes

Each run makes a database of its own on the embedded PostgreSQL (or DATABASE_URL's server),
``rs_bench_issuance_<pid>``, migrated and bootstrapped with keys in a temporary RS_KEY_DIR, and
drops both at the end. The service runs under gunicorn (sync workers, 2 per core by default,
DEBUG off, log level WARNING), with the challenge rate limits off (RS_CHALLENGE_LIMIT_* = "")
and the API throttles raised. The clients are threads of this process (the standard library's
HTTP client, one connection per request, as gunicorn's sync workers close them), sharing one
provider's API key; every challenge is for another French mobile number.

A) full flow: ``POST /v1/challenges``, read the code from the SMS, ``POST …/verify``,
   ``POST /v1/certificates``. One issuance = the three requests and the wait for the SMS.
B) the issue step alone: challenges are started and verified through the API beforehand
   (untimed), then only the ``POST /v1/certificates`` requests are timed.

The phone is :class:`FileSmsBackend` (SMS_BACKEND=bench.issuance.FileSmsBackend): the server
writes each SMS to a file named after its challenge, and the client reads the code from the
message's last line ("@host #123456"), as an app would. CSRs, one P-256 key each, are made
before the clock starts.

Tasks (sending the SMS, integrating the log) run in one of two ways:
- broker: CELERY_BROKER_URL on Redis (``--broker``; its database 14 by default, so that this
  neither takes nor drops the CI's tasks on database 0): a ``celery worker`` sends the SMS and
  ``celery beat`` has the log integrated every second, as docs/deployment.md runs it. This is
  the production configuration (production settings require a broker), and the one the
  target is for;
- in-process, no CELERY_BROKER_URL (the embedded default of ``manage.py serve``): in the
  gunicorn worker, after the commit, before the response: every issuance integrates the log
  and signs a checkpoint. Shown for comparison.
``--tasks auto`` measures both when the broker answers, else in-process only.

How to read it: per mode, issuances/s (median over rounds; a round's rate is its count over
the wall clock from the first request to the last response) and p50/p99 latency (medians over
rounds; for A of the whole flow, with each step's p50). Then the CPU each issuance cost, in ms,
in gunicorn, Celery, PostgreSQL (the whole server, when it runs here) and this client, and the
share of the machine's cores that was busy: near 100% means the machine, not the service's
locks, is the limit. Last, whether B, with the broker, reaches the target of 150 issuances/s
on this 2-core machine. The client shares the machine, so the service has a little less than
all of it.

``--profile N`` runs no server: it times the pieces of N issue requests in this process,
through Django's whole stack (test client, no broker), one at a time, and prints CPU and wall
milliseconds per request for each piece (authentication, CSR, signing, VRF label, log append,
commit, log integration, ...).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from common import (
    ROOT,
    free_port,
    percentile,
    postgres_pid,
    server_url,
    setup_django,
    threads_drive,
    tree_cpu,
)

from ca.sms import SmsBackend, SmsMessage

# A database of this run's own, dropped at its end: two runs at once must not drop each other's.
DATABASE_PREFIX = "rs_bench_issuance_"
TARGET_ISSUE = 150.0  # issuances/s of the issue step on the 2-core machine (the issue's target)
SMS_DIR_VARIABLE = "RS_BENCH_SMS_DIR"
_OTP_LINE = re.compile(r"#(\d{4,10})$")
# Off for the benchmark: one provider and one client IP start every challenge.
LIMIT_VARIABLES = (
    "RS_CHALLENGE_LIMIT_NUMBER",
    "RS_CHALLENGE_LIMIT_NUMBER_TOTAL",
    "RS_CHALLENGE_LIMIT_PROVIDER",
    "RS_CHALLENGE_LIMIT_CLIENT_IP",
    "RS_CHALLENGE_LIMIT_COUNTRY",
)
NO_THROTTLE = "100000000/minute"


class FileSmsBackend(SmsBackend):
    """The benchmark's phone: each SMS becomes the file ``$RS_BENCH_SMS_DIR/<challenge id>``.

    The file holds the destination number on its first line, then the body. It is written
    under another name and renamed, so a reader never sees half a message.
    """

    def send(self, message: SmsMessage) -> str:
        directory = Path(os.environ[SMS_DIR_VARIABLE])
        partial = directory / f".{message.reference}.part"
        partial.write_text(f"{message.to}\n{message.body}")
        os.replace(partial, directory / message.reference)
        return f"file-{message.reference}"


def sms_code(directory: Path, challenge_id: str, number: str, timeout: float = 30.0) -> str:
    """Wait for the SMS of ``challenge_id`` and return its code (then throw the SMS away)."""
    path = directory / challenge_id
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text()
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SMS for challenge {challenge_id} in {timeout} s") from None
            time.sleep(0.001)
    path.unlink()
    to, _, body = text.partition("\n")
    match = _OTP_LINE.search(body)
    if to != number or match is None:
        raise AssertionError(f"unexpected SMS for {challenge_id}: to {to}")
    return match.group(1)


def csr_pems(count: int) -> list[str]:
    """``count`` PEM CSRs, each for a new P-256 key (made before any timing)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    return [
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
        for _ in range(count)
    ]


def with_csrs(items: list[str]) -> list[tuple[str, str]]:
    """Each item (a number, a challenge id) with a CSR of its own."""
    return list(zip(items, csr_pems(len(items)), strict=True))


class Numbers:
    """Distinct valid French mobile numbers: +3360 followed by 7 digits."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> list[str]:
        start, self.next = self.next, self.next + count
        return [f"+336{n:08d}" for n in range(start, start + count)]


# --- Driving the server -----------------------------------------------------------------------


@dataclass
class Api:
    """The service as a client sees it: where it listens, the API key, the phone's SMS folder.

    Each request opens its own connection, as gunicorn's sync workers close every connection
    after answering. The standard library's client: on a 2-core machine the client shares the
    cores with the server, and it costs a third of what httpx costs per request.
    """

    port: int
    key: str
    sms_dir: Path

    def call(self, method: str, path: str, body: object, status: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.key}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.status != status:
            raise AssertionError(f"{method} {path}: {response.status} {raw[:300]!r}")
        answer: dict[str, Any] = json.loads(raw)
        return answer


def challenge_start(api: Api, number: str) -> str:
    return str(api.call("POST", "/v1/challenges", {"number": number}, 201)["id"])


def challenge_verify(api: Api, challenge: str, code: str) -> None:
    api.call("POST", f"/v1/challenges/{challenge}/verify", {"code": code}, 200)


def certificate_issue(api: Api, challenge: str, csr: str) -> None:
    body = api.call("POST", "/v1/certificates", {"challenge": challenge, "csr": csr}, 201)
    assert body["certificate"].startswith("-----BEGIN CERTIFICATE-----"), body
    assert body["log"]["promise"].startswith("rs-promise/v1\n"), body


Job = Callable[[Api, Any], dict[str, Any]]


def drive(
    api: Api, items: Sequence[Any], concurrency: int, job: Job
) -> tuple[float, list[dict[str, Any]]]:
    """Run ``job(api, item)`` for every item on ``concurrency`` threads.

    Returns the wall-clock seconds from the first request to the last response, and what each
    job returned (its timings), in no particular order.
    """
    return threads_drive(items, concurrency, lambda item: job(api, item))


def full_flow(api: Api, item: tuple[str, str]) -> dict[str, float]:
    """A: challenge, the SMS, verify, issue; timed as a whole and step by step."""
    number, csr = item
    t0 = time.perf_counter()
    challenge = challenge_start(api, number)
    t1 = time.perf_counter()
    code = sms_code(api.sms_dir, challenge, number)
    t2 = time.perf_counter()
    challenge_verify(api, challenge, code)
    t3 = time.perf_counter()
    certificate_issue(api, challenge, csr)
    t4 = time.perf_counter()
    return {
        "total": t4 - t0,
        "challenge": t1 - t0,
        "sms": t2 - t1,
        "verify": t3 - t2,
        "issue": t4 - t3,
    }


def verified_challenge(api: Api, number: str) -> dict[str, Any]:
    """B's preparation (untimed): a challenge started and verified through the API."""
    challenge = challenge_start(api, number)
    challenge_verify(api, challenge, sms_code(api.sms_dir, challenge, number))
    return {"challenge": challenge}


def issue_only(api: Api, item: tuple[str, str]) -> dict[str, float]:
    """B: one ``POST /v1/certificates`` for a verified challenge."""
    challenge, csr = item
    started = time.perf_counter()
    certificate_issue(api, challenge, csr)
    return {"total": time.perf_counter() - started}


# --- Processes and where the CPU went -----------------------------------------------------------


def machine_busy() -> tuple[float, float]:
    """CPU seconds the machine's cores have spent busy, and stolen by the hypervisor."""
    times = psutil.cpu_times()
    steal = getattr(times, "steal", 0.0)
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0) - steal), float(steal)


@dataclass
class Cpu:
    """CPU seconds spent during one timed run, by process group."""

    wall: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    steal: float = 0.0  # seconds the hypervisor gave our cores to someone else


@contextmanager
def cpu_measured(groups: dict[str, int | None], cpu: Cpu) -> Iterator[None]:
    before = {name: tree_cpu(pid) for name, pid in groups.items()}
    client, machine, started = time.process_time(), machine_busy(), time.perf_counter()
    yield
    cpu.wall = time.perf_counter() - started
    cpu.parts = {name: tree_cpu(pid) - before[name] for name, pid in groups.items()}
    cpu.parts["client"] = time.process_time() - client
    busy, steal = machine_busy()
    cpu.parts["machine"] = busy - machine[0]
    cpu.steal = steal - machine[1]


@dataclass
class Service:
    """gunicorn (and, with a broker, a Celery worker and beat) on a free local port."""

    port: int
    processes: dict[str, subprocess.Popen[bytes]]

    def pids(self) -> dict[str, int | None]:
        return {name: process.pid for name, process in self.processes.items()}


@contextmanager
def service_running(
    *,
    url: str,
    workers: int,
    broker: str,
    sms_dir: Path,
    scratch: Path,
    key: str,
    log_worker: bool = False,
) -> Iterator[Service]:
    """Start the service; its output goes to ``scratch/service.log``, shown if anything fails.

    ``log_worker``: also a worker for the log's queue alone (docs/deployment.md).
    """
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "RS_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": broker,
        "SMS_BACKEND": "bench.issuance.FileSmsBackend",
        SMS_DIR_VARIABLE: str(sms_dir),
        # The backend is imported as bench.issuance, which imports bench/common.py as `common`.
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
    }
    python = [sys.executable, "-m"]
    commands = {
        "gunicorn": [
            *python,
            *("gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(workers), "--log-level", "warning"),
        ]
    }
    if broker:
        celery = [*python, "celery", "-A", "config"]
        commands["celery worker"] = [
            *(*celery, "worker", "--loglevel", "WARNING"),
            *("--without-heartbeat", "--without-gossip", "--without-mingle"),
        ]
        if log_worker:
            commands["celery log worker"] = [
                *(*celery, "worker", "--loglevel", "WARNING", "--queues", "log"),
                *("--concurrency", "1", "--hostname", "log@%h"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            ]
        commands["celery beat"] = [
            *(*celery, "beat", "--loglevel", "WARNING"),
            *("--schedule", str(scratch / "celerybeat-schedule")),
        ]
    log_path = scratch / "service.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    api = Api(port=port, key=key, sms_dir=sms_dir)
    with log_path.open("wb") as log:
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + 60
            while True:
                try:
                    api.call("GET", "/v1/me", None, 200)
                    break
                except OSError:
                    for name, process in processes.items():
                        if process.poll() is not None:
                            raise RuntimeError(f"{name} exited ({process.returncode})") from None
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            yield Service(port=port, processes=processes)
        except BaseException:
            tail = log_path.read_text(errors="replace").splitlines()[-40:]
            print("\n".join(["-- service output (last lines):", *tail]), file=sys.stderr)
            raise
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


# --- Rounds and figures -------------------------------------------------------------------------


@dataclass
class Rounds:
    """One measurement (A or B) over several rounds."""

    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # ms per issuance
    busy: list[float] = field(default_factory=list)  # share of the machine's cores

    def add(self, seconds: float, results: list[dict[str, float]], cpu: Cpu) -> str:
        count = len(results)
        totals = [r["total"] for r in results]
        self.rates.append(count / seconds)
        self.p50.append(statistics.median(totals))
        self.p99.append(percentile(totals, 0.99))
        for step in results[0]:
            if step != "total":
                values = [r[step] for r in results]
                self.steps.setdefault(step, []).append(statistics.median(values))
        for name, used in cpu.parts.items():
            self.cpu.setdefault(name, []).append(used / count * 1000)
        cores = psutil.cpu_count() or 1
        self.busy.append(cpu.parts["machine"] / (cpu.wall * cores))
        stolen = f", {cpu.steal / (cpu.wall * cores):.0%} stolen" if cpu.steal > 0 else ""
        return (
            f"{count} in {seconds:.2f} s = {self.rates[-1]:,.1f}/s, "
            f"p50 {self.p50[-1] * 1000:.1f} ms, p99 {self.p99[-1] * 1000:.1f} ms; "
            f"CPU/issuance: gunicorn {self.cpu['gunicorn'][-1]:.1f} ms, "
            f"machine {self.cpu['machine'][-1]:.1f} ms; cores {self.busy[-1]:.0%} busy{stolen}"
        )

    def report(self, label: str) -> str:
        def med(values: list[float]) -> float:
            return statistics.median(values)

        lines = [
            f"{label}: {med(self.rates):,.1f} issuances/s, "
            f"p50 {med(self.p50) * 1000:.1f} ms, p99 {med(self.p99) * 1000:.1f} ms "
            f"(medians of {len(self.rates)} rounds)"
        ]
        if self.steps:
            lines.append(
                "    p50 per step: "
                + ", ".join(f"{step} {med(v) * 1000:.1f} ms" for step, v in self.steps.items())
            )
        cpu = {name: med(values) for name, values in self.cpu.items()}
        machine = cpu.pop("machine")
        lines.append(
            "    CPU per issuance: "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
            + f"; whole machine {machine:.1f} ms, cores {med(self.busy):.0%} busy"
        )
        return "\n".join(lines)


def log_state(*, broker: bool) -> str:
    """How many entries the log holds and how many its newest checkpoint covers."""
    from transparency.models import Checkpoint, Entry

    latest = Checkpoint.objects.order_by("-size").first()
    entries, size = Entry.objects.count(), latest.size if latest else 0
    state = f"log {entries} entries, newest checkpoint size {size}"
    if size < entries and broker:
        state += f" ({entries - size} not integrated yet: beat has not caught up)"
    elif size < entries:
        state += (
            f" ({entries - size} not integrated: an after-commit integration that finds "
            "another one running gives up, and no beat runs here to catch up)"
        )
    return state


def measure(
    args: argparse.Namespace, *, url: str, broker: str, key: str, numbers: Numbers
) -> tuple[Rounds, Rounds]:
    mode = f"broker {broker}" if broker else "in-process (no broker)"
    print(f"\n== tasks {mode}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="rs-bench-issuance-"))
    sms_dir = scratch / "sms"
    sms_dir.mkdir()
    flows, issues = Rounds(), Rounds()
    try:
        with service_running(
            url=url,
            workers=args.server_workers,
            broker=broker,
            sms_dir=sms_dir,
            scratch=scratch,
            key=key,
        ) as service:
            api = Api(port=service.port, key=key, sms_dir=sms_dir)
            groups = service.pids() | {"postgres": postgres_pid()}
            # Warm up: every worker loads its code and decrypts the CA and log keys once.
            warm = args.server_workers * 4
            drive(api, with_csrs(numbers.take(warm)), args.concurrency, full_flow)
            for round_ in range(1, args.rounds + 1):
                items = with_csrs(numbers.take(args.flows))
                cpu = Cpu()
                with cpu_measured(groups, cpu):
                    seconds, results = drive(api, items, args.concurrency, full_flow)
                print(f"round {round_} A full flow: {flows.add(seconds, results, cpu)}", flush=True)

                _, prepared = drive(
                    api, numbers.take(args.issues), args.concurrency, verified_challenge
                )
                items = with_csrs([p["challenge"] for p in prepared])
                cpu = Cpu()
                with cpu_measured(groups, cpu):
                    seconds, results = drive(api, items, args.concurrency, issue_only)
                print(
                    f"round {round_} B issue step: {issues.add(seconds, results, cpu)}", flush=True
                )
            time.sleep(2 if broker else 0.5)  # beat integrates every second
            print(f"after the rounds: {log_state(broker=bool(broker))}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(flows.report("A full flow (challenge, SMS, verify, issue)"))
    print(issues.report("B issue step (POST /v1/certificates)"))
    rate = statistics.median(issues.rates)
    if broker:  # the production configuration: the target is for it
        verdict = "meets" if rate >= TARGET_ISSUE else "misses"
        print(f"B {verdict} the target of {TARGET_ISSUE:.0f} issuances/s ({rate:,.1f}/s)")
    return flows, issues


# --- Where the time of one issue request goes (--profile) ----------------------------------------

# Functions timed by --profile: (module, attribute, label, depth). Each is wrapped where it is
# looked up, so the application's code is left as it is. Depth 2 runs inside depth 1, and so on.
PIECES = [
    ("providers.authentication", "api_key_authenticate", "API key check (remembered 5 s)", 1),
    ("ca.api.views", "certificate_issue", "ca.services.certificate_issue", 1),
    ("ca.services.issuance", "csr_public_key", "CSR: parse, verify its signature", 2),
    ("ca.services.issuance", "_challenge_spend", "BEGIN; UPDATE challenge ... RETURNING", 2),
    ("ca.authority", "end_entity_sign", "X.509 certificate: build, sign (P-256)", 2),
    ("ca.services.issuance", "number_label_keep", "number label (ECVRF prove, RFC 9381), kept", 2),
    ("ca.services.issuance", "log_append", "log_append (advisory lock, INSERT)", 2),
    ("<connection>", "commit", "COMMIT", 2),
    ("transparency.services", "log_integrate", "log integration, after the commit", 2),
    ("transparency.services", "sign_checkpoint", "checkpoint note signature", 3),
    ("ca.api.views", "certificate_pem", "response: certificate PEM", 1),
]

# What is left of a piece once its timed parts are taken out.
REST = {
    "whole request": "rest: middleware, DRF, serialisers, JSON, test client",
    "ca.services.certificate_issue": "rest: INSERT certificate (ORM), serial, dates",
    "log integration, after the commit": "rest: read leaves, tiles; hash; store",
}


@dataclass
class Spent:
    cpu: float = 0.0
    wall: float = 0.0


def profile(count: int, key: str) -> None:
    """Time the pieces of ``count`` issue requests in this process, through Django's stack.

    The test client stands in for gunicorn (no socket, no HTTP parsing); settings are the
    workers' (DEBUG off, no broker: the log is integrated after each commit). One request at a
    time, so wall time is this process's CPU plus its waits on PostgreSQL.
    """
    import importlib

    from django.db import connections
    from django.test import Client

    from ca.sms import locmem

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(path: str, body: dict[str, str], status: int) -> dict[str, Any]:
        response = client.post(path, json.dumps(body), content_type="application/json")
        assert response.status_code == status, response.content
        answer: dict[str, Any] = response.json()
        return answer

    warm = 20
    challenges = []
    for number in Numbers().take(warm + count):  # through the API, as B prepares them
        challenge = str(post("/v1/challenges", {"number": number}, 201)["id"])
        match = _OTP_LINE.search(locmem.outbox.pop().body)
        assert match is not None
        post(f"/v1/challenges/{challenge}/verify", {"code": match.group(1)}, 200)
        challenges.append(challenge)
    items = with_csrs(challenges)
    for challenge, csr in items[:warm]:
        post("/v1/certificates", {"challenge": challenge, "csr": csr}, 201)

    spent: dict[str, Spent] = {label: Spent() for _, _, label, _ in PIECES}
    # A piece counts only when called right inside its parent: the COMMIT of the log
    # integration's own transaction belongs to the integration, not to the issue's COMMIT.
    parents: dict[str, str] = {}
    opened = [(0, "whole request")]
    for _, _, label, depth in PIECES:
        while opened[-1][0] >= depth:
            opened.pop()
        parents[label] = opened[-1][1]
        opened.append((depth, label))
    active = ["whole request"]

    def timed(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if active[-1] != parents[label]:
                return function(*args, **kwargs)
            active.append(label)
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label].cpu += time.process_time() - cpu
                spent[label].wall += time.perf_counter() - wall
                active.pop()

        return wrapper

    originals = []
    for module_name, attribute, label, _ in PIECES:
        owner: Any = (
            connections["default"]
            if module_name == "<connection>"
            else importlib.import_module(module_name)
        )
        originals.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, timed(getattr(owner, attribute), label))
    queries = 0

    def counted(execute: Callable[..., Any], *args: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(*args)

    whole = Spent()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        with connections["default"].execute_wrapper(counted):
            for challenge, csr in items[warm:]:
                post("/v1/certificates", {"challenge": challenge, "csr": csr}, 201)
    finally:
        whole.cpu, whole.wall = time.process_time() - cpu, time.perf_counter() - wall
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)

    def row(label: str, depth: int, what: Spent) -> str:
        name = "  " * depth + label
        return f"{name:<56} {what.cpu / count * 1000:7.2f} {what.wall / count * 1000:8.2f}"

    def children(start: int, depth: int) -> list[int]:
        """The pieces at ``depth`` from ``start`` on, until the level above closes."""
        found = []
        for index in range(start, len(PIECES)):
            if PIECES[index][3] < depth:
                break
            if PIECES[index][3] == depth:
                found.append(index)
        return found

    def show(label: str, depth: int, what: Spent, inside: list[int]) -> None:
        print(row(label, depth, what))
        if not inside:
            return
        rest = Spent(what.cpu, what.wall)
        for index in inside:
            piece = spent[PIECES[index][2]]
            rest.cpu -= piece.cpu
            rest.wall -= piece.wall
            show(PIECES[index][2], depth + 1, piece, children(index + 1, depth + 2))
        print(row(REST.get(label, "rest"), depth + 1, rest))

    print(
        f"\nwhere a POST /v1/certificates goes, in this process (Django test client, no broker),"
        f" mean of {count} requests, {queries / count:.1f} SQL statements each:"
    )
    print(f"{'':<56} {'CPU ms':>7} {'wall ms':>8}")
    show("whole request", 0, whole, children(0, 1))


def databases_drop(*, stale: bool, names: Sequence[str] = ()) -> None:
    """Drop ``names``, and with ``stale`` the databases of runs whose process is gone."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url(), autocommit=True) as conn:
        if stale:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                (DATABASE_PREFIX,),
            ).fetchall()
            suffixes = {row[0]: row[0].removeprefix(DATABASE_PREFIX) for row in rows}
            names = [
                *names,
                *(
                    n
                    for n, pid in suffixes.items()
                    if pid.isdigit() and not psutil.pid_exists(int(pid))
                ),
            ]
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def broker_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200, help="full flows (A) per round")
    parser.add_argument("--issues", type=int, default=500, help="issue requests (B) per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server-workers",
        type=int,
        default=2 * (os.cpu_count() or 2),
        help="gunicorn workers (default: 2 per core)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument(
        "--tasks",
        choices=["auto", "in-process", "broker", "both"],
        default="auto",
        help="how tasks run; auto: both when the broker answers, else in-process",
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="Redis broker URL")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead: time the pieces of N issue requests in this process (no server)",
    )
    args = parser.parse_args()

    for variable in LIMIT_VARIABLES:
        os.environ[variable] = ""
    os.environ["RS_THROTTLE_API_KEY"] = NO_THROTTLE
    os.environ["RS_THROTTLE_CLIENT_IP"] = NO_THROTTLE
    os.environ["DJANGO_DEBUG"] = "false"
    if args.profile:  # this process is the server: tasks in-process, SMS kept in memory
        os.environ["CELERY_BROKER_URL"] = ""
        os.environ["SMS_BACKEND"] = "locmem"
    database = f"{DATABASE_PREFIX}{os.getpid()}"
    keys = tempfile.mkdtemp(prefix="rs-bench-issuance-keys-")
    os.environ["RS_KEY_DIR"] = keys
    where = "embedded PostgreSQL"
    if os.environ.get("DATABASE_URL"):
        where = f"PostgreSQL at {urlsplit(os.environ['DATABASE_URL']).hostname}"
    databases_drop(stale=True)
    try:
        url = setup_django(database, fresh=True)
        from providers.services import api_key_create, provider_create

        key = api_key_create(provider=provider_create(slug="bench", name="Bench")).secret
        if args.profile:
            profile(args.profile, key)
        else:
            run(args, url=url, key=key, where=f"{where}, database {database}")
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        databases_drop(stale=False, names=[database])
        shutil.rmtree(keys, ignore_errors=True)


def run(args: argparse.Namespace, *, url: str, key: str, where: str) -> None:
    """Both measurements for each way of running tasks, and a summary."""
    modes = {"in-process": [""], "broker": [args.broker], "both": ["", args.broker]}
    if args.tasks == "auto":
        brokers = ["", args.broker] if broker_answers(args.broker) else [""]
        if len(brokers) == 1:
            print(f"(no broker answers at {args.broker}: in-process only)")
    else:
        brokers = modes[args.tasks]
    print(
        f"certificate issuance over HTTP: gunicorn {args.server_workers} sync workers, "
        f"{args.concurrency} client threads, {args.rounds} rounds of {args.flows} full flows (A) "
        f"and {args.issues} issue requests (B); {where}; {psutil.cpu_count()} cores"
    )
    numbers = Numbers()
    results = {
        broker: measure(args, url=url, broker=broker, key=key, numbers=numbers)
        for broker in brokers
    }
    print(
        f"\nsummary, issuances/s (medians of {args.rounds} rounds; "
        f"B's target, with the broker: {TARGET_ISSUE:.0f}):"
    )
    for broker, (flows, issues) in results.items():
        mode = "broker" if broker else "in-process"
        print(
            f"  tasks {mode:<10}  A {statistics.median(flows.rates):6.1f}/s   "
            f"B {statistics.median(issues.rates):6.1f}/s"
        )


if __name__ == "__main__":
    main()
