"""Reads of federation (DESIGN §7.4): this service's advertisement, the claims of every known
service (its own served blocks and its peers' kept advertisements), their conflicts, and which
services serve a number (:func:`rs_serving`), and the referrals a lookup answers with
(:func:`referrals`: the same claims, indexed and kept for a few seconds in each process, since
every lookup asks).
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Iterable
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


class ClaimIndex:
    """Claims indexed by the length of their numbers and their first number: the claims on a
    number are found by bisection, not by a scan, whatever the size of the map."""

    def __init__(self, found: Iterable[Claim]) -> None:
        ordered = sorted(found, key=lambda claim: (claim.block.length, claim.block.start))
        self._by_length: dict[int, tuple[list[int], list[int], list[Claim]]] = {}
        for length, group in itertools.groupby(ordered, key=lambda claim: claim.block.length):
            claims_of_length = list(group)
            starts = [claim.block.start for claim in claims_of_length]
            # The largest last number of the claims up to each one: overlapping claims (a
            # conflict) are found by walking left until no earlier claim reaches the number.
            reach = list(itertools.accumulate((c.block.end for c in claims_of_length), max))
            self._by_length[length] = (starts, reach, claims_of_length)

    def __len__(self) -> int:
        return sum(len(claims) for _, _, claims in self._by_length.values())

    def claiming(self, number: str) -> list[Claim]:
        """The claims whose block holds ``number`` (E.164), by their blocks' first numbers."""
        digits = number.removeprefix("+")
        indexed = self._by_length.get(len(digits))
        if indexed is None or not digits.isascii() or not digits.isdigit():
            return []
        starts, reach, claims_of_length = indexed
        value = int(digits)
        found = []
        position = bisect.bisect_right(starts, value) - 1
        while position >= 0 and reach[position] >= value:
            if claims_of_length[position].block.end >= value:
                found.append(claims_of_length[position])
            position -= 1
        return found[::-1]


# The peers' claims, indexed, as each process last read them: (settings they depend on, when
# to read them again, the index). A lookup reads the peers' advertisements at most once per
# RS_CLAIMS_CACHE_SECONDS; this process forgets them at once when it changes them.
_peer_claims: tuple[tuple[object, ...], float, ClaimIndex] | None = None
_peer_claims_lock = threading.Lock()


def claims_forget() -> None:
    """Forget the peers' claims this process indexed (after a change to a peer or to its
    advertisement; and between tests)."""
    global _peer_claims  # one index per process, replaced whole
    _peer_claims = None


def _peer_claims_index() -> ClaimIndex:
    global _peer_claims  # one index per process, replaced whole
    depends = (
        settings.RS_PUBLIC_URL,
        tuple(settings.RS_SERVED_RANGES),
        settings.RS_ADVERTISEMENT_MAX_AGE_SECONDS,
    )
    kept = _peer_claims
    now = time.monotonic()
    if kept is not None and kept[0] == depends and now < kept[1]:
        return kept[2]
    with _peer_claims_lock:
        index = ClaimIndex(claim for claim in claims() if claim.peer is not None)
        _peer_claims = (depends, now + settings.RS_CLAIMS_CACHE_SECONDS, index)
    return index


def referrals(number: str) -> list[Serving]:
    """The other services that claim ``number`` (E.164), each with the advertisement that
    proves it: what a lookup answers beside its own handlers (a referral). Read from this
    process's index of the peers' claims (:func:`claims_forget`)."""
    found: list[Serving] = []
    for claim in _peer_claims_index().claiming(number):
        serving = Serving(claim.url, claim.token)
        if claim.url != settings.RS_PUBLIC_URL and serving not in found:
            found.append(serving)
    return found


def rs_serving(number: str) -> list[Serving]:
    """The services that claim ``number`` (E.164), each with the advertisement that proves
    it: one normally, several in a conflict, none when no known service does. This service
    comes first when it serves the number (all of them without ``RS_SERVED_RANGES``)."""
    found: list[Serving] = []
    if serves(number):
        own = advertisement_latest()
        found.append(Serving(settings.RS_PUBLIC_URL, own.token if own else ""))
    for claim in ClaimIndex(claims()).claiming(number):
        serving = Serving(claim.url, claim.token)
        if serving not in found:
            found.append(serving)
    return found


def rs_serving_elsewhere(number: str) -> list[str]:
    """The base URLs of the other services that claim ``number`` (a 421's ``served_by``)."""
    return [serving.url for serving in rs_serving(number) if serving.url != settings.RS_PUBLIC_URL]
