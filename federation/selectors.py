"""Reads of federation (DESIGN §7.4): this service's advertisement, the claims of every known
service (its own served blocks and its peers' kept advertisements), their conflicts, and which
services serve a number (:func:`rs_serving`, which referrals build on)."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

from core.ranges import served_blocks, serves
from federation.models import Advertisement, PeerAdvertisement
from federation.peers import block_within, ranges_parse
from resolution.protocol.advertisements import Block, block_parse


def advertisement_latest() -> Advertisement | None:
    """This service's newest advertisement, if it signed one."""
    return Advertisement.objects.order_by("-issued_at", "-id").first()


class Claim(NamedTuple):
    """A service's claim to serve a block: its base URL and the advertisement that proves it
    (the compact JWS; "" for this service's own when it has signed none yet)."""

    block: Block
    url: str
    token: str
    peer: str | None  # the peer's name; None for this service


class Conflict(NamedTuple):
    """Two claims to overlapping blocks by two different services."""

    first: Claim
    second: Claim


class Serving(NamedTuple):
    """A service that serves a number: its base URL and the advertisement that proves it."""

    url: str
    token: str


def claims() -> list[Claim]:
    """Every claim known: this service's served blocks, and those of every active peer's
    kept advertisement that is still fresh (``RS_ADVERTISEMENT_MAX_AGE_SECONDS``) and within
    the blocks the peer may claim now."""
    own = advertisement_latest()
    found = [
        Claim(block, settings.RS_PUBLIC_URL, own.token if own else "", None)
        for block in served_blocks()
    ]
    fresh = timezone.now() - timedelta(seconds=settings.RS_ADVERTISEMENT_MAX_AGE_SECONDS)
    kept = PeerAdvertisement.objects.filter(peer__active=True, issued_at__gte=fresh)
    for advertisement in kept.select_related("peer").order_by("peer__name"):
        peer = advertisement.peer
        try:
            allowed = ranges_parse(peer.allowed_ranges)
        except ValueError:  # the admin validates it; a row edited otherwise claims nothing
            continue
        blocks = (block_parse(key) for key in advertisement.ranges.split())
        # Allowed ranges narrowed since the fetch: what falls outside them no longer counts.
        found += [
            Claim(block, peer.url, advertisement.token, peer.name)
            for block in blocks
            if block_within(block, allowed)
        ]
    return found


def conflicts() -> list[Conflict]:
    """Every pair of overlapping claims by two services: shown to the operator, never
    resolved here (:func:`rs_serving` names both)."""
    ordered = sorted(claims(), key=lambda claim: (claim.block.length, claim.block.start))
    found = []
    for index, claim in enumerate(ordered):
        for other in ordered[index + 1 :]:
            if other.block.length != claim.block.length or other.block.start > claim.block.end:
                break
            if other.peer != claim.peer:
                found.append(Conflict(claim, other))
    return found


def rs_serving(number: str) -> list[Serving]:
    """The services that claim ``number`` (E.164), each with the advertisement that proves
    it: one normally, several in a conflict, none when no known service does. This service
    comes first when it serves the number (all of them without ``RS_SERVED_RANGES``)."""
    found: list[Serving] = []
    if serves(number):
        own = advertisement_latest()
        found.append(Serving(settings.RS_PUBLIC_URL, own.token if own else ""))
    for claim in claims():
        serving = Serving(claim.url, claim.token)
        if claim.block.contains(number) and serving not in found:
            found.append(serving)
    return found


def rs_serving_elsewhere(number: str) -> list[str]:
    """The base URLs of the other services that claim ``number`` (a 421's ``served_by``)."""
    return [serving.url for serving in rs_serving(number) if serving.url != settings.RS_PUBLIC_URL]
