"""Handler publishes per second through the HTTP API, against a trivial authenticated POST.

    .venv/bin/python bench/publishes.py [--workers 8] [--seconds 20] [--concurrency 32]
        [--rounds 3] [--numbers 500] [--broker redis://127.0.0.1:6379/14]

Each run makes a database of its own on the embedded PostgreSQL (or DATABASE_URL's server),
``rs_bench_publishes_<pid>``, migrated and bootstrapped with keys in a temporary RS_KEY_DIR, and
drops both at the end (with those of earlier runs whose process is gone).

The service runs in the production shape, as ``bench/issuance.py``'s ``service_running`` starts
it: gunicorn (``--workers`` sync workers, DEBUG off, log level WARNING), a Celery worker, a
worker for the log's queue alone and Celery beat on Redis (``--broker``; its database 14 by
default), so that beat has the log integrated every second while the publishes append: the
appends are sequenced meanwhile, as in production. The challenge limits are off and the API
throttles raised. A broker is required: without one the log would be integrated in the gunicorn
worker after each commit, which is not what is measured here.

Set-up, not timed: one provider with one API key; ``--numbers`` French mobile numbers each get a
number certificate through the API (challenge, the SMS read from a file, verify, issue with a
CSR of a P-256 key kept by the benchmark), then each publishes its messaging handler once (the
warm-up: every handler row exists before the rounds, so the timed publishes replace handlers,
answered 200).

Measured, in interleaved rounds (the order of the two alternates from round to round), each
for ``--seconds`` of wall clock with ``--concurrency`` client threads (the standard library's
HTTP client, a connection per request, as gunicorn's sync workers close them):

(a) ``PUT /v1/numbers/{number}/handlers/messaging`` with a compact JWS (``application/jose``)
    made by ``resolution.client.api.handler_put_token`` with the number certificate's key: a
    fresh random jti each, and an iat of the round (signed just before the round starts, so
    that the client's CPU is not what is measured; a JWS is accepted for 5 minutes). The
    numbers are taken in turn, so that concurrent publishes are for different handler rows
    (the same number comes back only after ``--numbers`` publishes). Every answer must be 200
    or 201 with ``log.promise`` and ``log.leaf_hash``;
(b) the trivial authenticated POST: ``POST /v1/passports/verify`` with a body
    ``{"passport": "not-a-passport"}``. It authenticates the API key, throttles, parses and
    validates a JSON body with a serializer, fails to parse the PASSporT (no x5u fetch, no
    signature check, no SQL) and answers 200 with the verdict ``invalid``; it writes nothing.
    The API has no cheaper authenticated POST: every other one reads or locks rows and most
    write (challenges send an SMS, verify/cancel lock a challenge, certificates sign and log,
    keys/webhooks/invitations/disputes/certificate-requests create rows, history spends a
    jti, lock/unlock/revoke change a certificate). Nothing was added to the service for it.

How to read it: per round, each measurement's requests/s (count over the wall clock from the
first request to the last response), p50 and p99 latency, the CPU per request of gunicorn,
Celery, PostgreSQL (the whole server, when it runs here) and this client, and the ratio
publish/trivial of requests/s; then the medians over rounds, the median of the per-round
ratios, every non-2xx answer (by status, with a sample body) and the log's state: how many
entries beat has integrated (the appends' backlog after each publish phase, and at the end).
The client shares the 2-core machine with the service.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from common import percentile, postgres_pid, server_url, setup_django
from issuance import (
    LIMIT_VARIABLES,
    NO_THROTTLE,
    Api,
    Cpu,
    Numbers,
    broker_answers,
    challenge_start,
    challenge_verify,
    cpu_measured,
    service_running,
    sms_code,
)

DATABASE_PREFIX = "rs_bench_publishes_"
SERVICE = "messaging"
TRIVIAL_PATH = "/v1/passports/verify"
TRIVIAL_BODY = json.dumps({"passport": "not-a-passport"}).encode()
SAMPLES_KEPT = 3  # bodies kept per unexpected status


# --- Set-up: certificates and their keys ---------------------------------------------------------


@dataclass
class Holder:
    """A number, its certificate's serial and the certificate's private key."""

    number: str
    serial: str
    key: Any  # ec.EllipticCurvePrivateKey


def csr_with_key() -> tuple[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    return csr, key


def holder_make(api: Api, number: str) -> Holder:
    """A number certificate for ``number`` through the API: challenge, SMS, verify, issue."""
    challenge = challenge_start(api, number)
    challenge_verify(api, challenge, sms_code(api.sms_dir, challenge, number))
    csr, key = csr_with_key()
    body = api.call("POST", "/v1/certificates", {"challenge": challenge, "csr": csr}, 201)
    return Holder(number=number, serial=str(body["serial"]), key=key)


def tokens_sign(holders: Sequence[Holder], count: int, start: int, tag: str) -> list[Request]:
    """``count`` publish requests, numbers in turn from ``start``, each with a fresh JWS."""
    from resolution.client.api import handler_put_token

    iat = int(time.time())
    requests = []
    for n in range(start, start + count):
        holder = holders[n % len(holders)]
        token = handler_put_token(
            holder.key,
            holder.serial,
            number=holder.number,
            service=SERVICE,
            uri=f"sip:u{n}-{tag}@chat.example",
            iat=iat,
        )
        path = f"/v1/numbers/{holder.number}/handlers/{SERVICE}"
        requests.append(Request("PUT", path, token.encode("ascii"), "application/jose"))
    return requests


# --- Driving the server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    content_type: str


@dataclass
class Answer:
    seconds: float
    status: int  # 0: no answer (connection error, timeout)
    ok: bool
    detail: str = ""


def send(port: int, key: str, request: Request, check: Callable[[int, bytes], str]) -> Answer:
    """One request on a connection of its own; ``check`` says what is wrong with the answer."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": request.content_type}
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(request.method, request.path, request.body, headers)
        response = connection.getresponse()
        raw = response.read()
    except OSError as error:
        return Answer(time.perf_counter() - started, 0, False, repr(error))
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    problem = check(response.status, raw)
    return Answer(seconds, response.status, not problem, problem)


