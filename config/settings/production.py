"""Production settings: every secret comes from the environment; nothing insecure by default.

Refuses to start without ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``, ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``RS_KEY_PASSPHRASE`` and a real ``SMS_BACKEND``.
See docs/deployment.md for the full list of variables.
"""

from environ import ImproperlyConfigured

from core.logging import configure_logging

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    DATABASE_MIGRATE_URL,
    RS_LOG_LEVEL,
    database_replica,
    database_tuned,
    env,
)

DEBUG = False
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
WHITENOISE_USE_FINDERS = False  # collectstatic at deploy time

try:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
except ImproperlyConfigured as missing:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set in production (50+ random characters)"
    ) from missing
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters long")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
RS_KEY_PASSPHRASE = env.str("RS_KEY_PASSPHRASE")  # required: it protects the log and CA keys
if len(RS_KEY_PASSPHRASE) < 16:
    raise ImproperlyConfigured("RS_KEY_PASSPHRASE must be at least 16 characters long")
# Key files written here resist guessing at the passphrase (core.keyfiles: scrypt, 128 MiB).
RS_KEY_SCRYPT_LOG2N = env.int("RS_KEY_SCRYPT_LOG2N", default=17)
if RS_KEY_SCRYPT_LOG2N < 17:
    raise ImproperlyConfigured("RS_KEY_SCRYPT_LOG2N must be at least 17 in production")
# The root CA's key stays offline: the CA is created there (docs/deployment.md), never here.
RS_CA_CREATE_ON_BOOTSTRAP = env.bool("RS_CA_CREATE_ON_BOOTSTRAP", default=False)
# The console backend prints codes and locmem drops them: neither may run in production.
SMS_BACKEND = env.str("SMS_BACKEND")
if SMS_BACKEND in {
    "console",
    "locmem",
    "ca.sms.console.ConsoleBackend",
    "ca.sms.locmem.LocmemBackend",
}:
    raise ImproperlyConfigured(f"SMS_BACKEND={SMS_BACKEND} cannot be used in production")
# Without a broker, SMS would be sent (and retried) inside requests and nothing would run the
# periodic tasks: log integration each second, CRL renewal.
if not env.str("CELERY_BROKER_URL", default=""):
    raise ImproperlyConfigured("CELERY_BROKER_URL must be set in production (celery worker, beat)")
RS_EMBEDDED_DATABASE = False
if env.db("DATABASE_URL")["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL")
DATABASES = {"default": database_tuned(env.db("DATABASE_URL"))}
# DATABASE_REPLICA_URL, or unset the primary itself, never routed to (core.read_replica).
DATABASES["replica"] = database_replica(DATABASES["default"])
# The tables' owner, for `manage.py migrate`; the service's own role then owns nothing
# (core.database_roles, docs/deployment.md "Database roles and keys").
if (
    DATABASE_MIGRATE_URL
    and env.db_url_config(DATABASE_MIGRATE_URL)["NAME"] != (DATABASES["default"]["NAME"])
):
    raise ImproperlyConfigured("DATABASE_MIGRATE_URL must name the database of DATABASE_URL")

# TLS is terminated by the proxy in front of gunicorn, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

RS_LOG_FORMAT = env.str("RS_LOG_FORMAT", default="json")
configure_logging(fmt=RS_LOG_FORMAT, level=RS_LOG_LEVEL)
