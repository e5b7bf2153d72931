"""Directory reads: API keys, and number lookups with their proofs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from ca.models import Certificate, ExternalCertificate
from core.ranges import serves
from core.read_replica import read_connection
from directory.models import Handler
from federation.selectors import Serving, referrals
from providers.models import Provider
from resolution.protocol.merkle import HASH_SIZE, NodeId
from resolution.protocol.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey
from transparency.labels import NumberLabel, number_label_compute
from transparency.models import Entry, Label, Tile
from transparency.selectors import SignedHead, inclusion_proofs, signed_head

# --- Lookups ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlerAnswer:
    """A handler as a lookup shows it, with what a caller needs to check it against the log."""

    provider: str
    service: str
    uri: str
    priority: int
    expires_at: datetime
    certificate: str
    log_index: int | None  # None until sequenced
    entry: bytes
    opening: bytes
    inclusion_proof: list[bytes] | None  # None: not yet in the checkpoint (pending)


@dataclass(frozen=True)
class LookupAnswer:
    number: str
    label: NumberLabel
    checkpoint: str | None
    handlers: list[HandlerAnswer]
    # Whether this service serves the number (RS_SERVED_RANGES), and the other services that
    # claim it, each with its advertisement (DESIGN §7.4): the referral when it does not serve
    # it, both sides of a conflict when it does.
    served: bool = True
    referrals: tuple[Serving, ...] = ()


# One statement for the whole answer: the number's kept label (if any) and the handlers the
# caller may see, each with its provider, certificate, log entry, and the lower part of its
# inclusion proof: the eight in-tile hashes once kept (Handler.tile_proof), else the full
# level-0 tile around the entry. Every lookup runs it, so it is written out rather than
# composed by the ORM.
_LOOKUP = f"""
SELECT label.label, label.proof,
       found.service, found.uri, found.priority, found.expires_at, found.opening,
       found.log_index, found.provider, found.certificate, found.entry, found.tile_proof,
       found.tile