def publish_check(status: int, raw: bytes) -> str:
    if status not in (200, 201):
        return raw[:300].decode(errors="replace")
    try:
        log = json.loads(raw)["log"]
        if isinstance(log["promise"], str) and log["promise"] and log["leaf_hash"]:
            return ""
    except (ValueError, KeyError, TypeError):
        pass
    return f"no log.promise: {raw[:300].decode(errors='replace')}"


def trivial_check(status: int, raw: bytes) -> str:
    if status != 200:
        return raw[:300].decode(errors="replace")
    try:
        if json.loads(raw)["verdict"] == "invalid":
            return ""
    except (ValueError, KeyError, TypeError):
        pass
    return f"unexpected verdict: {raw[:300].decode(errors='replace')}"


@dataclass
class Run:
    seconds: float  # first request sent to last response read
    answers: list[Answer]
    exhausted: bool  # every prepared request was sent before the time was up


def drive(
    port: int,
    key: str,
    requests: Sequence[Request],
    check: Callable[[int, bytes], str],
    *,
    concurrency: int,
    seconds: float,
) -> Run:
    """Send ``requests`` in order on ``concurrency`` threads until ``seconds`` have passed."""
    lock = threading.Lock()
    pending = iter(requests)
    answers: list[Answer] = []
    ready = threading.Barrier(concurrency + 1)
    deadline = 0.0

    def run() -> None:
        ready.wait()
        while time.perf_counter() < deadline:
            with lock:
                request = next(pending, None)
            if request is None:
                return
            answer = send(port, key, request, check)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline = started + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Run(elapsed, answers, exhausted=len(answers) >= len(requests))


# --- Figures ------------------------------------------------------------------------------------


