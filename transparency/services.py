"""Writes to the log: appending entries and integrating them into tiles and checkpoints.

:func:`log_append` runs inside the caller's transaction, so a change and the entry that
records it commit or roll back together. Appenders share nothing: an entry is inserted with an
id and its transaction's id, and the caller gets a signed promise of inclusion instead of an
index. The sequencer, the first step of each integration, gives gapless indices to the
committed entries that have none (``_SEQUENCE`` says why it never passes one over).

:func:`log_append_committed` appends a version-2 entry (a label and a commitment) and keeps its
opening and content (``EntryOpening``) in the same transaction.

:func:`log_integrate` hashes new entries into tiles and signs a checkpoint. It runs as a Celery
beat task every second (production) or in-process after each commit (embedded default).

:func:`witnesses_submit` sends the newest checkpoint to each witness of ``RS_WITNESSES``
(C2SP tlog-witness v1) and keeps the cosignatures that verify. Each new checkpoint asks for one
(:func:`witnesses_kick`): a task on the ``witness`` queue, or without a broker a thread of this
process; never inside the integration, so a witness that is down or slow delays only the
cosigned checkpoint, never an append or a signature.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from celery import current_app
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core import locks
from core.fetch import FetchError, PostAnswer, operator_options, url_post
from resolution.protocol import merkle
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import Checkpoint as SignedTreeHead
from resolution.protocol.checkpoint import sign_checkpoint
from resolution.protocol.cosignature import (
    Cosignature as CosignatureLine,
)
from resolution.protocol.cosignature import (
    CosignatureError,
    add_cosignatures,
    open_cosigned_checkpoint,
)
from resolution.protocol.entries import (
    ENTRY_VERSION,
    OPENING_SIZE,
    EntryKind,
    PrivateEntry,
    commitment,
    content_check,
    entry_encode,
)
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.tiles import (
    TILE_WIDTH,
    TileKey,
    append_to_tiles,
    node_reader_from_tiles,
    tile_width,
)
from resolution.protocol.witness import (
    MAX_REQUEST_SIZE,
    AddCheckpoint,
    WitnessFormatError,
    format_add_checkpoint,
    parse_cosignature_lines,
    parse_tree_size,
)
from transparency import selectors
from transparency.entries import AppendedEntry, CommittedEntry
from transparency.keys import log_keys
from transparency.models import Checkpoint, Cosignature, Entry, EntryOpening, Tile, Witness
from transparency.promises import promise_of
from transparency.selectors import consistency_proof_to, hash_tiles
from transparency.witnesses import WitnessEndpoint, witness_config

logger = structlog.get_logger(__name__)


def log_append(
    *, kind: str, payload: Mapping[str, Any], version: int = ENTRY_VERSION
) -> AppendedEntry:
    """Append an entry in the caller's transaction; it commits or rolls back with the caller.

    The entry is ``resolution.protocol.entries.entry_encode(kind=kind, payload=payload,
    version=version)``, which raises its ``EntryError`` for an entry the log refuses. Nothing
    is shared with other writers: the row gets an id and the transaction's id, and the
    sequencer gives it its index once the transaction has committed (``_sequence``).
    The answer carries the log's promise to have it in a checkpoint within
    ``RS_LOG_MERGE_DELAY_SECONDS`` of the entry's time.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("log_append must run inside the transaction of the change it records")
    data = entry_encode(kind=kind, payload=payload, version=version)
    leaf = merkle.leaf_hash(data)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO transparency_entry (kind, data, leaf_hash) VALUES (%s, %s, %s) "
            "RETURNING id, created_at",
            [kind, data, leaf],
        )
        entry_id, created_at = cursor.fetchone()
    if not settings.CELERY_BROKER_URL and not any(
        hook[1] is _integrate_after_commit for hook in connection.run_on_commit
    ):
        # Embedded default: integrate in this process once this transaction has committed.
        transaction.on_commit(_integrate_after_commit, robust=True)
    return AppendedEntry(entry_id=entry_id, leaf_hash=leaf, promise=promise_of(leaf, created_at))


