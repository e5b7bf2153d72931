"""Number lookups against a directory of a million numbers: load it fast, then look it up.

    .venv/bin/python bench/lookups.py [--numbers 1000000] [--small 10000] [--rounds 3]
        [--requests 3000] [--concurrency 8] [--server-workers 4] [--keep | --reuse NAME]
    .venv/bin/python bench/lookups.py --load-only [--numbers N] [--keep]
    .venv/bin/python bench/lookups.py --reuse NAME --profile 3000   # CPU per request, in process

Each run makes databases of its own on the embedded PostgreSQL (or DATABASE_URL's server),
``rs_bench_directory_<pid>`` (the big directory) and ``rs_bench_directory_<pid>_small``, each
with its keys in a temporary RS_KEY_DIR, and drops them at the end, with those of earlier runs
whose process is gone. ``--keep`` loads the big one as ``rs_bench_directory_kept_<pid>`` and
keeps it, with its keys in ``$TMPDIR/<name>-keys``; ``--reuse NAME`` measures it again without
loading (the small one, loaded in seconds, is always made afresh).

The loader (:func:`directory_load`) fills a fresh database as if every number had been through
the service: per number a ``used`` challenge, a real X.509 number certificate signed by the
issuing CA (``ca.authority.end_entity_sign``, its own serial; the subject keys are a few P-256
keys shared by all certificates, since a key per number would cost more than the rest), its
``certificate`` log entry, its VRF label and proof (``Label``), and three handlers (voice
``tel:``, messaging ``sip:``, video ``sips:``) of the certificate's provider, each with its
random opening, its commitment and its ``handler`` log entry, made exactly as
``directory.services.handler_put`` makes them. One number in ten hides its messaging handler
from the benchmark's caller, one in ten shows its video handler only to the caller and the
publisher. Entries take consecutive indices (the certificate's, then its three handlers').
Two processes compute the rows (the VRF proof and the signature are most of the CPU) and write
them with ``COPY``, a chunk of numbers per transaction; the log is then integrated, the new
tables vacuumed and analysed, as a settled production database would be.

The lookup benchmark serves both directories at once, each with its own gunicorn (sync workers,
DEBUG off, log level WARNING, throttles raised), and measures in interleaved rounds, on each:
``GET /v1/me`` (authentication and nothing else: the trivial baseline) and
``GET /v1/numbers/{number}`` for random loaded numbers and 3 % of numbers never loaded. The
clients are threads of this process (the standard library's HTTP client, a connection per
request, as gunicorn's sync workers close them). A sample of each round's answers is checked
offline with ``resolution.protocol.lookup.verify_lookup`` and the log's public keys
(``GET /log/key``), and their handlers are compared with what was loaded: the figures are for
real answers.

How to read it: per round and as medians over rounds, requests/s (count over the wall clock from
the first request to the last response), p50 and p99 latency, and the CPU each request cost in
gunicorn, PostgreSQL (the whole server, when it runs here), this client and the whole machine.
Then two ratios, each the median of the per-round ratios (the two measurements of a round are
minutes apart at most, so a change in this VM's speed touches both): lookup over trivial
throughput on the big directory (target at least 0.50), and the lookup p99 on the big directory
over the small one (target at most 1.5), with the p50 ratio beside it.

``--profile N`` starts no server: on a kept directory, it measures the CPU a ``GET /v1/me`` and
a lookup cost in this process, through Django's whole stack, in alternating blocks, and
prints the medians and their ratio: where a change to the lookup's own path shows without the
noise of a busy machine's throughput.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from common import (
    ROOT,
    Timer,
    free_port,
    join_django,
    percentile,
    postgres_pid,
    server_url,
    setup_django,
    threads_drive,
    tree_cpu,
)

from resolution.protocol.lookup import handler_fields, verify_lookup

DATABASE_PREFIX = "rs_bench_directory_"
KEPT = "kept"  # rs_bench_directory_kept_<pid>: not a run's own database, never dropped as stale
KEY_PASSPHRASE = "benchmark-only-passphrase"  # noqa: S105 (throwaway keys of a benchmark)
NO_THROTTLE = "100000000/minute"
TARGET_RATIO = 0.50  # lookup throughput over trivial-request throughput, same server
TARGET_P99_GROWTH = 1.5  # lookup p99 on the big directory over the small one

# The loader.
LOADER_PROCESSES = 2
CHUNK = 500  # numbers per COPY transaction: 2,000 entries, 1,500 handlers
INTEGRATE_BATCH = 1 << 20  # entries per checkpoint when integrating the loaded log
SHARED_KEYS = 8  # P-256 subject keys shared by all the certificates
HANDLERS_PER_NUMBER = 3
ENTRIES_PER_NUMBER = 1 + HANDLERS_PER_NUMBER  # its certificate's, its handlers'
# Disk a loaded number takes (rows, indexes, tiles; measured: about 5.2 kB), with a margin,
# and room for the WAL that COPY writes before checkpoints recycle it.
BYTES_PER_NUMBER = 8_000
WAL_HEADROOM = 4 * 2**30

# The providers publishing handlers (slug, name), and the one whose API key looks numbers up.
PUBLISHERS = (
    ("acme-chat", "Acme Chat"),
    ("globex", "Globex Telecom"),
    ("initech", "Initech Voice"),
    ("umbrella", "Umbrella Video"),
)
CALLER = ("bench", "Bench lookups")
KEY_LABEL = "bench/lookups.py"  # the label of the caller's API key
CLIENT_IP = "192.0.2.10"  # TEST-NET-1: the challenges' requester

# The lookups.
UNKNOWN_SHARE = 0.03  # lookups of numbers that were never loaded
VERIFIED_PER_ROUND = 100  # answers of each lookup round checked offline
SEED = 20261123


# --- Numbers ------------------------------------------------------------------------------------

# Loaded numbers are +336 and 8 digits whose first is one of LOADED_LEADS (all mobile in the
# French plan), spread over that space by a fixed permutation so that neighbours in the load
# are not neighbours in the indexes. Unknown numbers are +337[3-9]…, also mobile, never loaded.
LOADED_LEADS = "01245678"
NUMBER_SPACE = len(LOADED_LEADS) * 10**7
STRIDE = 7_368_787  # coprime with NUMBER_SPACE (2^10 * 5^7): i -> i * STRIDE is a permutation
OFFSET = 12_345_678
assert math.gcd(STRIDE, NUMBER_SPACE) == 1


def number_at(position: int) -> str:
    """The ``position``-th loaded number (distinct for every position below NUMBER_SPACE)."""
    spread = (position * STRIDE + OFFSET) % NUMBER_SPACE
    return f"+336{LOADED_LEADS[spread // 10**7]}{spread % 10**7:07d}"


def position_of(number: str) -> int:
    """The inverse of :func:`number_at` (for numbers of that form)."""
    spread = LOADED_LEADS.index(number[4]) * 10**7 + int(number[5:])
    return (spread - OFFSET) * pow(STRIDE, -1, NUMBER_SPACE) % NUMBER_SPACE


def unknown_number(rng: random.Random) -> str:
    return f"+337{rng.randrange(3, 10)}{rng.randrange(10**7):07d}"


@dataclass(frozen=True)
class HandlerSpec:
    service: str
    uri: str
    priority: int
    visible_to: list[str] | None  # sorted slugs, as handler_put stores them; None: everyone


def handlers_of(position: int, number: str) -> tuple[str, list[HandlerSpec]]:
    """The provider holding the ``position``-th number's certificate, and its three handlers."""
    owner = PUBLISHERS[position % len(PUBLISHERS)][0]
    other = PUBLISHERS[(position + 1) % len(PUBLISHERS)][0]
    digits = number[1:]
    hidden = sorted([owner, other]) if position % 10 == 0 else None  # not for the caller
    shown = sorted([owner, CALLER[0]]) if position % 10 == 1 else None  # only for the caller
    return owner, [
        HandlerSpec("voice", f"tel:{number}", 10, None),
        HandlerSpec("messaging", f"sip:{digits}@chat.example", 20, hidden),
        HandlerSpec("video", f"sips:{digits}@video.example", 30, shown),
    ]