@dataclass
class Series:
    """One measurement over the rounds."""

    name: str
    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # ms per request
    busy: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[int, list[str]] = field(default_factory=dict)

    def add(self, run: Run, cpu: Cpu) -> str:
        count = len(run.answers)
        latencies = [a.seconds for a in run.answers]
        self.rates.append(count / run.seconds)
        self.p50.append(statistics.median(latencies))
        self.p99.append(percentile(latencies, 0.99))
        bad: Counter[int] = Counter()
        for answer in run.answers:
            self.statuses[answer.status] += 1
            if not answer.ok:
                bad[answer.status] += 1
                kept = self.failures.setdefault(answer.status, [])
                if len(kept) < SAMPLES_KEPT:
                    kept.append(answer.detail)
        for name, used in cpu.parts.items():
            self.cpu.setdefault(name, []).append(used / count * 1000)
        # What the machine spent outside the groups above: other processes, the kernel's share
        # that no process is charged (softirq of the loopback traffic), processes that ended.
        other = cpu.parts["machine"] - sum(v for k, v in cpu.parts.items() if k != "machine")
        self.cpu.setdefault("rest of machine", []).append(other / count * 1000)
        cores = psutil.cpu_count() or 1
        self.busy.append(cpu.parts["machine"] / (cpu.wall * cores))
        stolen = f", {cpu.steal / (cpu.wall * cores):.0%} stolen" if cpu.steal > 0 else ""
        parts = ", ".join(
            f"{name} {values[-1]:.1f}" for name, values in self.cpu.items() if name != "machine"
        )
        failed = sum(bad.values())
        return (
            f"{self.name}: {count} in {run.seconds:.2f} s = {self.rates[-1]:,.1f}/s, "
            f"p50 {self.p50[-1] * 1000:.1f} ms, p99 {self.p99[-1] * 1000:.1f} ms; "
            f"CPU ms/request: {parts}, machine {self.cpu['machine'][-1]:.1f}; "
            f"cores {self.busy[-1]:.0%} busy{stolen}"
            + (f"; {failed} FAILED {dict(bad)}" if failed else "")
            + ("; (ran out of prepared requests)" if run.exhausted else "")
        )

    def report(self) -> str:
        med = statistics.median
        cpu = {name: med(values) for name, values in self.cpu.items()}
        machine = cpu.pop("machine")
        return (
            f"{self.name}: {med(self.rates):,.1f}/s, p50 {med(self.p50) * 1000:.1f} ms, "
            f"p99 {med(self.p99) * 1000:.1f} ms (medians of {len(self.rates)} rounds)\n"
            "    CPU ms/request: "
            + ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
            + f"; whole machine {machine:.1f}, cores {med(self.busy):.0%} busy\n"
            f"    answers by status: {dict(sorted(self.statuses.items()))}"
        )


