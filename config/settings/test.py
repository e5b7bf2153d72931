"""Test settings: real PostgreSQL (embedded or ``DATABASE_URL``), fast hashing, quiet logs."""

import os
import tempfile
from pathlib import Path

from core.logging import configure_logging

from .base import *  # noqa: F403
from .base import database_from_environment, database_replica, env

DEBUG = False
SECRET_KEY = "test-only-key-0123456789-0123456789-0123456789-0123456789"  # noqa: S105
DATABASES = {"default": database_from_environment()}
# Lets the test runner empty the append-only log tables between tests (transparency 0002).
DATABASES["default"]["OPTIONS"]["options"] += " -c rs.allow_test_truncate=on"
# Two test runs on one server at once need two test databases (default: test_<name>).
if env.str("RS_TEST_DATABASE", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("RS_TEST_DATABASE")}
# Read only, and a mirror of the test database: no second test database (core.read_replica).
DATABASES["replica"] = database_replica(DATABASES["default"])
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
RS_PUBLIC_URL = "http://testserver"
RS_SMS_OTP_DOMAIN = "testserver"
TWILIO_STATUS_CALLBACK_URL = "http://testserver/v1/twilio/status"
RS_LOG_ORIGIN = "testserver/log"
# An outbox the tests read (ca.sms.locmem); worker processes of the integration suite may be
# given another backend through the environment.
SMS_BACKEND = env.str("SMS_BACKEND", default="locmem")
RS_KEY_PASSPHRASE = "test-only-passphrase"  # noqa: S105
# Key files cheap to open (16 MiB of scrypt): the tests open them in many processes.
RS_KEY_SCRYPT_LOG2N = 14
# One key folder per test session, shared with the processes the tests start (workers, writers).
RS_KEY_DIR = Path(os.environ.setdefault("RS_KEY_DIR", tempfile.mkdtemp(prefix="rs-test-keys-")))

configure_logging(
    fmt=env.str("RS_LOG_FORMAT", default="console"),
    level=env.str("RS_LOG_LEVEL", default="WARNING"),
)
