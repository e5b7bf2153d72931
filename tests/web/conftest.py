"""The explorer keeps its charts in the cache for a minute: each test starts without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def charts_forgotten() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
