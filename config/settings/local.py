"""Development settings: the default of ``manage.py``; embedded PostgreSQL unless configured."""

from core.logging import configure_logging

from .base import *  # noqa: F403
from .base import (
    RS_LOG_FORMAT,
    RS_LOG_LEVEL,
    database_from_environment,
    database_replica,
    env,
)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY", default="development-only-key-never-used-in-production-0123456789"
)
DATABASES = {"default": database_from_environment()}
DATABASES["replica"] = database_replica(DATABASES["default"])
RS_KEY_PASSPHRASE = env.str("RS_KEY_PASSPHRASE", default="development-only-passphrase")
# The SMS of a development server are printed to its console and reach no phone: the limits per
# number are looser than production's, so that a developer can run the README's story again
# (and try a flow several times) without waiting ten minutes. The others are production's.
RS_CHALLENGE_LIMIT_NUMBER = env.str("RS_CHALLENGE_LIMIT_NUMBER", default="10/10m,30/1d")
RS_CHALLENGE_LIMIT_NUMBER_TOTAL = env.str("RS_CHALLENGE_LIMIT_NUMBER_TOTAL", default="20/1h,60/1d")

configure_logging(fmt=RS_LOG_FORMAT, level=RS_LOG_LEVEL)
