"""A stalled Redis costs a cache call or a health probe its configured timeout, not forever.

The machine's Redis behind a TCP proxy (tests.tcp_proxy) that the test pauses: connections stay
open and are acknowledged, and nothing answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache

from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CACHE_URL", "").startswith("rediscache://"),
        reason="needs a Redis CACHE_URL (run by .ci/run)",
    ),
]
MARGIN = 1.0


@pytest.fixture
def stalled_redis() -> Iterator[str]:
    """The address (host:port) of the cache's Redis through a paused proxy."""
    location = urlsplit(settings.CACHES["default"]["LOCATION"])
    with TcpProxy(location.hostname or "127.0.0.1", location.port or 6379) as proxy:
        proxy.pause()
        yield f"127.0.0.1:{proxy.port}"


def test_a_cache_call_fails_at_the_socket_timeout(stalled_redis: str) -> None:
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["socket_timeout"] == settings.RS_CACHE_SOCKET_TIMEOUT_SECONDS == 1.0
    cache = RedisCache(f"redis://{stalled_redis}/0", {"OPTIONS": options})
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        cache.get("anything")
    assert time.monotonic() - started < options["socket_timeout"] + MARGIN


@pytest.mark.django_db
def test_healthz_reports_a_stalled_broker_within_the_probe_timeout(
    client, settings, stalled_redis: str
) -> None:
    settings.CELERY_BROKER_URL = f"redis://{stalled_redis}/0"
    settings.RS_HEALTH_PROBE_TIMEOUT_SECONDS = 1.0
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 200  # degraded: the instance still serves
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["status"] == "down"
    assert body["database"]["status"] == "ok"
    # A connect and one answer at most, each within the probe's timeout.
    assert time.monotonic() - started < 2 * 1.0 + MARGIN