def log_append_committed(
    *, kind: EntryKind, label: bytes, content: Mapping[str, Any], reason: str | None = None
) -> CommittedEntry:
    """Append the version-2 entry of ``kind`` for a number's ``label`` (64 bytes), committing
    to ``content`` under a fresh opening, and keep the opening and content (``EntryOpening``),
    all in the caller's transaction (as ``log_append``, which it calls).

    ``content`` must be ``CONTENT_FIELDS[kind]`` of the right shapes (``content_check``), and
    ``reason`` given for the kinds that show one (``REASON_KINDS``); ``EntryError`` otherwise.
    """
    content_check(kind, content)
    opening = secrets.token_bytes(OPENING_SIZE)
    committed_to = canonical_json(dict(content))
    entry = PrivateEntry(
        kind=kind,
        label=label.hex(),
        commitment=commitment(opening, content).hex(),
        reason=reason,
    )
    appended = log_append(kind=kind.value, payload=entry.payload(), version=entry.version)
    EntryOpening.objects.create(
        entry_id=appended.entry_id, label=label, opening=opening, content=committed_to
    )
    return CommittedEntry(
        entry_id=appended.entry_id,
        leaf_hash=appended.leaf_hash,
        promise=appended.promise,
        opening=opening,
        content=committed_to,
    )


def _integrate_after_commit() -> None:
    log_integrate()


class IntegrationError(RuntimeError):
    """The stored tiles disagree with the last checkpoint: refuse to sign anything."""


def _store_tiles(changed: Mapping[tuple[int, int], bytes]) -> None:
    """Keep the tiles that changed, but partial level-0 ones: those are the entries' leaves."""
    rows = []
    for (level, index), data in changed.items():
        width = len(data) // merkle.HASH_SIZE
        if level > 0 or width == TILE_WIDTH:
            rows.append(Tile(level=level, index=index, width=width, data=data))
    Tile.objects.bulk_create(rows)


# The sequencing rule: every entry the statement sees without an index gets the next one, in
# (xid, id) order, continuing from the highest given. What it sees are the entries of committed
# transactions (and of its own): a rolled-back entry is never visible, so it never gets an index.
# The queue is "every row without an index", not a watermark over ids: an entry whose
# transaction commits late is simply not visible yet, stays in the queue, and is sequenced by
# the first run after its commit, after those sequenced meanwhile. Nothing else ever sets an
# index (the table's trigger refuses any other update), and one sequencer runs at a time (the
# integration lock, taken before this statement's snapshot): so every committed entry gets
# exactly one index, and the indices are gapless and unique. No run waits for transactions
# still open, so the merge delay does not depend on them (docs/transparency-log.md, "The
# sequencing rule", says why the snapshot's xmin is not used).
_SEQUENCE = """
WITH ready AS (
    SELECT id, row_number() OVER (ORDER BY xid, id) AS n
    FROM transparency_entry
    WHERE "index" IS NULL
    ORDER BY xid, id
    LIMIT %s
), next AS (
    SELECT COALESCE(MAX("index") + 1, 0) AS start FROM transparency_entry
)
UPDATE transparency_entry AS entry SET "index" = next.start + ready.n - 1
FROM ready, next WHERE entry.id = ready.id
"""


def _sequence(limit: int) -> int:
    """Give the next indices to up to ``limit`` committed entries that have none yet; how
    many. Only under the integration lock (:func:`_integrate_batch`)."""
    with connection.cursor() as cursor:
        cursor.execute(_SEQUENCE, [limit])
        return int(cursor.rowcount)


