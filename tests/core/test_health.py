"""/healthz reports the database, the log (degraded when its sequencer is behind), the keys and,
when configured, the broker."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from ca.authority import ca_keys
from tests.problems import assert_problem
from transparency.keys import log_keys
from transparency.models import Entry
from transparency.services import log_append, log_integrate

pytestmark = pytest.mark.django_db


def test_healthy_without_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["keys"] == {"status": "ok"}
    assert "broker" not in body


def _logged(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        record.msg["event"] if isinstance(record.msg, dict) else record.getMessage()
        for record in caplog.records
        if record.name == name
    ]


def test_an_unreachable_broker_degrades_but_does_not_unready_and_is_logged_once(
    client, settings, caplog
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with caplog.at_level(logging.INFO):
        for _ in range(3):  # a load balancer's probes
            response = client.get("/healthz")
            assert response.status_code == 200  # writes still land; their SMS wait in the outbox
            body = response.json()
            assert body["status"] == "degraded"
            assert body["broker"]["status"] == "down"
            assert body["database"]["status"] == "ok"
    assert _logged(caplog, "core.outages") == ["broker unavailable"]
    assert _logged(caplog, "django.request") == []


@pytest.mark.django_db(transaction=True)  # the test's connection goes to a closed port
def test_a_database_down_with_the_broker_is_503_with_retry_after(client, settings, caplog):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    saved = dict(connection.settings_dict)
    connection.close()
    # Nothing listens there: every connection the probe opens is refused, however fast.
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                response = client.get("/healthz")
                body = assert_problem(response, 503, "service-unavailable")
                assert body["checks"]["database"]["status"] == "down"
                assert body["checks"]["broker"]["status"] == "down"
                assert response["Retry-After"] == str(settings.RS_OUTAGE_RETRY_AFTER_SECONDS)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert sorted(_logged(caplog, "core.outages")) == ["broker unavailable", "database unavailable"]
    assert _logged(caplog, "django.request") == []


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def keys_reopened() -> Iterator[None]:
    """Keys this process opened are forgotten before and after the test, so it opens them
    with its own settings and the next test with the right ones."""
    log_keys.cache_clear()
    ca_keys.cache_clear()
    yield
    log_keys.cache_clear()
    ca_keys.cache_clear()


def test_keys_that_do_not_open_are_503(client, settings, keys_reopened):
    settings.CELERY_BROKER_URL = ""
    settings.RS_KEY_PASSPHRASE = "not-the-passphrase"
    response = client.get("/healthz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"]["keys"] == {"status": "down", "error": "ImproperlyConfigured"}
    assert body["checks"]["database"]["status"] == "ok"
    assert "passphrase" not in response.content.decode().lower()


def test_missing_keys_are_503(client, settings, tmp_path, keys_reopened):
    settings.CELERY_BROKER_URL = ""
    settings.RS_KEY_DIR = tmp_path
    body = assert_problem(client.get("/healthz"), 503, "service-unavailable")
    assert body["checks"]["keys"]["status"] == "down"


def _transaction_holder(**params: Any) -> Iterator[psycopg.Connection[Any]]:
    """Another session with a transaction open, holding a transaction id (as a writer between
    its first write and its commit), until the test ends."""
    holder = psycopg.connect(**{**connection.get_connection_params(), **params})
    holder.execute("SELECT pg_current_xact_id()")
    yield holder
    holder.close()


@pytest.fixture
def transaction_holder() -> Iterator[psycopg.Connection[Any]]:
    yield from _transaction_holder()


@pytest.fixture
def other_databases_transaction_holder() -> Iterator[psycopg.Connection[Any]]:
    """The same in another database of the server: transaction ids are the cluster's."""
    yield from _transaction_holder(dbname="postgres")


def _append_committed() -> None:
    with transaction.atomic():
        log_append(kind="test", payload={"n": 1})


@pytest.mark.django_db(transaction=True)  # the entry must commit, the holder must not
@pytest.mark.parametrize("holder", ["transaction_holder", "other_databases_transaction_holder"])
def test_a_transaction_left_open_does_not_hold_the_sequencer_back(
    client, settings, holder, request
):
    settings.CELERY_BROKER_URL = ""  # integrated after the commit, in this process
    settings.RS_LOG_MERGE_DELAY_SECONDS = 1
    request.getfixturevalue(holder)
    _append_committed()
    assert list(Entry.objects.values_list("index", flat=True)) == [0]
    time.sleep(0.6)
    assert client.get("/healthz").json()["log"] == {"status": "ok"}


@pytest.mark.django_db(transaction=True)  # the entry must commit
def test_an_integrator_that_does_not_run_degrades_the_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"  # beat's job
    settings.RS_LOG_MERGE_DELAY_SECONDS = 1
    _append_committed()  # no integrator runs
    assert client.get("/healthz").json()["log"] == {"status": "ok"}  # just committed
    time.sleep(0.6)  # past half the bound, on the server's clock
    response = client.get("/healthz")
    assert response.status_code == 200  # every instance serves as well: none is taken out
    body = response.json()
    assert body["status"] == "degraded"
    assert body["log"] == {"status": "down", "error": "SequencerBehind"}
    assert body["database"]["status"] == "ok"
    log_integrate()
    assert Entry.objects.get().index == 0
    assert client.get("/healthz").json()["log"] == {"status": "ok"}


def test_the_probe_takes_no_lock_a_writer_could_wait_for(client, settings):
    settings.CELERY_BROKER_URL = ""
    assert client.get("/healthz").status_code == 200
    # The test's transaction is still open: a transaction-scoped lock the probe took is held.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
        )
        assert cursor.fetchone() == (0,)
