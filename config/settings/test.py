"""Test settings: real PostgreSQL (embedded or ``DATABASE_URL``), fast hashing, quiet logs."""

from core.logging import configure_logging

from .base import *  # noqa: F403
from .base import database_from_environment, env

DEBUG = False
SECRET_KEY = "test-only-key-0123456789-0123456789-0123456789-0123456789"  # noqa: S105
DATABASES = {"default": database_from_environment()}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
RS_PUBLIC_URL = "http://testserver"

configure_logging(fmt="console", level=env.str("RS_LOG_LEVEL", default="WARNING"))
