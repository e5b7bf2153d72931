"""Periodic tasks without a broker: Celery beat's schedule, run in a thread of this process.

Production runs ``celery beat`` against the broker. The embedded default has no broker, so the
development server runs the same ``CELERY_BEAT_SCHEDULE`` here, each task eagerly, in turn.
"""

from __future__ import annotations

import threading
from datetime import datetime

import structlog
from celery import Celery
from celery.schedules import BaseSchedule, schedule
from django.db import close_old_connections
from django.utils import timezone

logger = structlog.get_logger(__name__)


class InProcessBeat(threading.Thread):
    """Run every entry of ``app.conf.beat_schedule`` when its schedule says it is due."""

    def __init__(self, app: Celery) -> None:
        super().__init__(name="rs-beat", daemon=True)
        self.app = app
        self.stopping = threading.Event()
        self.last_run: dict[str, datetime] = {}

    def tick(self) -> float:
        """Run the due entries once; return seconds until the next one is due."""
        next_due = 60.0
        for name, entry in (self.app.conf.beat_schedule or {}).items():
            every = entry["schedule"]
            if not isinstance(every, BaseSchedule):  # seconds or a timedelta, as beat allows
                every = schedule(every, app=self.app)
            last = self.last_run.setdefault(name, timezone.now())
            due, wait = every.is_due(last)
            if due:
                self.last_run[name] = timezone.now()
                try:
                    self.app.tasks[entry["task"]].apply(
                        args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True
                    )
                except Exception:
                    logger.exception("periodic task failed", task=entry["task"])
                finally:
                    close_old_connections()
            next_due = min(next_due, wait)
        return max(next_due, 0.05)

    def run(self) -> None:
        # Register every app's tasks (a worker does this at start; a web process never does).
        self.app.loader.import_default_modules()
        while not self.stopping.is_set():
            self.stopping.wait(self.tick())

    def stop(self) -> None:
        self.stopping.set()
