"""The numbers this resolution service serves (``RS_SERVED_RANGES``, DESIGN §7.4).

Several resolution services share the numbering plan, each serving its own ranges. This one
serves the blocks ``RS_SERVED_RANGES`` names, in the advertisements' spelling
(``1-<start>-<count>`` for a range of numbers of ``start``'s length, ``2-<number>`` for one
number: ``resolution.protocol.advertisements``); unset, it serves every number, as a lone
service does. A challenge or an invitation for a number outside them is refused before any SMS
is sent: another service holds that number's certificates and handlers, and the refusal names
it when it is known (:func:`served_elsewhere`: the peers' advertisements, which
``federation`` keeps and registers here from its ``ready()``, as core may not import it).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from resolution.protocol.advertisements import AdvertisementError, Block, block_parse, overlaps


@functools.cache
def _blocks(names: tuple[str, ...]) -> tuple[Block, ...]:
    blocks = []
    for name in names:
        try:
            blocks.append(block_parse(name.strip()))
        except AdvertisementError as error:
            raise ImproperlyConfigured(f"RS_SERVED_RANGES: {error}") from None
    ordered = sorted(blocks)
    for a, b in itertools.pairwise(ordered):
        if overlaps(a, b):
            raise ImproperlyConfigured(f"RS_SERVED_RANGES: {a.key()} and {b.key()} overlap")
    return tuple(ordered)


def served_blocks() -> tuple[Block, ...]:
    """The blocks this service serves; empty when it serves every number."""
    return _blocks(tuple(settings.RS_SERVED_RANGES))


def serves(number: str) -> bool:
    """Whether ``number`` (E.164) is one this service serves."""
    blocks = served_blocks()
    return not blocks or any(block.contains(number) for block in blocks)


_served_elsewhere: Callable[[str], list[str]] | None = None


def served_elsewhere_register(resolver: Callable[[str], list[str]]) -> None:
    """Register what :func:`served_elsewhere` asks: the base URLs of the other services that
    claim a number (federation.selectors.rs_serving_elsewhere)."""
    global _served_elsewhere  # one resolver per process, set as it starts
    _served_elsewhere = resolver


def served_elsewhere(number: str) -> list[str]:
    """The base URLs of the other services known to serve ``number`` (E.164); empty when none
    is known."""
    return _served_elsewhere(number) if _served_elsewhere is not None else []