def handlers_seen(number: str) -> set[tuple[str, str, str]]:
    """What the caller's lookup of ``number`` must show: (provider, service, uri)."""
    position = position_of(number)
    owner, specs = handlers_of(position, number)
    return {
        (owner, spec.service, spec.uri)
        for spec in specs
        if spec.visible_to is None or CALLER[0] in spec.visible_to
    }


# --- The loader ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publisher:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class LoadPlan:
    """What every loader process needs: the database, where ids start, the shared values."""

    url: str
    first_entry: int
    first_certificate: int
    first_handler: int
    publishers: dict[str, Publisher]
    issued_at: datetime
    not_before: datetime
    not_after: datetime
    challenge_lifetime: timedelta
    public_keys: tuple[bytes, ...]  # DER SubjectPublicKeyInfo


@dataclass
class LoadCost:
    """Where a loader process's time went, summed over chunks."""

    numbers: int = 0
    label_cpu: float = 0.0
    sign_cpu: float = 0.0
    rows_cpu: float = 0.0
    copy_seconds: float = 0.0

    def add(self, other: LoadCost) -> None:
        self.numbers += other.numbers
        self.label_cpu += other.label_cpu
        self.sign_cpu += other.sign_cpu
        self.rows_cpu += other.rows_cpu
        self.copy_seconds += other.copy_seconds


@dataclass
class LoadReport:
    numbers: int
    entries: int
    handlers: int
    checkpoint_size: int
    database_bytes: int
    phases: dict[str, float] = field(default_factory=dict)
    cost: LoadCost = field(default_factory=LoadCost)

    def lines(self) -> list[str]:
        total = sum(self.phases.values())
        per_number = 1000 / max(self.cost.numbers, 1)
        lines = [f"  {phase:<28} {seconds:8.1f} s" for phase, seconds in self.phases.items()]
        lines += [
            f"  {'total':<28} {total:8.1f} s = {total / 60:.1f} min; "
            f"{self.numbers:,} numbers, {self.handlers:,} handlers, {self.entries:,} entries "
            f"(checkpoint size {self.checkpoint_size:,}); database "
            f"{self.database_bytes / 2**30:.2f} GiB ({self.database_bytes / self.numbers:,.0f} "
            "bytes a number)",
            f"  per number, in a loader process: VRF label {self.cost.label_cpu * per_number:.2f} "
            f"ms, certificate {self.cost.sign_cpu * per_number:.2f} ms, other rows "
            f"{self.cost.rows_cpu * per_number:.2f} ms (CPU); COPY "
            f"{self.cost.copy_seconds * per_number:.2f} ms (wall)",
        ]
        return lines


