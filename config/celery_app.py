"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Without ``CELERY_BROKER_URL`` tasks run eagerly in the calling process; core.tasks queues them
on transaction commit either way, so a rolled-back change never sends anything.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("rs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
