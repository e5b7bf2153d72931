"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Without ``CELERY_BROKER_URL`` tasks run eagerly in the calling process; core.tasks queues them
on transaction commit either way, so a rolled-back change never sends anything.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

from core.logging import configure_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("rs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def logging_configure(*, loglevel: int | str | None = None, **_: Any) -> None:
    """Keep our structured, redacting logging in `celery worker` and `celery beat`.

    Any receiver of this signal stops Celery from installing its own handlers on the root
    logger, which would print task arguments and exceptions unredacted. The level is the one
    given on the command line (``--loglevel``), else ``RS_LOG_LEVEL``.
    """
    from django.conf import settings

    configure_logging(fmt=settings.RS_LOG_FORMAT, level=loglevel or settings.RS_LOG_LEVEL)