def _integrate_batch(batch: int) -> tuple[Checkpoint, int] | None:
    """One integration transaction: the new checkpoint and how many entries it added.

    None when there is nothing new, or when another integrator holds the lock.
    """
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [locks.LOG_INTEGRATE])
            if not cursor.fetchone()[0]:
                return None
        last = Checkpoint.objects.order_by("-size").first()
        old_size = last.size if last else 0
        _sequence(batch)
        leaves = [
            bytes(leaf)
            for leaf in Entry.objects.filter(index__gte=old_size, index__lt=old_size + batch)
            .order_by("index")
            .values_list("leaf_hash", flat=True)
        ]
        if not leaves:
            return None
        new_size = old_size + len(leaves)  # the index range is gapless: _sequence

        def read_old_tile(level: int, index: int) -> bytes:
            key = (level, index, tile_width(level, index, old_size))
            return hash_tiles([key])[key]

        changed = append_to_tiles(old_size, leaves, read_old_tile)

        def fetch(keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
            fresh = {k: changed[k[:2]] for k in keys if k[:2] in changed}
            return fresh | hash_tiles([k for k in keys if k not in fresh])

        nodes = node_reader_from_tiles(fetch, new_size)
        compact_range = nodes(merkle.perfect_subtrees(0, new_size))
        root = merkle.tree_root(new_size, lambda ids: compact_range)
        if last is not None and old_size > 0:
            # The new tree must extend the one we last signed (RFC 9162 §2.1.4).
            proof = merkle.consistency_proof(old_size, new_size, nodes)
            try:
                merkle.verify_consistency(old_size, new_size, bytes(last.root_hash), root, proof)
            except merkle.ProofError as error:
                raise IntegrationError(f"tiles inconsistent with checkpoint {old_size}") from error
        origin = last.note.split("\n", 1)[0] if last is not None else settings.RS_LOG_ORIGIN
        if origin != settings.RS_LOG_ORIGIN:
            # Verifiers pin the log's name: a checkpoint under another would fork it for them.
            raise IntegrationError(
                f"the log is named {origin!r} by its checkpoints, and this process would sign "
                f"as {settings.RS_LOG_ORIGIN!r}: give it the service's RS_PUBLIC_URL (or "
                f"RS_LOG_ORIGIN={origin})"
            )
        _store_tiles(changed)
        head = SignedTreeHead(origin=settings.RS_LOG_ORIGIN, size=new_size, root_hash=root)
        note = sign_checkpoint(head, log_keys().signer).decode()
        checkpoint = Checkpoint.objects.create(
            size=new_size, root_hash=root, note=note, compact_range=b"".join(compact_range)
        )
        transaction.on_commit(selectors.cache_clear)  # this process sees its checkpoint at once
        return checkpoint, len(leaves)


def log_integrate(*, batch: int | None = None) -> Checkpoint | None:
    """Integrate every entry not yet in a checkpoint; return the newest checkpoint made.

    Several integrators may run at once (beat, after-commit hooks): one works, the others
    return at once. Large backlogs are integrated ``batch`` entries per checkpoint.
    """
    batch = batch or settings.RS_LOG_INTEGRATE_BATCH
    started = time.perf_counter()
    newest = None
    while (made := _integrate_batch(batch)) is not None:
        newest, integrated = made
        if integrated < batch:  # caught up
            break
    if newest is not None:
        logger.debug(
            "log integrated",
            size=newest.size,
            seconds=round(time.perf_counter() - started, 4),
        )
        witnesses_kick()
    return newest


# --- Witnesses (C2SP tlog-witness v1) ---------------------------------------------------------

# The task that runs witnesses_submit (transparency.tasks), queued by name: services import no
# tasks.
WITNESS_TASK = "transparency.tasks.witnesses_submit"
# Exchanges with one witness per submission: a 409 names the size to send from, and the
# resend may meet one more 409 if another submitter moved the witness on meanwhile.
SUBMIT_EXCHANGES = 3
WITNESS_ERROR_LENGTH = 300
# After a kick found the broker down, the seconds this process leaves it alone (beat's
# submissions go on meanwhile, once the broker is back).
KICK_PAUSE_SECONDS = 10.0


@dataclass
class _Kicks:
    paused_until: float = 0.0  # time.monotonic()
    again: threading.Event = field(default_factory=threading.Event)
    running: threading.Lock = field(default_factory=threading.Lock)


_kicks = _Kicks()


def witnesses_kick() -> None:
    """Have the newest checkpoint submitted to the witnesses soon, without waiting for them.

    With a broker, a ``witnesses_submit`` task on the ``witness`` queue (if the broker is down,
    beat's next submission does it); without one, a thread of this process, one at a time (a
    kick while it runs makes it go round once more). Nothing when no witness is configured.
    """
    if not witness_config().witnesses:
        return
    if not settings.CELERY_BROKER_URL:
        _kicks.again.set()
        _background_start()
        return
    if time.monotonic() < _kicks.paused_until:
        return
    try:
        current_app.tasks[WITNESS_TASK].apply_async(
            retry=False, expires=settings.RS_WITNESS_SUBMIT_SECONDS
        )
    except Exception as error:  # the broker is down: beat's next run submits
        if isinstance(error, BrokerError):
            _kicks.paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        logger.warning(
            "witness submission not queued now; beat's next one submits",
            error=f"{type(error).__name__}: {error}"[:WITNESS_ERROR_LENGTH],
        )


def _background_start() -> None:
    if _kicks.running.acquire(blocking=False):
        threading.Thread(target=_background_run, name="witness-submit", daemon=True).start()


def _background_run() -> None:
    try:
        while _kicks.again.is_set():
            _kicks.again.clear()
            try:
                witnesses_submit()
            except Exception:
                logger.exception("witness submission failed")
    finally:
        connections.close_all()  # this thread's own
        _kicks.running.release()
    if _kicks.again.is_set():  # kicked between the last round and the release
        _background_start()


@dataclass(frozen=True)
class _Outcome:
    """What one exchange with a witness came to."""

    cosignature: CosignatureLine | None = None
    held: int | None = None  # the size the witness now holds, when it said
    resend_from: int | None = None  # a 409's size, to send from again
    error: str = ""


def witnesses_submit() -> int:
    """Submit the latest checkpoint to each configured witness that has not cosigned it; keep
    the cosignatures that verify with the witness's key; record each witness's state. Return
    how many witnesses cosigned it here.

    Each witness is sent ``old <size it holds>`` and the consistency proof from that size
    (C2SP tlog-witness, "add-checkpoint"); a 409 names the size it holds, and the checkpoint
    is sent again from there. The witnesses are asked at once, each in a thread; a witness
    another submitter is talking to (its advisory lock is taken) is left to it.
    """
    config = witness_config()
    if not config.witnesses:
        return 0
    rows = {
        e.name: Witness.objects.get_or_create(verifier_key=e.verifier.vkey)[0]
        for e in config.witnesses
    }
    with _witnesses_locked(rows) as mine:
        # Read after the locks: no other submitter moves these witnesses on now.
        checkpoint = Checkpoint.objects.order_by("-size").first()
        if checkpoint is None or not mine:
            return 0
        for row in mine.values():
            row.refresh_from_db()
        due = [e for e in config.witnesses if e.name in mine]
        due = [e for e in due if mine[e.name].cosigned_size != checkpoint.size]
        return _submit(checkpoint, due, mine) if due else 0


@contextmanager
def _witnesses_locked(rows: Mapping[str, Witness]) -> Iterator[dict[str, Witness]]:
    """The witnesses of ``rows`` whose session advisory lock this connection took; released
    when the block ends (or with the connection, if the process dies)."""
    taken: dict[str, Witness] = {}
    try:
        with connection.cursor() as cursor:
            for name, row in rows.items():
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [locks.WITNESS, row.pk])
                if cursor.fetchone()[0]:
                    taken[name] = row
        yield taken
    finally:
        with connection.cursor() as cursor:
            for row in taken.values():
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [locks.WITNESS, row.pk])