def processes_started() -> int:
    """Processes (and threads) created on the machine since it booted (/proc/stat)."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("processes "):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def log_backlog() -> tuple[int, int]:
    """Entries in the log, and how many the newest checkpoint covers."""
    from transparency.models import Checkpoint, Entry

    latest = Checkpoint.objects.order_by("-size").first()
    return Entry.objects.count(), latest.size if latest else 0


# --- The run ------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, *, url: str, key: str) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="rs-bench-publishes-"))
    sms_dir = scratch / "sms"
    sms_dir.mkdir()
    try:
        with service_running(
            url=url,
            workers=args.workers,
            broker=args.broker,
            sms_dir=sms_dir,
            scratch=scratch,
            key=key,
            log_worker=True,
        ) as service:
            run_rounds(args, service=service, key=key, sms_dir=sms_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_rounds(args: argparse.Namespace, *, service: Any, key: str, sms_dir: Path) -> None:
    from common import threads_drive

    port = service.port
    api = Api(port=port, key=key, sms_dir=sms_dir)
    started = time.perf_counter()
    seconds, holders = threads_drive(
        Numbers().take(args.numbers), 8, lambda number: holder_make(api, number)
    )
    print(
        f"set-up: {len(holders)} number certificates through the API in {seconds:.1f} s",
        flush=True,
    )
    # Warm-up: each number publishes once (every handler row exists before the rounds, and every
    # worker has loaded its code); the trivial request as often.
    warm = tokens_sign(holders, len(holders), 0, "warm")
    run = drive(port, key, warm, publish_check, concurrency=args.concurrency, seconds=600)
    failed = [a for a in run.answers if not a.ok]
    created = sum(1 for a in run.answers if a.status == 201)
    estimate = len(run.answers) / run.seconds
    print(
        f"warm-up: {len(run.answers)} publishes ({created} created) in {run.seconds:.1f} s "
        f"= {estimate:,.1f}/s, {len(failed)} failed"
        + (f", e.g. {failed[0].status} {failed[0].detail}" if failed else ""),
        flush=True,
    )
    trivial_warm = [Request("POST", TRIVIAL_PATH, TRIVIAL_BODY, "application/json")] * len(warm)
    drive(port, key, trivial_warm, trivial_check, concurrency=args.concurrency, seconds=600)
    print(f"set-up and warm-up took {time.perf_counter() - started:.0f} s", flush=True)

    groups = service.pids() | {"postgres": postgres_pid()}
    publishes = Series("publish PUT .../handlers/messaging")
    trivials = Series(f"trivial POST {TRIVIAL_PATH}")
    ratios: list[float] = []
    # Enough prepared publishes for the round at several times the warm-up's rate.
    per_round = max(2000, int(4 * estimate * args.seconds))
    # The same request each time: far more than a round can send (5,000/s).
    trivial_requests = [Request("POST", TRIVIAL_PATH, TRIVIAL_BODY, "application/json")] * int(
        5000 * args.seconds
    )
    next_number = len(holders)
    for round_ in range(1, args.rounds + 1):
        order = ["publish", "trivial"] if round_ % 2 else ["trivial", "publish"]
        for kind in order:
            if kind == "publish":
                requests = tokens_sign(holders, per_round, next_number, f"r{round_}")
                next_number += per_round
                series, check = publishes, publish_check
            else:
                requests, series, check = trivial_requests, trivials, trivial_check
            cpu = Cpu()
            forks = processes_started()
            with cpu_measured(groups, cpu):
                run = drive(
                    port,
                    key,
                    requests,
                    check,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                )
            line = series.add(run, cpu)
            forks = processes_started() - forks
            line += f"; {forks / max(1, len(run.answers)):.2f} processes started/request"
            if kind == "publish":
                # Rows not sent are never used again: the next round starts past them.
                next_number = next_number - per_round + len(run.answers)
                entries, size = log_backlog()
                line += f"; log {entries} entries, checkpoint {size} ({entries - size} behind)"
            print(f"round {round_} {line}", flush=True)
        ratios.append(publishes.rates[-1] / trivials.rates[-1])
        print(f"round {round_} ratio publish/trivial: {ratios[-1]:.3f}", flush=True)

    time.sleep(3)  # beat integrates every second
    entries, size = log_backlog()
    print(
        f"\nafter the rounds (+3 s): log {entries} entries, newest checkpoint size {size}"
        + (f" ({entries - size} not integrated yet)" if size < entries else " (all integrated)")
    )
    print(f"\n{publishes.report()}\n{trivials.report()}")
    print(
        f"ratio publish/trivial (req/s): median {statistics.median(ratios):.3f}; per round "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    for series in (publishes, trivials):
        for status, details in sorted(series.failures.items()):
            count = series.statuses[status] if status else "?"
            print(f"FAILED {series.name}: status {status or 'none'} x{count}, e.g.:")
            for detail in details:
                print(f"    {detail}")
    if not publishes.failures and not trivials.failures:
        print("every publish answered 200/201 with log.promise; every trivial POST 200 'invalid'")


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
            names = [
                *names,
                *(
                    name
                    for (name,) in rows
                    if name.removeprefix(DATABASE_PREFIX).isdigit()
                    and not psutil.pid_exists(int(name.removeprefix(DATABASE_PREFIX)))
                ),
            ]
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8, help="gunicorn sync workers")
    parser.add_argument("--seconds", type=float, default=20, help="each measurement, per round")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--numbers", type=int, default=500, help="numbers with a certificate")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="Redis broker URL")
    args = parser.parse_args()
    if not broker_answers(args.broker):
        sys.exit(f"no broker answers at {args.broker}: the log's integrator needs one (beat)")

    for variable in LIMIT_VARIABLES:
        os.environ[variable] = ""
    os.environ["RS_THROTTLE_API_KEY"] = NO_THROTTLE
    os.environ["RS_THROTTLE_CLIENT_IP"] = NO_THROTTLE
    os.environ["DJANGO_DEBUG"] = "false"
    database = f"{DATABASE_PREFIX}{os.getpid()}"
    keys = tempfile.mkdtemp(prefix="rs-bench-publishes-keys-")
    os.environ["RS_KEY_DIR"] = keys
    where = "embedded PostgreSQL"
    if os.environ.get("DATABASE_URL"):
        where = f"PostgreSQL at {urlsplit(os.environ['DATABASE_URL']).hostname}"
    databases_drop(stale=True)
    try:
        url = setup_django(database, fresh=True)
        from providers.services import api_key_create, provider_create

        key = api_key_create(provider=provider_create(slug="bench", name="Bench")).secret
        print(
            f"handler publishes over HTTP: gunicorn {args.workers} sync workers, Celery worker, "
            f"log worker and beat on {args.broker}; {args.concurrency} client threads; "
            f"{args.rounds} rounds of {args.seconds:g} s per measurement; {args.numbers} numbers; "
            f"{where}, database {database}; {psutil.cpu_count()} cores",
            flush=True,
        )
        measure(args, url=url, key=key)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        databases_drop(stale=False, names=[database])
        shutil.rmtree(keys, ignore_errors=True)


if __name__ == "__main__":
    main()
