"""Writes of federation: signing this service's range advertisement (DESIGN §7.4).

:func:`advertisement_renew` signs the advertisement ``{block: RS_PUBLIC_URL}`` for every block
of ``RS_SERVED_RANGES`` with the advertisement key (``federation.keys``), its ``x5c`` the range
certificate alone (the root is the verifier's own trust anchor, never sent), keeps it and
appends its ``advertisement`` entry to the log, in one transaction. Beat calls it hourly; it
signs only when the newest is ``RS_ADVERTISEMENT_RESIGN_SECONDS`` old, or no longer says what
the settings say (ranges, URL, certificate).

:func:`peers_fetch` (beat) fetches each active peer's advertisement through the SSRF-safe
fetch (``core.fetch``), verifies it against the root configured for that peer (chain,
signature, TNAuthList coverage, freshness: ``advertisement_verify``), checks that it gives only
the peer's own URL and claims only blocks the peer may claim, and keeps it when it is newer than
the one kept. Whatever goes wrong is recorded on the peer (``last_error``, logged once per
change), never raised: a peer that is down keeps its last advertisement until that is stale.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from cryptography import x509
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca.authority import ca_keys
from core import locks
from core.fetch import FetchError, url_fetch_configured
from core.ranges import served_blocks
from federation import selectors
from federation.keys import advertisement_keys
from federation.models import Advertisement, Peer, PeerAdvertisement
from federation.peers import base_url_check, block_within, ranges_parse, root_parse
from resolution.protocol.advertisements import MAX_SIZE as ADVERTISEMENT_MAX_SIZE
from resolution.protocol.advertisements import Advertisement as AdvertisementVerified
from resolution.protocol.advertisements import (
    AdvertisementError,
    advertisement_sign,
    advertisement_verify,
)
from resolution.protocol.entries import AdvertisementEntry
from resolution.protocol.servicemap import map_sign
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
        entry_id=appended.entry_id,
    )
    logger.info("advertisement_signed", blocks=len(blocks), log_entry=appended.entry_id, url=url)
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


# --- Peers ------------------------------------------------------------------------------------

# As long as an advertisement may be (resolution.protocol.advertisements.MAX_SIZE).
ADVERTISEMENT_MAX_BYTES = ADVERTISEMENT_MAX_SIZE
ADVERTISEMENT_PATH = "/.well-known/rs-advertisement"
ADVERTISEMENT_MEDIA_TYPE = "application/jose"


class PeerAdvertisementError(Exception):
    """A peer's advertisement that is not kept: ``str()`` says why, for the operator."""


def _peer_advertisement_checked(peer: Peer, token: str) -> AdvertisementVerified:
    """The peer's advertisement verified against its root, naming its own URL only and
    blocks within its allowed ones; PeerAdvertisementError otherwise."""
    try:
        root = root_parse(peer.root_pem)
        allowed = ranges_parse(peer.allowed_ranges)
        own_url = base_url_check(peer.url)
    except ValueError as error:  # the admin validates them; a row edited otherwise
        raise PeerAdvertisementError(f"the peer's configuration: {error}") from None
    try:
        verified = advertisement_verify(
            token,
            [root],
            at=timezone.now(),
            max_age=timedelta(seconds=settings.RS_ADVERTISEMENT_MAX_AGE_SECONDS),
        )
    except AdvertisementError as error:
        raise PeerAdvertisementError(f"refused ({error.reason}): {error}") from None
    for block, url in sorted(verified.entries.items()):
        if url != own_url:
            raise PeerAdvertisementError(
                f"refused (url): {block.key()} is given to {url}, not {own_url}"
            )
        if not block_within(block, allowed):
            raise PeerAdvertisementError(
                f"refused (not allowed): {block.key()} is outside the blocks this peer may claim"
            )
    return verified


def _peer_failed(peer: Peer, error: str) -> None:
    """Record a failed fetch on the peer; log it when it is not the one recorded before."""
    with transaction.atomic():
        locked = Peer.objects.select_for_update().get(pk=peer.pk)
        changed = locked.last_error != error
        locked.last_error = error
        locked.last_fetch_at = timezone.now()
        locked.save(update_fields=["last_error", "last_fetch_at"])
    if changed:
        logger.warning("peer_advertisement_refused", peer=peer.name, error=error)


