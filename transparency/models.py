"""The log's tables. The first three are append-only in the database itself (migration 0002).

- ``Entry``: the leaves. ``data`` is the canonical JSON entry; ``leaf_hash`` its RFC 6962 hash.
  A writer inserts it with an ``id`` and no ``index``; the sequencer gives it its ``index``,
  once (migration 0007; the column ``xid``, the inserting transaction's id, is the database's
  alone). The level-0 hash tiles are these leaf hashes, so they are not stored twice.
- ``Tile``: hash tiles (C2SP tlog-tiles): full level-0 tiles, and every tile of level 1 and up.
  A tile that grows gets a new row per width; the widest row holds every narrower version as
  its prefix. Partial level-0 tiles are read from the entries' leaf hashes.
- ``Checkpoint``: each signed tree head, one per integration, with its compact range (the
  hashes of the perfect subtrees that make up the tree), from which every right-edge node
  of a proof at that size is read without touching a partial tile.
- ``Label``: a number's VRF label and proof, kept once computed.
- ``EntryOpening``: the opening and content of a version-2 entry's commitment, kept by the
  server only; not append-only (deleting one erases that content for good).
- ``Witness`` and ``Cosignature``: each configured witness's state as the log last saw it,
  and the cosignatures it returned, verified before they are kept (transparency.services).
"""

from __future__ import annotations

from typing import Any, Literal, overload

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Mod, Now
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual

from resolution.protocol.tiles import MAX_ENTRY_SIZE


class Entry(models.Model):
    id = models.BigAutoField(primary_key=True)
    index = models.BigIntegerField(
        null=True,
        editable=False,
        help_text="Its place in the log, given once by the sequencer",
    )
    kind = models.CharField(max_length=32)
    data = models.BinaryField(editable=False)
    leaf_hash = models.BinaryField(editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name_plural = "entries"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["leaf_hash"], name="transparency_entry_leaf"),
            models.Index(fields=["created_at"], name="transparency_entry_created"),
        ]
        constraints = [
            # Partial (migration 0007): giving a row its index is then no key change.
            models.UniqueConstraint(
                fields=["index"],
                condition=Q(index__isnull=False),
                name="transparency_entry_index_unique",
            ),
            models.CheckConstraint(condition=Q(index__gte=0), name="transparency_entry_index"),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("data"), 1)
                & LessThanOrEqual(Length("data"), MAX_ENTRY_SIZE),
                name="transparency_entry_size",
            ),
            models.CheckConstraint(
                condition=Exact(Length("leaf_hash"), 32), name="transparency_entry_leaf_32"
            ),
        ]

    def __str__(self) -> str:
        place = f"#{self.index}" if self.index is not None else f"entry {self.id} (unsequenced)"
        return f"{place} {self.kind}"


@overload
def log_entry_field(help_text: str) -> models.ForeignKey[Entry, Entry]: ...
@overload
def log_entry_field(
    help_text: str, *, optional: Literal[True]
) -> models.ForeignKey[Entry | None, Entry | None]: ...
def log_entry_field(help_text: str, *, optional: bool = False) -> Any:
    """A row's reference to the log entry that records it (or, ``optional``, that will when
    it happens: a revocation, a lock, a closing). Protected (an entry is never deleted), not
    indexed (nothing looks a row up by its entry, and an index would cost every write), with
    no reverse accessor on ``Entry``, and never edited by hand."""
    return models.ForeignKey(
        Entry,
        on_delete=models.PROTECT,
        null=optional,
        blank=optional,
        db_index=False,
        related_name="+",
        editable=False,
        help_text=help_text,
    )


class Tile(models.Model):
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    width = models.SmallIntegerField()
    data = models.BinaryField(editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["level", "index", "width"], name="transparency_tile_unique"
            ),
            models.CheckConstraint(
                condition=Q(level__gte=0, level__lte=63, index__gte=0, width__gte=1)
                & Q(width__lte=256)
                & (Q(level__gte=1) | Q(width=256)),
                name="transparency_tile_range",
            ),
            models.CheckConstraint(
                condition=Exact(Length("data"), models.F("width") * 32),
                name="transparency_tile_data_width",
            ),
        ]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index} width {self.width}"


