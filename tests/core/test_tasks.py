"""Tasks are queued on commit; without a broker they run in-process; beat's schedule runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from config.celery_app import app
from core.scheduler import InProcessBeat
from core.tasks import enqueue_on_commit, sessions_clear_expired


def _expired_session() -> str:
    store = SessionStore()
    store["x"] = 1
    store.set_expiry(-10)
    store.create()
    assert store.session_key
    return store.session_key


@pytest.mark.django_db
def test_task_runs_only_after_commit(django_capture_on_commit_callbacks):
    key = _expired_session()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        with transaction.atomic():
            enqueue_on_commit(sessions_clear_expired)
            assert Session.objects.filter(session_key=key).exists()  # not yet: not committed
        assert Session.objects.filter(session_key=key).exists()  # nor at the savepoint's end
    assert len(queued) == 1
    assert not Session.objects.filter(session_key=key).exists()


@pytest.mark.django_db
def test_rolled_back_transaction_queues_nothing(django_capture_on_commit_callbacks):
    key = _expired_session()
    with (
        django_capture_on_commit_callbacks(execute=True) as queued,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_on_commit(sessions_clear_expired)
        raise RuntimeError("abort")
    assert queued == []
    assert Session.objects.filter(session_key=key).exists()


# Real commits: after each task beat's close_old_connections() closes a connection in a transaction.
@pytest.mark.django_db(transaction=True)
def test_in_process_beat_runs_due_entries_of_the_schedule():
    assert "clear-expired-sessions" in app.conf.beat_schedule
    key = _expired_session()
    beat = InProcessBeat(app)
    beat.tick()  # first sight of each entry: nothing is due yet
    assert Session.objects.filter(session_key=key).exists()
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        beat.tick()
    assert not Session.objects.filter(session_key=key).exists()


def test_every_beat_entry_is_well_formed_and_names_a_registered_task() -> None:
    from django.conf import settings

    from config.celery_app import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert set(entry) <= {"task", "schedule", "options", "args", "kwargs"}, name
        assert entry["task"] in app.tasks, name
