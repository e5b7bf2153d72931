"""Directory reads: API keys, and number lookups with their proofs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from ca.models import Certificate, ExternalCertificate
from directory.models import Handler
from providers.models import Provider
from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.tiles import TILE_HEIGHT, TILE_WIDTH
from transparency.labels import NumberLabel, number_label_compute
from transparency.models import Entry, Label, Tile
from transparency.selectors import inclusion_proofs, signed_head

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
    log_index: int
    entry: bytes
    opening: bytes
    inclusion_proof: list[bytes] | None  # None: not yet in the checkpoint (pending)


@dataclass(frozen=True)
class LookupAnswer:
    number: str
    label: NumberLabel
    checkpoint: str | None
    handlers: list[HandlerAnswer]


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
    SELECT handler.service, handler.uri, handler.priority, handler.expires_at, handler.opening,
           handler.log_index, provider.slug AS provider,
           COALESCE(certificate.serial, external.serial) AS certificate,
           entry.data AS entry, handler.tile_proof, tile.data AS tile
    FROM {Handler._meta.db_table} AS handler
    JOIN {Provider._meta.db_table} AS provider ON provider.id = handler.provider_id
    LEFT JOIN {Certificate._meta.db_table} AS certificate
        ON certificate.id = handler.certificate_id
    LEFT JOIN {ExternalCertificate._meta.db_table} AS external
        ON external.id = handler.external_certificate_id
    JOIN {Entry._meta.db_table} AS entry ON entry."index" = handler.log_index
    LEFT JOIN {Tile._meta.db_table} AS tile
        ON handler.tile_proof IS NULL
        AND tile.level = 0 AND tile.index = handler.log_index / {TILE_WIDTH}
        AND tile.width = {TILE_WIDTH}
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
    tiles, and the partial level-0 tile of the newest entries.
    """
    with connection.cursor() as cursor:
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
    proofs: dict[int, list[bytes]] = {}
    if head is not None:
        tiles = {(0, row[5] // TILE_WIDTH, TILE_WIDTH): bytes(row[10]) for row in found if row[10]}
        nodes = {
            (level, (row[5] >> level) ^ 1): bytes(
                row[9][level * HASH_SIZE : (level + 1) * HASH_SIZE]
            )
            for row in found
            if row[9] is not None
            for level in range(TILE_HEIGHT)
        }
        indices = [row[5] for row in found if row[5] < head.size]
        proofs = inclusion_proofs(indices=indices, head=head, tiles=tiles, nodes=nodes)
    handlers = []
    for kind, uri, priority, expires_at, opening, index, provider, serial, entry, *_ in found:
        handlers.append(
            HandlerAnswer(
                provider=provider,
                service=kind,
                uri=uri,
                priority=priority,
                expires_at=expires_at,
                certificate=serial,
                log_index=index,
                entry=bytes(entry),
                opening=bytes(opening),
                inclusion_proof=proofs.get(index),
            )
        )
    return LookupAnswer(
        number=number,
        label=label,
        checkpoint=head.note if head else None,
        handlers=handlers,
    )
