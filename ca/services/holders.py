"""What the number lock's changes share with issuance (DESIGN §7.2): the number's own advisory
lock, its locked holders, and setting a lock."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection

from ca.models import Certificate
from core import locks
from core.dates import rfc3339
from resolution.protocol.entries import EntryKind
from transparency.services import log_append_committed


def number_hold(number: str) -> None:
    """Hold the number's lock until the caller's transaction ends (``core.locks.NUMBER``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [locks.NUMBER, number])


def locked_holders(number: str, *, now: datetime) -> list[Certificate]:
    """The valid certificates for ``number`` whose lock holds."""
    return list(
        Certificate.objects.filter(
            number=number,
            locked_at__isnull=False,
            revoked_at__isnull=True,
            not_before__lte=now,
            not_after__gt=now,
        ).select_related("provider")
    )


def public_key_sha256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-256 of the key's SubjectPublicKeyInfo (DER), as certificates record it."""
    return hashlib.sha256(public_key_der(public_key)).digest()


def public_key_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_lock_set(*, certificate: Certificate, now: datetime) -> None:
    """Lock the number with ``certificate`` (its row held by the caller, valid, unlocked): log
    it and mark it, in the caller's transaction."""
    entry = log_append_committed(
        kind=EntryKind.LOCK,
        label=bytes(certificate.label),
        content={
            "number": certificate.number,
            "provider": certificate.provider.slug,
            "serial": certificate.serial,
            "locked_at": rfc3339(now),
        },
    )
    certificate.locked_at = now
    certificate.lock_log_entry_id = entry.entry_id
    certificate.save(update_fields=["locked_at", "lock_log_entry"])
