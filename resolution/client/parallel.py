"""Running downloads in parallel while handing their results over in order.

The auditor and the monitor read a log's entry bundles from several threads but must hash
them in log order; ``ordered_map`` keeps at most ``window`` of them in flight, so that memory
stays bounded however long the log is.

Public API: ``ordered_map``, ``DEFAULT_WORKERS``.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

DEFAULT_WORKERS: Final = 8
"""Parallel downloads of a log's tiles, over one keep-alive HTTP client."""

_T = TypeVar("_T")
_R = TypeVar("_R")


def ordered_map(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T], window: int
) -> Iterator[_R]:
    """``pool.map(fn, items)`` with at most ``window`` calls in flight; what is still queued
    is cancelled when the caller stops iterating (or a call raises)."""
    pending: collections.deque[Future[_R]] = collections.deque()
    it = iter(items)
    try:
        for item in itertools.islice(it, window):
            pending.append(pool.submit(fn, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(it, 1):
                pending.append(pool.submit(fn, item))
            yield result
    finally:
        for future in pending:
            future.cancel()