def _submit(
    checkpoint: Checkpoint, due: Sequence[WitnessEndpoint], rows: Mapping[str, Witness]
) -> int:
    """Exchange with the ``due`` witnesses at once; record each one's outcome as it comes."""
    note = checkpoint.note.encode()
    bodies: dict[int, bytes] = {}

    def body(old: int) -> bytes:
        if old not in bodies:
            proof = consistency_proof_to(old=old, checkpoint=checkpoint) if old else []
            bodies[old] = format_add_checkpoint(AddCheckpoint(old, tuple(proof), note))
        return bodies[old]

    cosigned = 0
    with ThreadPoolExecutor(max_workers=len(due), thread_name_prefix="witness-post") as pool:
        running: dict[Future[PostAnswer], tuple[WitnessEndpoint, int, int]] = {}

        def send(endpoint: WitnessEndpoint, old: int, exchange: int) -> None:
            row = rows[endpoint.name]
            if old > checkpoint.size:
                _witness_record(row, checkpoint, _Outcome(error=_beyond(old, checkpoint.size)))
                return
            try:
                request = body(old)
            except (merkle.ProofError, selectors.LogRangeError) as error:
                # The stored tree cannot prove this checkpoint from there: never expected.
                failed = _Outcome(error=f"no consistency proof from {old}: {error}")
                _witness_record(row, checkpoint, failed)
                return
            running[pool.submit(_add_checkpoint_post, endpoint, request)] = (
                endpoint,
                old,
                exchange,
            )

        for endpoint in due:
            send(endpoint, rows[endpoint.name].held_size or 0, 1)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                endpoint, old, exchange = running.pop(future)
                outcome = _outcome(future, endpoint, checkpoint, old)
                again = outcome.resend_from
                if again is not None and exchange < SUBMIT_EXCHANGES:
                    rows[endpoint.name].held_size = again
                    send(endpoint, again, exchange + 1)
                    continue
                if again is not None:
                    outcome = _Outcome(held=again, error=f"409 again: the witness holds {again}")
                _witness_record(rows[endpoint.name], checkpoint, outcome)
                cosigned += outcome.cosignature is not None
    return cosigned