# The tables a chunk writes with COPY, in foreign-key order, and the columns it fills; the others
# take their defaults (created_at, revocation fields, ...).
COPY_COLUMNS = {
    "ca_challenge": (
        *("id", "provider_id", "number", "region", "calling_code", "client_ip", "code_hmac"),
        *("status", "attempts", "created_at", "expires_at", "verified_at", "used_at"),
        *("delivery_status", "delivery_attempts", "delivery_error", "message_id"),
        "delivery_updated_at",
    ),
    "ca_certificate": (
        *("id", "serial", "provider_id", "challenge_id", "number", "label", "der"),
        *("certificate_sha256", "public_key_sha256", "not_before", "not_after", "log_entry_id"),
        *("revocation_reason", "repository_id"),
    ),
    "transparency_label": ("number", "label", "proof"),
    "directory_handler": (
        *("id", "number", "provider_id", "service", "uri", "priority", "visible_to"),
        *("certificate_id", "label", "opening", "log_entry_id", "expires_at"),
    ),
    # Loaded already sequenced, each entry's id its index (what the foreign keys above name).
    "transparency_entry": ("id", '"index"', "kind", "data", "leaf_hash"),
    "transparency_entryopening": ("entry_id", "label", "opening", "content"),
}


class _Loader:
    """A loader process's state, set once by :func:`_loader_start`."""

    plan: LoadPlan
    keys: list[Any]


def _loader_start(plan: LoadPlan) -> None:
    """In a loader process: join the database, load the CA and log keys once."""
    join_django(plan.url)
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from ca.authority import ca_keys
    from transparency.keys import log_keys

    ca_keys()
    log_keys()
    _Loader.plan = plan
    _Loader.keys = []
    for der in plan.public_keys:
        key = load_der_public_key(der)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        _Loader.keys.append(key)


def chunk_load(start: int, count: int) -> LoadCost:
    """Numbers ``start`` to ``start + count - 1``: compute their rows, COPY them in one transaction.

    Each row is what the service itself writes: ``ca.services.certificate_issue`` for the
    challenge (spent), the certificate, its label and its entry; ``handler_put`` for each handler.
    """
    import secrets

    from django.db import connection, transaction

    from ca import authority
    from ca.choices import ChallengeStatus, DeliveryStatus
    from ca.codes import code_digest, code_generate
    from ca.models import repository_id_new
    from core.dates import rfc3339
    from resolution.protocol.canonical import canonical_json
    from resolution.protocol.directory import uri_validate
    from resolution.protocol.entries import EntryKind, PrivateEntry, commitment, entry_encode
    from resolution.protocol.merkle import leaf_hash
    from transparency.labels import number_label_compute

    plan, keys = _Loader.plan, _Loader.keys
    cost = LoadCost(numbers=count)
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COPY_COLUMNS}
    # The challenge was started half a minute before the certificate, answered 20 s later.
    started_at, verified_at = (
        plan.issued_at - timedelta(seconds=30),
        plan.issued_at - timedelta(seconds=10),
    )
    not_before, not_after = rfc3339(plan.not_before), rfc3339(plan.not_after)

    def entry(index: int, kind: EntryKind, label: bytes, content: dict[str, Any]) -> bytes:
        """A version-2 entry and its opening, as log_append_committed writes them: the opening."""
        opening = secrets.token_bytes(32)
        private = PrivateEntry(
            kind=kind, label=label.hex(), commitment=commitment(opening, content).hex()
        )
        data = entry_encode(kind=kind.value, payload=private.payload(), version=private.version)
        rows["transparency_entry"].append((index, index, kind.value, data, leaf_hash(data)))
        rows["transparency_entryopening"].append((index, label, opening, canonical_json(content)))
        return opening

    for position in range(start, start + count):
        number = number_at(position)
        slug, specs = handlers_of(position, number)
        owner = plan.publishers[slug]
        started = time.process_time()
        label = number_label_compute(number)
        labelled = time.process_time()
        serial = authority.serial_generate()
        signed = authority.end_entity_sign(
            public_key=keys[position % len(keys)],
            number_digits=number[1:],
            serial=serial,
            not_before=plan.not_before,
            not_after=plan.not_after,
            holder=owner.name,
        )
        signed_at = time.process_time()

        challenge = uuid.uuid4()
        rows["ca_challenge"].append(
            (
                *(challenge, owner.id, number, "FR", 33, CLIENT_IP),
                code_digest(challenge, code_generate(6)),
                *(ChallengeStatus.USED.value, 0, started_at),
                *(started_at + plan.challenge_lifetime, verified_at, plan.issued_at),
                *(DeliveryStatus.DELIVERED.value, 1, "", "", started_at),
            )
        )
        rows["transparency_label"].append((number, label.label, label.proof))
        first_entry = plan.first_entry + ENTRIES_PER_NUMBER * position
        certificate_id = plan.first_certificate + position
        serial_hex = authority.serial_hex(serial)
        entry(
            first_entry,
            EntryKind.CERTIFICATE,
            label.label,
            {
                "number": number,
                "serial": serial_hex,
                "certificate_sha256": signed.certificate_sha256.hex(),
                "public_key_sha256": signed.public_key_sha256.hex(),
                "not_before": not_before,
                "not_after": not_after,
                "provider": owner.slug,
            },
        )
        rows["ca_certificate"].append(
            (
                *(certificate_id, serial_hex, owner.id, challenge, number, label.label),
                *(signed.der, signed.certificate_sha256, signed.public_key_sha256),
                *(plan.not_before, plan.not_after, first_entry, "", repository_id_new()),
            )
        )
        for offset, spec in enumerate(specs, start=1):
            uri = uri_validate(spec.service, spec.uri)
            fields = {
                "provider": owner.slug,
                "service": spec.service,
                "uri": uri,
                "priority": spec.priority,
                "expires_at": not_after,
                "certificate": serial_hex,
            }
            index = first_entry + offset
            opening = entry(index, EntryKind.HANDLER, label.label, handler_fields(number, fields))
            rows["directory_handler"].append(
                (
                    plan.first_handler + HANDLERS_PER_NUMBER * position + offset - 1,
                    *(number, owner.id, spec.service, uri, spec.priority, spec.visible_to),
                    *(certificate_id, label.label, opening, index, plan.not_after),
                )
            )
        finished = time.process_time()
        cost.label_cpu += labelled - started
        cost.sign_cpu += signed_at - labelled
        cost.rows_cpu += finished - signed_at

    with Timer() as copying, transaction.atomic(), connection.cursor() as cursor:
        for table, columns in COPY_COLUMNS.items():
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows[table]:
                    copy.write_row(row)
    cost.copy_seconds = copying.seconds
    return cost