def peer_fetch(*, peer_id: int) -> PeerAdvertisement | None:
    """Fetch a peer's advertisement, check it, and keep it when it is newer than the one kept;
    the one kept now (None if none). A refusal or a failed fetch is recorded on the peer
    (``last_error``), never raised: the peer's previous advertisement stays until it is stale."""
    peer = Peer.objects.filter(pk=peer_id).first()
    if peer is None:  # removed by an operator since the beat listed it
        return None
    try:
        document = url_fetch_configured(
            peer.url.rstrip("/") + ADVERTISEMENT_PATH,
            allowed_hosts=[urlsplit(peer.url).netloc],
            max_bytes=ADVERTISEMENT_MAX_BYTES,
            timeout=settings.RS_PEER_FETCH_TIMEOUT_SECONDS,
            accept=ADVERTISEMENT_MEDIA_TYPE,
        )
        try:
            token = document.body.decode("ascii").strip()
        except UnicodeDecodeError:
            raise PeerAdvertisementError("refused (format): not a compact JWS") from None
        return _peer_advertisement_keep(peer, _peer_advertisement_checked(peer, token))
    except FetchError as error:
        _peer_failed(peer, f"fetch failed ({error.reason}): {error.detail}")
    except PeerAdvertisementError as error:
        _peer_failed(peer, str(error))
    return PeerAdvertisement.objects.filter(peer=peer).first()


@transaction.atomic
def _peer_advertisement_keep(peer: Peer, verified: AdvertisementVerified) -> PeerAdvertisement:
    """Keep ``verified`` unless the one kept is newer (PeerAdvertisementError); the peer's
    error is cleared."""
    locked = Peer.objects.select_for_update().get(pk=peer.pk)
    now = timezone.now()
    kept = PeerAdvertisement.objects.filter(peer=locked).first()
    if kept is not None and verified.issued_at < kept.issued_at:
        raise PeerAdvertisementError(
            f"refused (older): signed at {verified.issued_at:%Y-%m-%dT%H:%M:%SZ}, before the one "
            f"kept ({kept.issued_at:%Y-%m-%dT%H:%M:%SZ})"
        )
    # Signed in the same second as the one kept but another: the peer signed anew (a new
    # certificate, other blocks); the newer signature wins as a later second would.
    replaced = kept is not None and verified.token != kept.token
    if kept is None or verified.issued_at > kept.issued_at or replaced:
        kept, _ = PeerAdvertisement.objects.update_or_create(
            peer=locked,
            defaults={
                "token": verified.token,
                "issued_at": verified.issued_at,
                "ranges": " ".join(block.key() for block in sorted(verified.entries)),
                "fetched_at": now,
            },
        )
        logger.info("peer_advertisement_accepted", peer=peer.name, blocks=len(verified.entries))
    else:  # the same one again
        kept.fetched_at = now
        kept.save(update_fields=["fetched_at"])
    if locked.last_error:
        logger.info("peer_advertisement_recovered", peer=peer.name)
    locked.last_error, locked.last_fetch_at = "", now
    locked.save(update_fields=["last_error", "last_fetch_at"])
    return kept


def peers_fetch() -> int:
    """Fetch every active peer's advertisement (beat); how many peers were asked."""
    ids = list(Peer.objects.filter(active=True).values_list("pk", flat=True))
    for peer_id in ids:
        peer_fetch(peer_id=peer_id)
    return len(ids)


# --- The map ----------------------------------------------------------------------------------


def service_map_sign() -> str | None:
    """The map (``resolution.protocol.servicemap``): this service's newest advertisement and
    each active peer's kept one still fresh, each with its trusted root and the blocks of it
    accepted now, signed with the advertisement key; None when this service serves every
    number or has signed no advertisement yet (it has no map to vouch for)."""
    keys = advertisement_keys()
    own = selectors.advertisement_latest()
    if keys is None or own is None:
        return None
    # Each service with the blocks of its advertisement accepted: None for all of them.
    services: list[tuple[str, x509.Certificate, str, list[str] | None]] = [
        (settings.RS_PUBLIC_URL, ca_keys().root, own.token, None)
    ]
    by_url: dict[str, list[str]] = {}
    for claim in selectors.claims():
        if claim.peer is not None:
            by_url.setdefault(claim.url, []).append(claim.block.key())
    kept = PeerAdvertisement.objects.filter(peer__url__in=list(by_url), peer__active=True)
    now = timezone.now()
    max_age = timedelta(seconds=settings.RS_ADVERTISEMENT_MAX_AGE_SECONDS)
    for advertisement in kept.select_related("peer").order_by("peer__url"):
        peer = advertisement.peer
        root = root_parse(peer.root_pem)
        try:
            # Kept under the root configured when it was fetched: an operator who changed the
            # root since has not vouched for it (the next fetch replaces it).
            advertisement_verify(advertisement.token, [root], at=now, max_age=max_age)
        except AdvertisementError as error:
            logger.warning("map_peer_left_out", peer=peer.name, reason=error.reason)
            continue
        accepted = by_url[peer.url]
        whole = sorted(accepted) == sorted(advertisement.ranges.split())
        services.append((peer.url, root, advertisement.token, None if whole else accepted))
    return map_sign(
        services,
        keys.key,
        [keys.certificate],
        url=settings.RS_PUBLIC_URL,
        issued_at=timezone.now().replace(microsecond=0),
    )
