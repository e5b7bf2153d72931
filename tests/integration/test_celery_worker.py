"""A real Celery worker consumes our tasks from a real Redis broker.

Run by .ci/run with ``DATABASE_URL`` (the machine's PostgreSQL) and ``CELERY_BROKER_URL``
(its Redis) set: ``pytest -m integration tests/integration``.
"""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction

from config.celery_app import app
from core.tasks import enqueue_on_commit, sessions_clear_expired

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (run by .ci/run)"
    ),
]


def test_broker_is_real():
    assert not app.conf.task_always_eager
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_worker_executes_a_task_queued_on_commit(worker, client):
    store = SessionStore()
    store["x"] = 1
    store.set_expiry(-10)
    store.create()
    with transaction.atomic():
        enqueue_on_commit(sessions_clear_expired)
    # The worker deletes the expired session in its own process and connection.
    deadline = time.monotonic() + 60
    while Session.objects.filter(session_key=store.session_key).exists():
        if worker.poll() is not None:
            pytest.fail(f"worker exited:\n{worker.stdout.read() if worker.stdout else ''}")
        assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
        time.sleep(0.2)
    connection.close()


def test_worker_integrates_the_log(worker):
    from resolution.protocol.merkle import root_from_leaf_hashes
    from transparency.models import Checkpoint
    from transparency.services import log_append
    from transparency.tasks import log_integrate

    with transaction.atomic():
        entries = [log_append(kind="test", payload={"n": n}) for n in range(5)]
    # With a broker nothing integrates in-process: beat's task does, on a worker.
    assert not Checkpoint.objects.exists()
    log_integrate.delay()
    deadline = time.monotonic() + 60
    while not Checkpoint.objects.exists():
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        assert time.monotonic() < deadline, "the worker did not integrate within 60 s"
        time.sleep(0.2)
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.size == 5
    assert bytes(checkpoint.root_hash) == root_from_leaf_hashes([e.leaf_hash for e in entries])
    connection.close()


def test_health_reports_the_broker(client, db):
    body = client.get("/healthz").json()
    assert body["broker"] == {"status": "ok"}
