"""Development settings: the default of ``manage.py``; embedded PostgreSQL unless configured."""

from core.logging import configure_logging

from .base import *  # noqa: F403
from .base import RS_LOG_FORMAT, RS_LOG_LEVEL, database_from_environment, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY", default="development-only-key-never-used-in-production-0123456789"
)
DATABASES = {"default": database_from_environment()}
RS_KEY_PASSPHRASE = env.str("RS_KEY_PASSPHRASE", default="development-only-passphrase")

configure_logging(fmt=RS_LOG_FORMAT, level=RS_LOG_LEVEL)
