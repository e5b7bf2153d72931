"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Without ``CELERY_BROKER_URL`` tasks run eagerly in the calling process; core.tasks queues them
on transaction commit either way, so a rolled-back change never sends anything.
"""

import os
import sys
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_init

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


@worker_init.connect
def keys_checked(**_: Any) -> None:
    """A worker that cannot open the keys refuses to start, as the web service does.

    Its tasks sign (log checkpoints, CRLs): with a wrong ``RS_KEY_PASSPHRASE`` each would fail
    in turn while the worker looked healthy. Celery logs and swallows exceptions raised by
    signal receivers, so this exits instead.
    """
    from django.core.exceptions import ImproperlyConfigured

    from core.health import keys_open

    try:
        keys_open()
    except ImproperlyConfigured as error:
        sys.stderr.write(f"The worker cannot start: {error}\n")
        sys.stderr.flush()
        sys.exit(4)