def disk_check(numbers: int) -> str:
    """Refuse (SystemExit) when ``numbers`` would not fit on the database server's disk."""
    from django.db import DatabaseError, connection

    need = numbers * BYTES_PER_NUMBER + WAL_HEADROOM
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            (directory,) = cursor.fetchone()
    except DatabaseError:
        return "disk not checked: this role may not read the server's data_directory"
    if not Path(directory).is_dir():
        return f"disk not checked: the server's {directory} is not on this machine"
    free = shutil.disk_usage(directory).free
    if need > free:
        raise SystemExit(
            f"not enough disk for {numbers:,} numbers: about {need / 2**30:.1f} GiB needed "
            f"({BYTES_PER_NUMBER:,} bytes a number and {WAL_HEADROOM / 2**30:.0f} GiB for the "
            f"WAL), {free / 2**30:.1f} GiB free at {directory}"
        )
    return f"disk: about {need / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free at {directory}"


def directory_load(numbers: int, *, processes: int = LOADER_PROCESSES) -> LoadReport:
    """Fill the fresh database Django is set up on with ``numbers`` numbers; time each phase.

    Constant memory: chunks of CHUNK numbers go to ``processes`` processes, which compute and
    COPY them; the parent only counts.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.conf import settings
    from django.db import connection, connections
    from django.db.models import Max
    from django.utils import timezone

    from ca.authority import BACKDATE
    from ca.models import Certificate
    from directory.models import Handler
    from directory.services import handler_tile_proofs_keep
    from providers.models import Provider
    from providers.services import provider_create
    from transparency.models import Entry, Label
    from transparency.services import log_integrate

    phases: dict[str, float] = {}
    if Label.objects.exists() or Certificate.objects.exists():
        raise SystemExit("the loader fills a fresh database; this one has numbers already")
    print(f"loader: {numbers:,} numbers, {processes} processes, chunks of {CHUNK}", flush=True)
    print(f"  {disk_check(numbers)}", flush=True)

    with Timer() as preparing:
        slugs = {slug for slug, _ in [*PUBLISHERS, CALLER]}
        existing = set(Provider.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        for slug, name in [*PUBLISHERS, CALLER]:
            if slug not in existing:
                provider_create(slug=slug, name=name)
        publishers = {
            p.slug: Publisher(p.pk, p.slug, p.name)
            for p in Provider.objects.filter(slug__in=[slug for slug, _ in PUBLISHERS])
        }
        issued_at = timezone.now().replace(microsecond=0)
        last_entry = Entry.objects.aggregate(last=Max("index"))["last"]
        plan = LoadPlan(
            url=os.environ["DATABASE_URL"],
            first_entry=0 if last_entry is None else last_entry + 1,
            first_certificate=(Certificate.objects.aggregate(last=Max("pk"))["last"] or 0) + 1,
            first_handler=(Handler.objects.aggregate(last=Max("pk"))["last"] or 0) + 1,
            publishers=publishers,
            issued_at=issued_at,
            not_before=issued_at - BACKDATE,
            not_after=issued_at + timedelta(days=settings.RS_CERT_LIFETIME_DAYS),
            challenge_lifetime=timedelta(seconds=settings.RS_CHALLENGE_LIFETIME_SECONDS),
            public_keys=tuple(
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                for _ in range(SHARED_KEYS)
            ),
        )
    phases["providers, plan"] = preparing.seconds

    cost = LoadCost()
    connections.close_all()  # the loader processes open their own
    context = multiprocessing.get_context("spawn")
    chunks = [(start, min(CHUNK, numbers - start)) for start in range(0, numbers, CHUNK)]
    with (
        Timer() as loading,
        context.Pool(processes, initializer=_loader_start, initargs=(plan,)) as pool,
    ):
        report_every, next_report = max(numbers // 20, CHUNK), 0
        started = time.perf_counter()
        for done in pool.imap_unordered(_chunk_load_star, chunks):
            cost.add(done)
            if cost.numbers >= next_report or cost.numbers == numbers:
                next_report += report_every
                elapsed = time.perf_counter() - started
                rate = cost.numbers / elapsed
                print(
                    f"  rows: {cost.numbers:>10,} numbers in {elapsed:7.1f} s "
                    f"({rate:,.0f}/s, {(numbers - cost.numbers) / rate:,.0f} s left)",
                    flush=True,
                )
    phases[f"rows ({processes} processes, COPY)"] = loading.seconds

    with Timer() as sequencing, connection.cursor() as cursor:
        for model in (Certificate, Handler, Entry):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"  # noqa: S608 (a model's own table)
            )
    phases["id sequences"] = sequencing.seconds

    with Timer() as integrating:
        checkpoint = log_integrate(batch=INTEGRATE_BATCH)
    assert checkpoint is not None
    entries = Entry.objects.count()
    assert checkpoint.size == entries, (checkpoint.size, entries)
    phases["log integration"] = integrating.seconds

    # As beat does in service: lookups then read 256 bytes a handler instead of its tile.
    with Timer() as keeping:
        handler_tile_proofs_keep(batch=20_000)
    phases["in-tile proof hashes"] = keeping.seconds

    with Timer() as vacuuming, connection.cursor() as cursor:
        for table in [*COPY_COLUMNS, "transparency_tile", "transparency_checkpoint"]:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    phases["vacuum, analyze"] = vacuuming.seconds

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (size,) = cursor.fetchone()
    return LoadReport(
        numbers=numbers,
        entries=entries,
        handlers=Handler.objects.count(),
        checkpoint_size=checkpoint.size,
        database_bytes=size,
        phases=phases,
        cost=cost,
    )


def _chunk_load_star(chunk: tuple[int, int]) -> LoadCost:
    return chunk_load(*chunk)


# --- Databases --------------------------------------------------------------------------------


@dataclass
class Directory:
    """A database of loaded numbers, its keys, and the API key that looks numbers up in it."""

    role: str  # "small" or "big"
    name: str
    kept: bool = False
    numbers: int = 0
    url: str = ""
    api_key: str = ""

    @property
    def key_dir(self) -> Path:
        return key_dir_of(self.name)


def key_dir_of(database: str) -> Path:
    """Where a benchmark database's keys live (RS_KEY_DIR): its labels and checkpoints need them."""
    return Path(tempfile.gettempdir()) / f"{database}-keys"