def _add_checkpoint_post(endpoint: WitnessEndpoint, body: bytes) -> PostAnswer:
    """POST ``<prefix>/add-checkpoint``, SSRF-checked (core.fetch): a witness's address must be
    public, or in RS_WITNESS_PERMITTED_NETWORKS or RS_FETCH_PERMITTED_NETWORKS."""
    options = operator_options()
    return url_post(
        endpoint.add_checkpoint_url,
        content=body,
        content_type="text/plain; charset=utf-8",
        max_bytes=MAX_REQUEST_SIZE,
        timeout=settings.RS_WITNESS_TIMEOUT_SECONDS,
        permitted_networks=[
            *settings.RS_WITNESS_PERMITTED_NETWORKS,
            *options["permitted_networks"],
        ],
        ca_file=options["ca_file"],
        plain_http=True,
    )


def _beyond(held: int, latest: int) -> str:
    return (
        f"the witness holds a tree of size {held}, beyond the log's latest checkpoint {latest}: "
        "it has cosigned a tree this log never signed (a fork under the log's key?)"
    )


def _outcome(
    future: Future[PostAnswer], endpoint: WitnessEndpoint, checkpoint: Checkpoint, old: int
) -> _Outcome:
    """Read a witness's answer to ``checkpoint`` sent from ``old``: a verified cosignature, a
    size to send from again, or an error."""
    try:
        answer = future.result()
    except FetchError as error:
        return _Outcome(error=f"not reached: {error}")
    if answer.status == 409:
        try:
            held = parse_tree_size(answer.body)
        except WitnessFormatError as error:
            return _Outcome(error=f"409 with a malformed size: {error}")
        if held > checkpoint.size:
            return _Outcome(held=held, error=_beyond(held, checkpoint.size))
        if held == old:
            # It holds the size we sent from, with another root hash.
            return _Outcome(
                held=held,
                error=f"the witness holds another tree of size {held} than this log's "
                "(a fork under the log's key?)",
            )
        return _Outcome(resend_from=held)
    if answer.status != 200:
        return _Outcome(error=f"HTTP {answer.status}: {_first_line(answer.body)}")
    try:
        lines = parse_cosignature_lines(answer.body)
        cosigned = open_cosigned_checkpoint(
            add_cosignatures(checkpoint.note.encode(), lines),
            parse_verifier_key(log_keys().note_verifier_key),
            settings.RS_LOG_ORIGIN,
            [endpoint.verifier],
        )
    except (WitnessFormatError, CosignatureError) as error:
        return _Outcome(error=f"answer refused, no cosignature kept: {error}")
    cosignature = cosigned.cosigned_by(endpoint.verifier)
    if cosignature is None:
        return _Outcome(error="answer refused: no cosignature by the witness's key in it")
    return _Outcome(cosignature=cosignature, held=checkpoint.size)


def _first_line(body: bytes) -> str:
    text = body.decode("ascii", "replace").split("\n", 1)[0]
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:WITNESS_ERROR_LENGTH] or "(empty)"


def _witness_record(row: Witness, checkpoint: Checkpoint, outcome: _Outcome) -> None:
    """Keep a verified cosignature, and what the exchange says of the witness."""
    now = timezone.now()
    row.attempted_at = now
    if outcome.held is not None:
        row.held_size = outcome.held
    fields = ["attempted_at", "held_size", "error", "failed_at"]
    with transaction.atomic():
        if outcome.cosignature is not None:
            Cosignature.objects.bulk_create(
                [
                    Cosignature(
                        size=checkpoint.size,
                        witness=row,
                        timestamp=outcome.cosignature.timestamp,
                        line=outcome.cosignature.line,
                    )
                ],
                ignore_conflicts=True,
            )
            row.cosigned_size, row.cosigned_at, row.error = checkpoint.size, now, ""
            fields += ["cosigned_size", "cosigned_at"]
            transaction.on_commit(selectors.cache_clear)  # this process serves it at once
        else:
            row.error, row.failed_at = outcome.error[:WITNESS_ERROR_LENGTH], now
            logger.warning(
                "witness did not cosign",
                witness=row.verifier_key.split("+", 1)[0],
                size=checkpoint.size,
                error=row.error,
            )
        row.save(update_fields=fields)