FROM (SELECT %(number)s::varchar AS number) AS asked
LEFT JOIN {Label._meta.db_table} AS label ON label.number = asked.number
LEFT JOIN (
    SELECT handler.service, handler.uri, handler.priority,
           -- Whole seconds, as answers show it: Django's loader of timestamptz runs in Python
           -- and cost more than all the other columns together.
           floor(extract(epoch FROM handler.expires_at))::bigint AS expires_at, handler.opening,
           entry."index" AS log_index, provider.slug AS provider,
           COALESCE(certificate.serial, external.serial) AS certificate,
           entry.data AS entry, handler.tile_proof,
           -- A subquery, not a join: it runs only for a handler whose hashes are not kept.
           CASE WHEN handler.tile_proof IS NULL THEN (
               SELECT tile.data FROM {Tile._meta.db_table} AS tile
               WHERE tile.level = 0 AND tile.index = entry."index" / {TILE_WIDTH}
                 AND tile.width = {TILE_WIDTH}
           ) END AS tile
    FROM {Handler._meta.db_table} AS handler
    JOIN {Provider._meta.db_table} AS provider ON provider.id = handler.provider_id
    LEFT JOIN {Certificate._meta.db_table} AS certificate
        ON certificate.id = handler.certificate_id
    LEFT JOIN {ExternalCertificate._meta.db_table} AS external
        ON external.id = handler.external_certificate_id
    JOIN {Entry._meta.db_table} AS entry ON entry.id = handler.log_entry_id
    WHERE handler.number = %(number)s
      AND provider.is_active
      AND (%(service)s::varchar IS NULL OR handler.service = %(service)s)
      AND handler.expires_at > %(now)s
      AND certificate.revoked_at IS NULL AND external.revoked_at IS NULL
      AND (handler.visible_to IS NULL
           OR %(caller)s = ANY(handler.visible_to)
           OR handler.provider_id = %(caller_id)s)
) AS found ON true
ORDER BY found.service, found.priority, found.provider
"""  # noqa: S608 (table names from the models)


def number_lookup(*, caller: Provider, number: str, service: str | None) -> LookupAnswer:
    """The handlers of ``number`` the caller may see, each provable against the checkpoint.

    A handler hidden from the caller is left out exactly as if it did not exist. Expired
    handlers (their certificate's notAfter) and those of revoked certificates never appear, nor
    those of an inactive provider (until it is reactivated: nothing is removed).
    One query whatever the number of handlers, and now and then the checkpoint, the upper
    tiles, and the partial level-0 tile of the newest entries. Inside a read path that opted
    in, the rows come from the replica and the checkpoint from the primary (core.read_replica).
    """
    with read_connection().cursor() as cursor:
        cursor.execute(
            _LOOKUP,
            {
                "number": number,
                "service": service,
                "now": timezone.now(),
                "caller": caller.slug,
                "caller_id": caller.pk,
            },
        )
        rows = cursor.fetchall()
    kept_label, kept_proof = rows[0][0], rows[0][1]
    label = (
        NumberLabel(label=bytes(kept_label), proof=bytes(kept_proof))
        if kept_label is not None
        else number_label_compute(number)
    )
    found = [row[2:] for row in rows if row[2] is not None]  # no handler: one row of NULLs
    head = signed_head()
    proofs = _handler_proofs(found, head) if head is not None else {}
    handlers = []
    for kind, uri, priority, expires_at, opening, index, provider, serial, entry, *_ in found:
        handlers.append(
            HandlerAnswer(
                provider=provider,
                service=kind,
                uri=uri,
                priority=priority,
                expires_at=datetime.fromtimestamp(expires_at, UTC),
                certificate=serial,
                log_index=index,
                entry=bytes(entry),
                opening=bytes(opening),
                inclusion_proof=None if index is None else proofs.get(index),
            )
        )
    return LookupAnswer(
        number=number,
        label=label,
        checkpoint=head.note if head else None,
        handlers=handlers,
        served=serves(number),
        referrals=tuple(referrals(number)),
    )


def _handler_proofs(found: list[tuple[Any, ...]], head: SignedHead) -> dict[int, list[bytes]]:
    """The inclusion proofs, in ``head``'s tree, of the entries of the handlers ``found``.

    Above its level-0 tile, the proof of an entry in a tile complete in this tree is the proof
    of the tile's own subtree, the same for every entry of the tile; below, it is the eight
    in-tile hashes the handler keeps (``Handler.tile_proof``). So that upper part is planned
    and assembled once per tile, and each handler's kept hashes are put in front of it. The
    others (hashes not yet kept, or a tile still partial in this tree) are proven from the
    level-0 tile the query read with them.
    """
    full_tiles = head.size // TILE_WIDTH
    kept: dict[int, list[bytes]] = {}  # entry index: its in-tile hashes, level 0 first
    first_of_tile: dict[int, int] = {}  # tile: the entry whose whole proof is assembled
    tiles: dict[TileKey, bytes] = {}
    nodes: dict[NodeId, bytes] = {}
    asked: list[int] = []
    for row in found:
        index, tile_proof, tile = row[5], row[9], row[10]
        if index is None or index >= head.size:
            continue  # pending: not sequenced, or not in the checkpoint yet
        tile_index = index // TILE_WIDTH
        if tile_proof is not None:
            data = bytes(tile_proof)
            hashes = [data[i : i + HASH_SIZE] for i in range(0, TILE_HEIGHT * HASH_SIZE, HASH_SIZE)]
            if tile_index < full_tiles:
                kept[index] = hashes
                if tile_index in first_of_tile:
                    continue
                first_of_tile[tile_index] = index
            nodes.update({(level, (index >> level) ^ 1): h for level, h in enumerate(hashes)})
        elif tile is not None:
            tiles[(0, tile_index, TILE_WIDTH)] = bytes(tile)
        asked.append(index)
    proofs = inclusion_proofs(indices=asked, head=head, tiles=tiles, nodes=nodes)
    for index, hashes in kept.items():
        if index not in proofs:
            proofs[index] = hashes + proofs[first_of_tile[index // TILE_WIDTH]][TILE_HEIGHT:]
    return proofs


def handlers_of(*, provider: Provider, number: str) -> QuerySet[Handler]:
    """The provider's own handlers of ``number`` (E.164), whatever their visibility."""
    return Handler.objects.filter(provider=provider, number=number).select_related(
        "provider", "certificate", "external_certificate"
    )
