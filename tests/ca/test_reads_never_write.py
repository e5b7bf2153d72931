"""Reads never write: ``GET /ca/crl`` serves the stored CRL, ``POST /v1/passports/verify``
writes only its replay record; CRLs are renewed by beat and at startup, not by readers."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography import x509
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ca.models import Crl, PassportSeen
from ca.passports import x5u_cache_clear
from ca.services.crls import crl_refresh
from ca.services.passports import passport_seen_record
from config.celery_app import app as celery_app
from core.scheduler import InProcessBeat
from resolution.protocol.passport import passport_parse, passport_sign
from tests.ca.flow import NUMBER, Holder, certificate_issued
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@contextmanager
def statements_written() -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements run inside the block."""
    written: list[str] = []
    with CaptureQueriesContext(connection) as queries:
        yield written
    written += [query["sql"] for query in queries.captured_queries if WRITE.match(query["sql"])]


def ca_rows() -> dict[str, int]:
    """How many rows each of the CA's tables holds."""
    return {
        model.__name__: model._default_manager.count()
        for model in apps.get_app_config("ca").get_models()
        if not model._meta.proxy
    }


@pytest.fixture(autouse=True)
def chains_forgotten() -> Iterator[None]:
    x5u_cache_clear()
    yield
    x5u_cache_clear()


@pytest.fixture
def holder(provider: Any, crl: Any) -> Holder:
    return certificate_issued(provider, NUMBER)


def sign(holder: Holder) -> str:
    return passport_sign(
        holder.key,
        x5u=holder.issued["x5u"],
        orig=NUMBER[1:],
        dest=["33698765432"],
        iat=int(time.time()),
    )


# --- GET /ca/crl ---------------------------------------------------------------------------------


def test_the_crl_is_served_as_stored_even_past_half_its_life(
    anonymous_client: Any, crl: Crl
) -> None:
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    rows = ca_rows()
    with (
        time_machine.travel(timezone.now() + half_life + timedelta(minutes=1)),
        statements_written() as written,
    ):
        response = anonymous_client.get("/ca/crl")

    assert response.status_code == 200
    assert response.content == bytes(crl.der)  # the stored one: renewal is beat's work
    assert written == [] and ca_rows() == rows
    assert response["Cache-Control"].startswith("public, max-age=")


def test_before_the_first_crl_the_answer_is_503_and_nothing_is_signed(
    anonymous_client: Any,
) -> None:
    with statements_written() as written:
        response = anonymous_client.get("/ca/crl")

    body = assert_problem(response, 503, "crl-unavailable")
    assert int(response["Retry-After"]) == body["retry_after"] > 0
    assert written == [] and not Crl.objects.exists()


@pytest.mark.django_db(transaction=True)  # beat closes the connections it finds too old
def test_bootstrap_signs_the_first_crl_and_beat_renews_it_before_its_next_update(
    anonymous_client: Any,
) -> None:
    call_command("bootstrap", stdout=io.StringIO())
    first = x509.load_der_x509_crl(anonymous_client.get("/ca/crl").content)
    assert first.next_update_utc is not None

    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "ca.tasks.crl_refresh"
    )
    period = timedelta(seconds=entry["schedule"])
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    assert period < half_life  # renewed at least once before the served CRL is at its end

    beat = InProcessBeat(celery_app)
    beat.tick()  # first sight of each entry: nothing is due yet
    assert Crl.objects.count() == 1
    with time_machine.travel(timezone.now() + half_life + period):
        beat.tick()
        renewed = x509.load_der_x509_crl(anonymous_client.get("/ca/crl").content)
    assert Crl.objects.count() == 2
    assert renewed.next_update_utc is not None and renewed.next_update_utc > first.next_update_utc


def test_a_refresh_while_the_crl_is_fresh_signs_nothing(crl: Crl) -> None:
    assert crl_refresh().number == crl.number
    assert Crl.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_refreshes_at_once_sign_one_crl() -> None:
    # Beat and a starting process may refresh together: the CRL lock makes them sign one.
    refreshes = 4
    ready = threading.Barrier(refreshes)

    def refresh() -> int:
        try:
            ready.wait()
            return crl_refresh().number
        finally:
            connections.close_all()

    with ThreadPoolExecutor(refreshes) as pool:
        numbers = set(pool.map(lambda _: refresh(), range(refreshes)))

    assert numbers == {1} and Crl.objects.count() == 1


# --- POST /v1/passports/verify -------------------------------------------------------------------


def test_a_valid_passport_writes_its_replay_record_and_nothing_else(
    api_client: Any, holder: Holder, crl: Crl
) -> None:
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    rows = ca_rows()
    with time_machine.travel(timezone.now() + half_life + timedelta(minutes=1), tick=False):
        api_client.get("/v1/me")  # the key's use is noted (once a minute) before we count
        token = sign(holder)
        with statements_written() as written:
            response = api_client.post("/v1/passports/verify", {"passport": token}, format="json")

    assert response.status_code == 200 and response.json()["verdict"] == "valid"
    passport_seen = PassportSeen._meta.db_table
    assert [statement.split()[2].strip('"') for statement in written] == [passport_seen]
    assert ca_rows() == rows | {"PassportSeen": rows["PassportSeen"] + 1}  # no CRL signed


def test_an_invalid_passport_writes_nothing(api_client: Any, holder: Holder) -> None:
    api_client.get("/v1/me")
    rows = ca_rows()
    with statements_written() as written:
        response = api_client.post(
            "/v1/passports/verify", {"passport": sign(holder)[:-8] + "AAAAAAAA"}, format="json"
        )

    assert response.status_code == 200 and response.json()["verdict"] == "invalid"
    assert written == [] and ca_rows() == rows


def test_without_a_crl_a_passport_is_refused_and_none_is_signed(
    api_client: Any, provider: Any
) -> None:
    holder = certificate_issued(provider, NUMBER)
    response = api_client.post("/v1/passports/verify", {"passport": sign(holder)}, format="json")
    assert response.json()["reasons"] == ["crl-missing"]
    assert not Crl.objects.exists() and not PassportSeen.objects.exists()


def test_a_replayed_passport_is_refused(api_client: Any, holder: Holder) -> None:
    token = sign(holder)
    first = api_client.post("/v1/passports/verify", {"passport": token}, format="json").json()
    again = api_client.post("/v1/passports/verify", {"passport": token}, format="json").json()
    assert (first["verdict"], again["reasons"]) == ("valid", ["replayed"])
    assert PassportSeen.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_checks_of_one_passport_exactly_one_records_it(
    provider: Any, crl: Crl
) -> None:
    passport = passport_parse(sign(certificate_issued(provider, NUMBER)))
    checks = 6
    ready = threading.Barrier(checks)

    def record() -> bool:
        try:
            ready.wait()
            return passport_seen_record(provider=provider, passport=passport)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(checks) as pool:
        recorded = list(pool.map(lambda _: record(), range(checks)))

    assert sorted(recorded) == [False] * (checks - 1) + [True]
    assert PassportSeen.objects.count() == 1


# --- Tasks ---------------------------------------------------------------------------------------


def test_task_names_are_unchanged_and_registered() -> None:
    # A commit queues the outbox's dispatch by name; beat and the workers know every task by it.
    names = {
        "outbox.tasks.outbox_dispatch",
        "ca.tasks.crl_refresh",
        "ca.tasks.external_crls_refresh",
        "ca.tasks.passports_seen_prune",
    }
    assert names <= set(celery_app.tasks)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names <= scheduled
