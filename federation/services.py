"""Writes of federation: signing this service's range advertisement (DESIGN §7.4).

:func:`advertisement_renew` signs the advertisement ``{block: RS_PUBLIC_URL}`` for every block
of ``RS_SERVED_RANGES`` with the advertisement key (``federation.keys``), its ``x5c`` the range
certificate alone (the root is the verifier's own trust anchor, never sent), keeps it and
appends its ``advertisement`` entry to the log, in one transaction. Beat calls it hourly; it
signs only when the newest is ``RS_ADVERTISEMENT_RESIGN_SECONDS`` old, or no longer says what
the settings say (ranges, URL, certificate).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import locks
from core.ranges import served_blocks
from federation import selectors
from federation.keys import advertisement_keys
from federation.models import Advertisement
from resolution.protocol.advertisements import advertisement_sign
from resolution.protocol.entries import AdvertisementEntry
from transparency.services import log_append

logger = structlog.get_logger(__name__)


def _current(advertisement: Advertisement | None, *, ranges: str, serial: str) -> bool:
    if advertisement is None:
        return False
    age = timezone.now() - advertisement.issued_at
    return (
        advertisement.ranges == ranges
        and advertisement.url == settings.RS_PUBLIC_URL
        and advertisement.certificate_serial == serial
        and age < timedelta(seconds=settings.RS_ADVERTISEMENT_RESIGN_SECONDS)
    )


@transaction.atomic(durable=True)
def advertisement_renew(*, force: bool = False) -> Advertisement | None:
    """This service's newest advertisement, signed and logged anew when it is due (or
    ``force``); None when it serves every number."""
    keys = advertisement_keys()
    if keys is None:
        return None
    blocks = served_blocks()
    ranges = " ".join(block.key() for block in blocks)
    serial = f"{keys.certificate.serial_number:x}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [locks.ADVERTISEMENT])
    latest = selectors.advertisement_latest()
    if not force and _current(latest, ranges=ranges, serial=serial):
        return latest
    issued_at = timezone.now().replace(microsecond=0)
    url = settings.RS_PUBLIC_URL
    token = advertisement_sign(
        dict.fromkeys((block.key() for block in blocks), url),
        keys.key,
        [keys.certificate],
        issued_at=issued_at,
        # A development service on http://127.0.0.1 advertises that URL; peers accept https
        # only (docs/federation.md).
        https_only=urlsplit(url).scheme == "https",
    )
    digest = hashlib.sha256(token.encode("ascii")).digest()
    entry = AdvertisementEntry(
        advertisement_sha256=digest.hex(),
        issued_at=issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ranges=ranges,
        url=url,
    )
    appended = log_append(kind=entry.kind.value, payload=entry.payload(), version=entry.version)
    advertisement = Advertisement.objects.create(
        token=token,
        token_sha256=digest,
        issued_at=issued_at,
        ranges=ranges,
        url=url,
        certificate_serial=serial,
        entry_id=appended.index,
    )
    logger.info("advertisement_signed", blocks=len(blocks), log_index=appended.index, url=url)
    return advertisement


def advertisement_bootstrap() -> str:
    """Sign this service's first advertisement, or a new one if it is due (bootstrap step)."""
    advertisement = advertisement_renew()
    if advertisement is None:
        return "No advertisement: this service serves every number"
    return (
        f"Advertisement of {advertisement.issued_at:%Y-%m-%dT%H:%M:%SZ} for "
        f"{len(advertisement.ranges.split())} blocks (log entry {advertisement.entry_id})"
    )
