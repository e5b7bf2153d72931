"""CRL renewal is single-flight: processes that find the CRL past half its life at once (beat,
a starting process, several workers) sign one new CRL between them, not one each."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connections
from django.utils import timezone

from ca.models import Crl
from ca.services.crls import crl_refresh
from tests.api_client import ApiClient

pytestmark = pytest.mark.django_db(transaction=True)  # each refresh commits on its connection

REFRESHES = 6


def _at_once(work: Any) -> list[Any]:
    """Run ``work`` in REFRESHES threads, each with its own connection, released together."""
    ready = threading.Barrier(REFRESHES)

    def run() -> Any:
        try:
            ready.wait()
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(REFRESHES) as pool:
        return list(pool.map(lambda _: run(), range(REFRESHES)))


def test_refreshes_past_half_life_at_once_sign_one_new_crl() -> None:
    first = crl_refresh()
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    for renewal in (1, 2):
        later = timezone.now() + renewal * (half_life + timedelta(minutes=1))
        with time_machine.travel(later, tick=False):
            numbers = _at_once(lambda: crl_refresh().number)
        # Every refresh answers with the one CRL signed for this renewal.
        assert set(numbers) == {first.number + renewal}
    assert sorted(Crl.objects.values_list("number", flat=True)) == [1, 2, 3]


def test_a_refresh_and_reads_at_once_sign_one_crl(anonymous_client: Any) -> None:
    crl_refresh()
    # Once before the threads: the first response builds the schema it is checked against.
    assert anonymous_client.get("/ca/crl").status_code == 200
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    later = timezone.now() + half_life + timedelta(minutes=1)

    def refresh_or_read() -> int:
        if threading.current_thread().name.endswith("_0"):
            return crl_refresh().number
        return ApiClient().get("/ca/crl").status_code  # a client of its own

    with time_machine.travel(later, tick=False):
        answers = _at_once(refresh_or_read)
    # GET /ca/crl serves the newest stored CRL and never signs one: only beat's refresh does.
    assert Crl.objects.count() == 2
    assert sorted(answers) == [2] + [200] * (REFRESHES - 1)