@dataclass(frozen=True)
class Prepared:
    url: str
    api_key: str
    numbers: int


def directory_prepare(name: str, key_dir: str, numbers: int) -> Prepared:
    """In a process of its own: set up ``name`` (loading ``numbers`` when not 0), make a key.

    A process per database, since Django is set up on one database per process.
    """
    os.environ["RS_KEY_DIR"] = key_dir
    url = setup_django(name, fresh=numbers > 0)
    from providers.models import Provider
    from providers.services import api_key_create, api_key_revoke
    from transparency.models import Label

    if numbers:
        from core.database_timeouts import maintenance_timeouts

        # Integrating millions of entries, vacuuming: statements longer than a request's.
        with maintenance_timeouts():
            report = directory_load(numbers)
        print(f"loaded {name}:", *report.lines(), sep="\n", flush=True)
    caller = Provider.objects.get(slug=CALLER[0])
    # A kept directory is measured again and again: the keys of earlier runs are revoked, as a
    # provider holds at most RS_API_KEY_MAX_PER_PROVIDER live keys.
    for earlier in caller.api_keys.filter(label=KEY_LABEL, revoked_at__isnull=True):
        api_key_revoke(api_key=earlier)
    secret = api_key_create(provider=caller, label=KEY_LABEL).secret
    return Prepared(url=url, api_key=secret, numbers=Label.objects.count())


def directories_prepare(directories: Sequence[Directory], numbers: dict[str, int]) -> None:
    """Load (``numbers`` by role; 0 or none: already loaded) and open each directory."""
    context = multiprocessing.get_context("spawn")
    for directory in directories:
        with ProcessPoolExecutor(1, mp_context=context) as executor:
            prepared = executor.submit(
                directory_prepare,
                directory.name,
                str(directory.key_dir),
                numbers.get(directory.role, 0),
            ).result()
        directory.url, directory.api_key = prepared.url, prepared.api_key
        directory.numbers = prepared.numbers


