"""Settings for mypy's Django plugin: it imports settings, and must not start a database."""

from .base import *  # noqa: F403

SECRET_KEY = "typecheck-only"  # noqa: S105
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "typecheck"}}