class Checkpoint(models.Model):
    size = models.BigIntegerField(primary_key=True)
    root_hash = models.BinaryField(editable=False)
    note = models.TextField(editable=False, help_text="The signed checkpoint (C2SP signed note)")
    compact_range = models.BinaryField(
        editable=False, help_text="Hashes of merkle.perfect_subtrees(0, size), concatenated"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["-size"]
        get_latest_by = "size"
        constraints = [
            models.CheckConstraint(condition=Q(size__gte=0), name="transparency_checkpoint_size"),
            models.CheckConstraint(
                condition=Exact(Length("root_hash"), 32), name="transparency_checkpoint_root_32"
            ),
            models.CheckConstraint(
                condition=Exact(Mod(Length("compact_range"), 32), 0),
                name="transparency_checkpoint_compact_range",
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class Label(models.Model):
    """A number's VRF label and proof, kept once computed (transparency.labels).

    A proof takes about a millisecond of CPU; lookups read it here instead. Rows are written
    for numbers that got a certificate, never for numbers someone merely looked up.
    """

    number = models.CharField(max_length=16, primary_key=True, help_text="E.164")
    label = models.BinaryField(max_length=64, editable=False)
    proof = models.BinaryField(max_length=80, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("label"), 64), name="transparency_label_64"
            ),
            models.CheckConstraint(
                condition=Exact(Length("proof"), 80), name="transparency_label_proof_80"
            ),
        ]

    def __str__(self) -> str:
        return f"label of {self.number}"


class EntryOpening(models.Model):
    """What a version-2 entry commits to, kept by the server only (DESIGN §7.1).

    ``opening`` keys the entry's commitment, ``content`` is the canonical JSON it covers,
    ``label`` the entry's public label (bytes), so that a number's entries are found at once.
    Not append-only: deleting a row erases that content for good, and the log stays
    verifiable. Never shown in a public view nor in the admin.
    """

    entry = models.OneToOneField(Entry, primary_key=True, on_delete=models.PROTECT)
    label = models.BinaryField(max_length=64, editable=False, db_index=True)
    opening = models.BinaryField(max_length=32, editable=False)
    content = models.BinaryField(editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("label"), 64), name="transparency_entryopening_label_64"
            ),
            models.CheckConstraint(
                condition=Exact(Length("opening"), 32),
                name="transparency_entryopening_opening_32",
            ),
        ]

    def __str__(self) -> str:
        return f"opening of entry {self.entry_id}"


class Witness(models.Model):
    """What the log knows of a witness it submits to (``RS_WITNESSES``), by its verifier key.

    ``held_size`` is the size the witness last said it holds for this log (its cosignature, or
    a 409 answer): the ``old`` of the next submission. ``cosigned_size`` and ``cosigned_at``
    are those of its newest cosignature kept; ``error`` the last attempt's failure ("" after a
    success). Written only by the submitter that holds the witness's advisory lock.
    """

    verifier_key = models.CharField(max_length=512, unique=True, editable=False)
    held_size = models.BigIntegerField(null=True, blank=True)
    cosigned_size = models.BigIntegerField(null=True, blank=True)
    cosigned_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(held_size__gte=0) | Q(held_size__isnull=True),
                name="transparency_witness_held_size",
            ),
        ]

    def __str__(self) -> str:
        return f"witness {self.verifier_key.split('+', 1)[0]}"


class Cosignature(models.Model):
    """A witness's verified cosignature on a checkpoint (C2SP tlog-cosignature): the signature
    line as served, and its timestamp (POSIX seconds, as signed).

    ``size`` is the checkpoint's, without a foreign key: the append-only checkpoints refer to
    nothing and nothing refers to them, so their truncation guard stays theirs alone.
    """

    size = models.BigIntegerField(help_text="The cosigned checkpoint's size")
    witness = models.ForeignKey(Witness, on_delete=models.PROTECT, related_name="cosignatures")
    timestamp = models.BigIntegerField()
    line = models.TextField(editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["size", "witness"], name="transparency_cosignature_unique"
            ),
            models.CheckConstraint(
                condition=Q(timestamp__gte=0), name="transparency_cosignature_timestamp"
            ),
        ]

    def __str__(self) -> str:
        return f"cosignature of checkpoint {self.size} by {self.witness_id}"