def databases_drop(*, stale: bool, names: Sequence[str] = ()) -> None:
    """Drop ``names`` and their keys; with ``stale``, also those of runs whose process is gone."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url(), autocommit=True) as conn:
        names = list(names)
        if stale:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                (DATABASE_PREFIX,),
            ).fetchall()
            for (name,) in rows:
                pid = name.removeprefix(DATABASE_PREFIX).split("_")[0]
                if pid.isdigit() and not psutil.pid_exists(int(pid)):
                    names.append(name)
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            shutil.rmtree(key_dir_of(name), ignore_errors=True)


# --- Serving and requesting ---------------------------------------------------------------------


@dataclass
class Service:
    directory: Directory
    port: int
    process: subprocess.Popen[bytes]


def get(port: int, path: str, key: str) -> tuple[int, bytes]:
    """One GET on a connection of its own (gunicorn's sync workers close each one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def service_running(directory: Directory, *, workers: int, scratch: Path) -> Iterator[Service]:
    """gunicorn on ``directory``'s database and keys; its output is shown if anything fails."""
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": directory.url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "RS_LOG_LEVEL": "WARNING",
        "RS_KEY_DIR": str(directory.key_dir),
        "CELERY_BROKER_URL": "",  # lookups enqueue nothing
        "PYTHONPATH": str(ROOT),
    }
    command = [
        *(sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"),
        *("--workers", str(workers), "--log-level", "warning"),
    ]
    log_path = scratch / f"{directory.role}-service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, body = get(port, "/v1/me", directory.api_key)
                    if status != 200:
                        raise RuntimeError(f"GET /v1/me: {status} {body[:300]!r}")
                    break
                except OSError:
                    if process.poll() is not None:
                        raise RuntimeError(f"gunicorn exited ({process.returncode})") from None
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            yield Service(directory=directory, port=port, process=process)
        except BaseException:
            tail = log_path.read_text(errors="replace").splitlines()[-40:]
            print("\n".join(["-- service output (last lines):", *tail]), file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Run:
    """One timed batch of requests."""

    seconds: float
    latencies: list[float]
    kept: list[tuple[str, bytes]]  # (path, body) of a sample of the answers


def drive(service: Service, paths: Sequence[str], concurrency: int, keep: int) -> Run:
    """GET every path on ``concurrency`` threads; keep the bodies of ``keep`` of them.

    The wall clock runs from the first request to the last response.
    """
    every = max(1, len(paths) // keep) if keep else 0

    def request(item: tuple[int, str]) -> tuple[float, tuple[str, bytes] | None]:
        position, path = item
        started = time.perf_counter()
        status, body = get(service.port, path, service.directory.api_key)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body[:300]!r}")
        took = time.perf_counter() - started
        return took, (path, body) if every and position % every == 0 else None

    seconds, results = threads_drive(list(enumerate(paths)), concurrency, request)
    latencies = [took for took, _ in results]
    kept = [answer for _, answer in results if answer is not None]
    return Run(seconds=seconds, latencies=latencies, kept=kept)


# --- CPU accounting -------------------------------------------------------------------------------


def machine_busy() -> float:
    """CPU seconds the machine's cores have spent busy (not idle, waiting or stolen)."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0) + getattr(times, "steal", 0.0)
    return float(sum(times) - idle)


@dataclass
class Cpu:
    """CPU seconds spent during one timed run, by process group."""

    wall: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)


@contextmanager
def cpu_measured(groups: dict[str, int | None], cpu: Cpu) -> Iterator[None]:
    before = {name: tree_cpu(pid) for name, pid in groups.items()}
    client, machine, started = time.process_time(), machine_busy(), time.perf_counter()
    yield
    cpu.wall = time.perf_counter() - started
    cpu.parts = {name: tree_cpu(pid) - before[name] for name, pid in groups.items()}
    cpu.parts["client"] = time.process_time() - client
    cpu.parts["machine"] = machine_busy() - machine


# --- Rounds and figures -------------------------------------------------------------------------


@dataclass
class Series:
    """One kind of request on one directory, over the rounds."""

    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # ms per request
    busy: list[float] = field(default_factory=list)  # share of the machine's cores

    def add(self, run: Run, cpu: Cpu) -> str:
        count = len(run.latencies)
        self.rates.append(count / run.seconds)
        self.p50.append(statistics.median(run.latencies))
        self.p99.append(percentile(run.latencies, 0.99))
        for name, used in cpu.parts.items():
            self.cpu.setdefault(name, []).append(used / count * 1000)
        self.busy.append(cpu.parts["machine"] / (cpu.wall * (psutil.cpu_count() or 1)))
        return self.line(-1, f"{count:,} in {run.seconds:.2f} s = ")

    def line(self, at: int | None, prefix: str = "") -> str:
        """Round ``at``'s figures, or the medians over rounds (``at`` None)."""

        def pick(values: list[float]) -> float:
            return statistics.median(values) if at is None else values[at]

        cpu = ", ".join(f"{name} {pick(ms):.2f}" for name, ms in self.cpu.items())
        return (
            f"{prefix}{pick(self.rates):,.1f}/s, p50 {pick(self.p50) * 1000:.1f} ms, "
            f"p99 {pick(self.p99) * 1000:.1f} ms; CPU ms/request: {cpu}; "
            f"cores {pick(self.busy):.0%} busy"
        )


@dataclass(frozen=True)
class LogKey:
    note_verifier_key: str
    vrf_public_key: bytes


def log_key(service: Service) -> LogKey:
    status, body = get(service.port, "/log/key", service.directory.api_key)
    assert status == 200, (status, body[:300])
    answer = json.loads(body)
    return LogKey(answer["note_verifier_key"], base64.b64decode(answer["vrf_public_key"]))


def answers_verify(run: Run, key: LogKey, directory: Directory) -> str:
    """Check the kept answers offline, and that each shows exactly what was loaded."""
    answers = handlers = 0
    sizes = set()
    for path, body in run.kept:
        number = path.rsplit("/", 1)[1]
        verified = verify_lookup(json.loads(body), key.note_verifier_key, key.vrf_public_key)
        assert verified.number == number and not verified.pending, (number, verified)
        assert verified.checkpoint is not None
        shown = {(h.provider, h.service, h.uri) for h in verified.handlers}
        loaded = number.startswith("+336") and position_of(number) < directory.numbers
        assert shown == (handlers_seen(number) if loaded else set()), (number, shown)
        answers += 1
        handlers += len(shown)
        sizes.add(verified.checkpoint.size)
    return (
        f"verified offline: {answers} answers, {handlers} handlers, each proven in the "
        f"checkpoint of size {', '.join(f'{size:,}' for size in sorted(sizes))}"
    )


def lookup_paths(directory: Directory, count: int, rng: random.Random) -> list[str]:
    return [
        "/v1/numbers/"
        + (
            unknown_number(rng)
            if rng.random() < UNKNOWN_SHARE
            else number_at(rng.randrange(directory.numbers))
        )
        for _ in range(count)
    ]


def measure(args: argparse.Namespace, services: list[Service]) -> dict[tuple[str, str], Series]:
    """Interleaved rounds of trivial requests and lookups on every directory."""
    groups = {"postgres": postgres_pid()}
    keys = {service.directory.role: log_key(service) for service in services}
    rng = random.Random(SEED)
    series: dict[tuple[str, str], Series] = {}
    # Warm up: code, keys, prepared statements, the kept tiles and upper nodes, and
    # PostgreSQL's buffers, so that the rounds measure the steady state.
    for service in services:
        warm = args.server_workers * 250
        drive(service, ["/v1/me"] * warm, args.concurrency, 0)
        drive(service, lookup_paths(service.directory, warm, rng), args.concurrency, 0)
    steps = [(service, kind) for service in services for kind in ("trivial", "lookup")]
    for round_ in range(1, args.rounds + 1):
        # Every other round in reverse order, so that no step always runs first.
        for service, kind in steps if round_ % 2 else steps[::-1]:
            directory = service.directory
            if kind == "trivial":
                paths = ["/v1/me"] * args.requests
            else:
                paths = lookup_paths(directory, args.requests, rng)
            cpu = Cpu()
            with cpu_measured({"gunicorn": service.process.pid, **groups}, cpu):
                run = drive(service, paths, args.concurrency, VERIFIED_PER_ROUND)
            line = series.setdefault((directory.role, kind), Series()).add(run, cpu)
            name = "GET /v1/me" if kind == "trivial" else "lookup"
            print(f"round {round_} {directory.role:<5} {name:<10}: {line}", flush=True)
            if kind == "lookup":
                print(f"    {answers_verify(run, keys[directory.role], directory)}", flush=True)
    return series


def ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def report(args: argparse.Namespace, series: dict[tuple[str, str], Series]) -> None:
    """Medians over rounds, the two ratios (medians of the per-round ratios), the verdicts."""

    def median_of(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} (rounds: {', '.join(f'{v:.2f}' for v in values)})"

    def verdict(ok: bool) -> str:
        return "meets" if ok else "misses"

    print(f"\nmedians of {args.rounds} rounds:")
    for (role, kind), measured in series.items():
        name = "GET /v1/me" if kind == "trivial" else "lookup"
        print(f"  {role:<5} {name:<10}: {measured.line(None)}")
    throughput = {
        role: ratios(series[role, "lookup"].rates, series[role, "trivial"].rates)
        for role in ("small", "big")
    }
    for role, per_round in throughput.items():
        print(f"lookup/trivial throughput, {role}: {median_of(per_round)}")
    big, small = series["big", "lookup"], series["small", "lookup"]
    p99, p50 = ratios(big.p99, small.p99), ratios(big.p50, small.p50)
    print(f"lookup latency, big/small: p99 {median_of(p99)}, p50 {median_of(p50)}")
    ratio, growth = statistics.median(throughput["big"]), statistics.median(p99)
    print(
        f"VERDICT lookups {verdict(ratio >= TARGET_RATIO)} the target: lookup/trivial "
        f"throughput {ratio:.2f} on the big directory (target >= {TARGET_RATIO:.2f})"
    )
    print(
        f"VERDICT size {verdict(growth <= TARGET_P99_GROWTH)} the target: lookup p99 big/small "
        f"{growth:.2f} (target <= {TARGET_P99_GROWTH:.1f})"
    )


# --- In this process (--profile) -----------------------------------------------------------------

PROFILE_BLOCK = 200  # requests of one kind in a row; the kinds alternate block by block


def profile(directory: Directory, count: int) -> None:
    """CPU per request of ``GET /v1/me`` and of lookups on ``directory``, in this process.

    Through Django's whole stack with the test client instead of gunicorn (no socket, no HTTP
    parsing), one request at a time, in alternating blocks of PROFILE_BLOCK of each kind; the
    medians over blocks, and their ratio, which is what the throughput ratio would be if the
    server's CPU were all there is. Each request opens as under gunicorn (``request_started``
    closes old connections and asks for Django's health check on the next query), which the
    test client would skip.
    """
    os.environ["RS_KEY_DIR"] = str(directory.key_dir)
    os.environ["CELERY_BROKER_URL"] = ""  # as the served ones: lookups enqueue nothing
    join_django(directory.url)
    from django.db import close_old_connections
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {directory.api_key}")
    rng = random.Random(SEED)

    def block(kind: str) -> float:
        if kind == "trivial":
            paths = ["/v1/me"] * PROFILE_BLOCK
        else:
            paths = lookup_paths(directory, PROFILE_BLOCK, rng)
        started = time.process_time()
        for path in paths:
            close_old_connections()
            response = client.get(path)
            assert response.status_code == 200, (path, response.content[:300])
        return (time.process_time() - started) / PROFILE_BLOCK * 1000

    kinds = ("trivial", "lookup")
    for kind in kinds * 2:  # warm up: code, keys, prepared statement, upper tiles
        block(kind)
    spent: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(max(1, count // PROFILE_BLOCK)):
        for kind in kinds:
            spent[kind].append(block(kind))
    trivial, lookup = (statistics.median(spent[kind]) for kind in kinds)
    print(
        f"in process, {len(spent['lookup'])} blocks of {PROFILE_BLOCK} requests of each kind "
        f"({directory.numbers:,} numbers): CPU ms/request, median over blocks: GET /v1/me "
        f"{trivial:.3f}, lookup {lookup:.3f} (lookup's own {lookup - trivial:.3f}); "
        f"ratio /v1/me over lookup {trivial / lookup:.3f}"
    )


# --- The command ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000, help="numbers in the big one")
    parser.add_argument("--small", type=int, default=10_000, help="numbers in the small one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=2 * (os.cpu_count() or 2),
        help="gunicorn workers per directory (default: 2 per core)",
    )
    parser.add_argument("--load-only", action="store_true", help="load the big one; no lookups")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="no server: CPU per request of N of each kind in this process (with --reuse)",
    )
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the big one for --reuse")
    reuse.add_argument("--reuse", metavar="NAME", help="a big one kept by an earlier --keep")
    args = parser.parse_args()
    if min(args.numbers, args.small, args.rounds, args.requests, args.concurrency) < 1:
        parser.error("sizes and counts must be at least 1")

    os.environ.setdefault("RS_KEY_PASSPHRASE", KEY_PASSPHRASE)
    os.environ["RS_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_DEBUG"] = "false"
    # The throttles run at rates no run reaches, so that their cost is measured but never
    # their refusals; the distinct-numbers brake too (every lookup asks for a new number).
    for scope in ("API_KEY", "CLIENT_IP", "LOOKUP", "LOOKUP_DISTINCT"):
        os.environ[f"RS_THROTTLE_{scope}"] = NO_THROTTLE

    pid = os.getpid()
    if args.profile is not None and not args.reuse:
        parser.error("--profile measures a kept directory: give --reuse NAME")
    if args.reuse:
        if args.load_only:
            parser.error("--load-only loads: it does not reuse")
        big = Directory("big", args.reuse, kept=True)
        if not big.key_dir.is_dir():
            raise SystemExit(f"no keys for {args.reuse} at {big.key_dir}: load it again")
    elif args.keep:
        big = Directory("big", f"{DATABASE_PREFIX}{KEPT}_{pid}")  # kept once loaded
    else:
        big = Directory("big", f"{DATABASE_PREFIX}{pid}")
    small = Directory("small", f"{DATABASE_PREFIX}{pid}_small")
    directories = [big] if args.load_only or args.profile is not None else [small, big]
    numbers = {"small": args.small, "big": 0 if args.reuse else args.numbers}
    where = "embedded PostgreSQL"
    if os.environ.get("DATABASE_URL"):
        where = f"PostgreSQL at {urlsplit(os.environ['DATABASE_URL']).hostname}"
    databases_drop(stale=True)
    scratch = Path(tempfile.mkdtemp(prefix="rs-bench-directory-"))
    try:
        directories_prepare(directories, numbers)
        big.kept = bool(args.keep or args.reuse)
        if args.load_only:
            return
        if args.profile is not None:
            profile(big, args.profile)
            return
        print(
            f"\nlookups over HTTP: gunicorn {args.server_workers} sync workers per directory, "
            f"{args.concurrency} client threads, {args.rounds} rounds of {args.requests:,} "
            f"requests per measurement; small {small.numbers:,} numbers, big "
            f"{big.numbers:,} numbers ({big.name}); {where}; {psutil.cpu_count()} cores",
            flush=True,
        )
        with ExitStack() as stack:
            services = [
                stack.enter_context(
                    service_running(directory, workers=args.server_workers, scratch=scratch)
                )
                for directory in directories
            ]
            series = measure(args, services)
        report(args, series)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        databases_drop(stale=False, names=[d.name for d in directories if not d.kept])
        if big.kept:
            print(f"kept {big.name} (keys in {big.key_dir}): --reuse {big.name}")


if __name__ == "__main__":
    main()
