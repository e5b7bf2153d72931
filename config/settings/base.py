"""Settings shared by every environment, read from the environment in this one place.

Each environment module (``local``, ``test``, ``production``) imports this one and decides the
few things that differ: the database, debug, secrets and how logs are rendered. Every variable
is documented in docs/configuration.md.
"""

from __future__ import annotations

import copy
import ipaddress
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from kombu import Queue

# Lets type-annotated code subscript Django generics (ModelAdmin[Model], QuerySet[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

# platformdirs (used by pgserver) warns on machines without a login session; it is harmless.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

# --- Core -----------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Where the service is reachable from outside; used in problem type URIs, x5u URLs and CRL
# distribution points, so it must be the public https URL in production.
RS_PUBLIC_URL: str = env.str("RS_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")


def public_url_defaults(public_url: str) -> dict[str, str]:
    """The defaults that follow RS_PUBLIC_URL, by setting name. ``manage.py serve ADDR:PORT``
    applies them again when it derives RS_PUBLIC_URL from the address it listens on."""
    return {
        "RS_LOG_ORIGIN": urlsplit(public_url).netloc + "/log",
        "RS_SMS_OTP_DOMAIN": urlsplit(public_url).hostname or "localhost",
        "TWILIO_STATUS_CALLBACK_URL": f"{public_url}/v1/twilio/status",
        "TWILIO_INBOUND_URL": f"{public_url}/v1/twilio/inbound",
    }


_PUBLIC_URL_DEFAULTS = public_url_defaults(RS_PUBLIC_URL)

# Keys, the embedded database and other local state live here.
RS_DATA_DIR = Path(env.str("RS_DATA_DIR", default=str(BASE_DIR / ".data"))).resolve()

# --- Keys and the transparency log ------------------------------------------------------------

# Private keys are files in RS_KEY_DIR, encrypted with RS_KEY_PASSPHRASE (transparency.keys).
RS_KEY_DIR = Path(env.str("RS_KEY_DIR", default=str(RS_DATA_DIR / "keys"))).resolve()
RS_KEY_PASSPHRASE: str = env.str("RS_KEY_PASSPHRASE", default="")
# scrypt's cost for key files written from now on (core.keyfiles): N = 2**this, r = 8, p = 1;
# 17 takes 128 MiB and a fraction of a second per key opened. Files keep the cost they were
# written with; `manage.py keys_reencrypt` rewrites them.
RS_KEY_SCRYPT_LOG2N: int = env.int("RS_KEY_SCRYPT_LOG2N", default=17)
# Whether `manage.py bootstrap` may create the CA (root and issuing) when there is none: for
# development. Production creates them offline (`manage.py ca_init`, `ca_issue_intermediate`).
RS_CA_CREATE_ON_BOOTSTRAP: bool = env.bool("RS_CA_CREATE_ON_BOOTSTRAP", default=True)
# The root CA key's own passphrase, on the offline machine only (`manage.py ca_init`,
# `ca_issue_intermediate`); asked for when unset. The service never needs it.
RS_ROOT_KEY_PASSPHRASE: str = env.str("RS_ROOT_KEY_PASSPHRASE", default="")
# The log's name in checkpoints and its note key (C2SP tlog-checkpoint "origin").
RS_LOG_ORIGIN: str = env.str("RS_LOG_ORIGIN", default=_PUBLIC_URL_DEFAULTS["RS_LOG_ORIGIN"])
# Most entries one integrator run hashes into one checkpoint.
RS_LOG_INTEGRATE_BATCH: int = env.int("RS_LOG_INTEGRATE_BATCH", default=65536)
# Seconds between integrator runs (beat's `log-integrate`): an entry waits about this long at
# most for the first checkpoint covering it (the merge delay; the goal is at most 1 s, p99).
# Each run that finds new entries signs one checkpoint.
RS_LOG_INTEGRATE_SECONDS: float = env.float("RS_LOG_INTEGRATE_SECONDS", default=0.5)
# The bound each write's promise of inclusion states (resolution.protocol.promise): its entry is
# in a signed checkpoint at most this many seconds after the promise's time. `rs monitor` and
# `rs log audit` report a promise not kept within it.
RS_LOG_MERGE_DELAY_SECONDS: int = env.int("RS_LOG_MERGE_DELAY_SECONDS", default=10)
if RS_LOG_MERGE_DELAY_SECONDS < 1:
    raise environ.ImproperlyConfigured("RS_LOG_MERGE_DELAY_SECONDS must be at least 1")

# --- Witnesses (C2SP tlog-witness: transparency.witnesses, docs/witnessing.md) ----------------

# The witnesses the log submits each new checkpoint to: one per line (or separated by ";"),
# "[NAME] VKEY URL": a local name for the policy (default: the key's name), the witness's
# cosigner verifier key (`rs witness keygen` prints it) and the URL of its submission prefix
# (https, or http behind a trusted network). Checked as every process starts. Empty: none.
RS_WITNESSES: str = env.str("RS_WITNESSES", default="")
# Which cosignatures a checkpoint needs before it is served (C2SP policy `group` and `quorum`
# lines, over RS_WITNESSES' names; lines separated by newlines or ";"). Default with witnesses:
# a majority of them ("group majority <n//2+1> ..." and "quorum majority"); without: "quorum
# none". "quorum none" with witnesses gathers cosignatures without holding checkpoints back.
RS_WITNESS_POLICY: str = env.str("RS_WITNESS_POLICY", default="")
# Seconds one add-checkpoint exchange may take (resolution, connection, TLS, answer).
RS_WITNESS_TIMEOUT_SECONDS: float = env.float("RS_WITNESS_TIMEOUT_SECONDS", default=5.0)
# Seconds between beat's submissions (`witnesses-submit`), besides the one each new checkpoint
# asks for: they retry witnesses that were down, and catch up any checkpoint a submission missed.
RS_WITNESS_SUBMIT_SECONDS: float = env.float("RS_WITNESS_SUBMIT_SECONDS", default=5.0)
# Networks (CIDRs) a witness's URL may resolve to although they are not public (a witness on
# the operator's own network, or loopback). By default only globally routable addresses: a
# witness's DNS, which its operator controls, cannot point the log's requests into ours.
RS_WITNESS_PERMITTED_NETWORKS: list[str] = [
    str(ipaddress.ip_network(network))
    for network in env.list("RS_WITNESS_PERMITTED_NETWORKS", default=[])
]

# --- Number verification (SMS challenges) ----------------------------------------------------

# Which SMS backend sends challenge codes: "console", "locmem", "twilio" or a dotted path to a
# backend class (ca.sms). The console backend prints messages, codes included: development only.
SMS_BACKEND: str = env.str("SMS_BACKEND", default="console")
# The service's name as the SMS text gives it ("<name> code for <provider>: 123456").
RS_SMS_SERVICE_NAME: str = env.str("RS_SMS_SERVICE_NAME", default="Resolution Service")
# The host of the "@host #code" line (WebOTP, origin-bound one-time codes); default: our host.
RS_SMS_OTP_DOMAIN: str = env.str(
    "RS_SMS_OTP_DOMAIN", default=_PUBLIC_URL_DEFAULTS["RS_SMS_OTP_DOMAIN"]
)
RS_CHALLENGE_CODE_DIGITS: int = env.int("RS_CHALLENGE_CODE_DIGITS", default=6)
RS_CHALLENGE_LIFETIME_SECONDS: int = env.int("RS_CHALLENGE_LIFETIME_SECONDS", default=600)
RS_CHALLENGE_MAX_ATTEMPTS: int = env.int("RS_CHALLENGE_MAX_ATTEMPTS", default=5)
# Destination countries (ISO 3166 region codes) a challenge may be sent to: the EEA, the UK,
# Switzerland, the US and Canada unless set. SMS to anywhere else is refused.
RS_CHALLENGE_COUNTRIES: list[str] = env.list(
    "RS_CHALLENGE_COUNTRIES",
    default=[
        # The EEA
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        # and
        "CH",
        "GB",
        "US",
        "CA",
    ],
)
# The numbers this service serves, as comma-separated blocks in the advertisements' spelling
# ("1-<start>-<count>" a range, "2-<number>" one number; core.ranges): a challenge for another
# number is refused (421 number-not-served). Unset: every number.
RS_SERVED_RANGES: list[str] = env.list("RS_SERVED_RANGES", default=[])
# This service's range advertisement (federation) is signed anew once it is this old (checked
# hourly by beat), and any advertisement, ours or a peer's, is accepted until it is
# RS_ADVERTISEMENT_MAX_AGE_SECONDS old: signed daily, accepted for a week, so that a week of
# outage of the signer (or of its beat) passes before its peers stop trusting its claims.
RS_ADVERTISEMENT_RESIGN_SECONDS: int = env.int("RS_ADVERTISEMENT_RESIGN_SECONDS", default=86400)
RS_ADVERTISEMENT_MAX_AGE_SECONDS: int = env.int(
    "RS_ADVERTISEMENT_MAX_AGE_SECONDS", default=7 * 86400
)
# Peers' advertisements (federation.models.Peer, in the admin) are fetched this often by beat,
# each fetch given at most RS_PEER_FETCH_TIMEOUT_SECONDS.
RS_PEER_FETCH_SECONDS: int = env.int("RS_PEER_FETCH_SECONDS", default=3600)
RS_PEER_FETCH_TIMEOUT_SECONDS: float = env.float("RS_PEER_FETCH_TIMEOUT_SECONDS", default=10.0)
# Lookups answer with referrals from the peers' advertisements as each process read them at most
# this long ago (federation.selectors.referrals); a process that changes a peer forgets at once.
RS_CLAIMS_CACHE_SECONDS: float = env.float("RS_CLAIMS_CACHE_SECONDS", default=30.0)
# Challenges sent, as comma-separated "count/window" limits (window: 30s, 10m, 1h, 1d), counted
# across all processes in the database. Exceeding one answers 429 with Retry-After.
# Per number and provider (each provider has its own allowance for a number).
RS_CHALLENGE_LIMIT_NUMBER: str = env.str("RS_CHALLENGE_LIMIT_NUMBER", default="3/10m,10/1d")
# All providers together per number; a provider's first challenge for the number within a
# window is never refused by it, so one provider cannot starve another (ca.services.challenges).
RS_CHALLENGE_LIMIT_NUMBER_TOTAL: str = env.str(
    "RS_CHALLENGE_LIMIT_NUMBER_TOTAL", default="6/1h,20/1d"
)
RS_CHALLENGE_LIMIT_PROVIDER: str = env.str("RS_CHALLENGE_LIMIT_PROVIDER", default="2000/1h")
RS_CHALLENGE_LIMIT_CLIENT_IP: str = env.str("RS_CHALLENGE_LIMIT_CLIENT_IP", default="30/1h")
# Per destination country calling code: the brake on SMS pumping to expensive ranges.
RS_CHALLENGE_LIMIT_COUNTRY: str = env.str("RS_CHALLENGE_LIMIT_COUNTRY", default="500/1h")
# Retries of a challenge's SMS after provider errors, before it is recorded as failed; the
# wait doubles from RS_SMS_RETRY_BACKOFF_SECONDS each time (with jitter, at most 5 minutes).
RS_SMS_MAX_RETRIES: int = env.int("RS_SMS_MAX_RETRIES", default=5)
RS_SMS_RETRY_BACKOFF_SECONDS: int = env.int("RS_SMS_RETRY_BACKOFF_SECONDS", default=2)

# The outbox (outbox.services): every message leaving the process, a challenge's SMS included.
# Seconds between two dispatches by beat (besides the one each commit asks for at once).
RS_OUTBOX_DISPATCH_SECONDS: float = env.float("RS_OUTBOX_DISPATCH_SECONDS", default=2.0)
# Seconds a dispatcher holds a message it is sending: a killed dispatcher's message is sent again
# once they pass. Must exceed the longest send (TWILIO_TIMEOUT_SECONDS), or a slow send may be
# overtaken by a second one.
RS_OUTBOX_LEASE_SECONDS: float = env.float("RS_OUTBOX_LEASE_SECONDS", default=20.0)
# Days sent and dead messages stay listed (the admin's dead letters included) before beat
# forgets them; a challenge keeps its own delivery record.
RS_OUTBOX_KEEP_DAYS: int = env.int("RS_OUTBOX_KEEP_DAYS", default=14)

# Webhooks (webhooks, docs/webhooks.md): providers' endpoints, told of changes under their
# numbers. Endpoints a provider may have at once.
RS_WEBHOOK_MAX_PER_PROVIDER: int = env.int("RS_WEBHOOK_MAX_PER_PROVIDER", default=10)
# Seconds a delivery may take in all (resolution, connection, TLS, answer); below
# RS_OUTBOX_LEASE_SECONDS, or a slow endpoint would be sent it twice (a system check says so).
RS_WEBHOOK_TIMEOUT_SECONDS: float = env.float("RS_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds before each retry of a delivery not answered 2xx (each spread by a tenth), after
# Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then it is given up,
# about 28 hours after the first attempt.
RS_WEBHOOK_RETRY_SCHEDULE: list[float] = env.list(
    "RS_WEBHOOK_RETRY_SCHEDULE", cast=float, default=[5, 300, 1800, 7200, 18000, 36000, 36000]
)
# After a secret's rotation, deliveries are signed with the old secret too for this long.
RS_WEBHOOK_SECRET_OVERLAP_SECONDS: int = env.int(
    "RS_WEBHOOK_SECRET_OVERLAP_SECONDS", default=24 * 3600
)
# Days delivered and failed deliveries stay in the history before beat forgets them.
RS_WEBHOOK_KEEP_DAYS: int = env.int("RS_WEBHOOK_KEEP_DAYS", default=30)

# Invitations (invitations, DESIGN §7.5, docs/invitations.md): an SMS to a number no app has
# registered, on behalf of a certificate holder. Days an invitation waits for the number to
# publish a handler of its service before it expires.
RS_INVITATION_LIFETIME_DAYS: int = env.int("RS_INVITATION_LIFETIME_DAYS", default=30)
# Invitations sent, as "count/window" limits (as the challenges' above): per inviting number and
# invited number together; per invited number from all inviters; per inviting number; per
# provider. Each SMS also counts against RS_CHALLENGE_LIMIT_PROVIDER and _COUNTRY, shared with
# challenges. Exceeding one answers 429 with Retry-After.
RS_INVITATION_LIMIT_PAIR: str = env.str("RS_INVITATION_LIMIT_PAIR", default="1/30d")
RS_INVITATION_LIMIT_TARGET: str = env.str("RS_INVITATION_LIMIT_TARGET", default="2/1d")
RS_INVITATION_LIMIT_INVITER: str = env.str("RS_INVITATION_LIMIT_INVITER", default="20/1d")
RS_INVITATION_LIMIT_PROVIDER: str = env.str(
    "RS_INVITATION_LIMIT_PROVIDER", default="200/1h,1000/1d"
)
# What one SMS costs, for the dashboard's estimate of what invitations cost (and its currency).
RS_SMS_COST_ESTIMATE: float = env.float("RS_SMS_COST_ESTIMATE", default=0.05)
RS_SMS_COST_CURRENCY: str = env.str("RS_SMS_COST_CURRENCY", default="EUR")
# Hours the answer to a POST sent with an Idempotency-Key is kept for its retries
# (providers.idempotency; the IETF draft suggests at least 24).
RS_IDEMPOTENCY_KEEP_HOURS: int = env.int("RS_IDEMPOTENCY_KEEP_HOURS", default=24)

# Twilio (SMS_BACKEND=twilio). Authenticate with the account's auth token, or with an API key
# (TWILIO_API_KEY_SID + TWILIO_API_KEY_SECRET); the auth token is still needed to check the
# X-Twilio-Signature of delivery callbacks. Send from a number or a Messaging Service.
TWILIO_ACCOUNT_SID: str = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN: str = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_KEY_SID: str = env.str("TWILIO_API_KEY_SID", default="")
TWILIO_API_KEY_SECRET: str = env.str("TWILIO_API_KEY_SECRET", default="")
TWILIO_FROM_NUMBER: str = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID: str = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Where Twilio posts delivery reports; must be the public URL Twilio sees (it is signed).
TWILIO_STATUS_CALLBACK_URL: str = env.str(
    "TWILIO_STATUS_CALLBACK_URL", default=_PUBLIC_URL_DEFAULTS["TWILIO_STATUS_CALLBACK_URL"]
)
# Seconds before a request to Twilio is abandoned (and retried later).
TWILIO_TIMEOUT_SECONDS: float = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
# Replaces https://api.twilio.com, e.g. for an egress proxy or a local stand-in in tests.
TWILIO_API_BASE_URL: str = env.str("TWILIO_API_BASE_URL", default="")
# Where Twilio posts the SMS our number receives (STOP replies to invitations): the public URL
# configured as the number's incoming-message webhook (it is signed).
TWILIO_INBOUND_URL: str = env.str(
    "TWILIO_INBOUND_URL", default=_PUBLIC_URL_DEFAULTS["TWILIO_INBOUND_URL"]
)

# --- Certificate authority ---------------------------------------------------------------------

# Lifetime of number certificates (DESIGN §4.3: short).
RS_CERT_LIFETIME_DAYS: int = env.int("RS_CERT_LIFETIME_DAYS", default=30)
# While a holder's lock holds, a certificate for its number to another key waits this long for a
# locked holder's answer, then is issued (DESIGN §7.2; Signal's registration lock lapses after 7
# days).
RS_LOCK_WAIT_SECONDS: int = env.int("RS_LOCK_WAIT_SECONDS", default=7 * 24 * 3600)
# The CA's names in its root and issuing certificates.
RS_CA_NAME: str = env.str("RS_CA_NAME", default="Resolution Service")
# A CRL is valid this long; it is signed anew on every revocation and before it runs out.
RS_CRL_LIFETIME_HOURS: int = env.int("RS_CRL_LIFETIME_HOURS", default=24)

# Roots trusted besides our own CA for number certificates issued elsewhere (ca.trust): a TOML
# file naming each root, the providers it speaks for and its CRLs. Unset: only our own.
RS_TRUSTED_ROOTS_FILE: str = env.str("RS_TRUSTED_ROOTS_FILE", default="")
# How often beat fetches the CRLs of those roots' CAs (ca.services.external).
RS_EXTERNAL_CRL_REFRESH_SECONDS: int = env.int("RS_EXTERNAL_CRL_REFRESH_SECONDS", default=300)

# --- Fetching untrusted URLs (x5u certificates, CRLs: core.fetch) -------------------------------

# Networks (CIDRs) a fetch may connect to although they are not public, e.g. an internal PKI
# host. By default only globally routable addresses are fetched: no SSRF into our network.
# Checked here, so that a mistyped network stops the service from starting.
RS_FETCH_PERMITTED_NETWORKS: list[str] = [
    str(ipaddress.ip_network(network))
    for network in env.list("RS_FETCH_PERMITTED_NETWORKS", default=[])
]
# A PEM bundle of CA certificates trusted for fetches in addition to the public CAs (certifi).
RS_FETCH_CA_FILE: str = env.str("RS_FETCH_CA_FILE", default="")

# --- PASSporTs (POST /v1/passports/verify: ca.passports) ----------------------------------------

# Hosts a PASSporT's x5u may be fetched from (core.fetch allow-list entries: "host",
# "host:port", "*.domain"). Our own repository's URLs are read from the database, never fetched,
# whatever this says. Empty: only certificates of our own repository.
RS_X5U_ALLOWED_HOSTS: list[str] = env.list("RS_X5U_ALLOWED_HOSTS", default=[])
# Seconds a fetched x5u chain is kept by each process (less when the server's max-age says so).
RS_X5U_CACHE_SECONDS: int = env.int("RS_X5U_CACHE_SECONDS", default=3600)
# The most a PASSporT check spends on its x5u: one fetch (resolution, connection, TLS and body
# together), or waiting for a concurrent check's fetch of the same URL.
RS_X5U_FETCH_TIMEOUT_SECONDS: float = env.float("RS_X5U_FETCH_TIMEOUT_SECONDS", default=5.0)
# Seconds a failed x5u fetch is remembered by each process: for the whole host when it timed
# out or could not be reached, for the URL otherwise. 0: every check fetches again.
RS_X5U_FAILURE_CACHE_SECONDS: int = env.int("RS_X5U_FAILURE_CACHE_SECONDS", default=60)
# Seconds a PASSporT's iat may lie from our clock, either way (DESIGN §4.4: 60).
RS_PASSPORT_FRESHNESS_SECONDS: int = env.int("RS_PASSPORT_FRESHNESS_SECONDS", default=60)
# Seconds a "msg" PASSporT's iat may lie in the past: messages are stored and forwarded.
RS_PASSPORT_MSG_FRESHNESS_SECONDS: int = env.int(
    "RS_PASSPORT_MSG_FRESHNESS_SECONDS", default=24 * 60 * 60
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "outbox",
    "providers",
    "directory",
    "ca",
    "webhooks",
    "transparency",
    "federation",
    "invitations",
    "web",
]

MIDDLEWARE = [
    "core.middleware.RequestLogMiddleware",
    # A database outage is a 503 problem on pages too, not Django's 500 (core.outages).
    "core.middleware.DatabaseOutageMiddleware",
    # A provider's reads after its writes stay on the primary (core.read_replica).
    "core.middleware.ReadYourWritesMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",
    # DEBUG's HTML 404 page stays off API paths: they answer problem+json.
    "core.middleware.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login axes refused (web.admin_login) into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Explicit transactions only: entry-point services are atomic (docs/architecture.md).
ATOMIC_REQUESTS = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_CONN_MAX_AGE = env.int("DATABASE_CONN_MAX_AGE", default=60)
# Parameters bound by the server, and statements prepared after a few runs on a connection:
# less work per query in both Python and PostgreSQL. Turn off behind a pooler that cannot
# keep prepared statements (PgBouncer before 1.21 in transaction mode).
DATABASE_SERVER_SIDE_BINDING = env.bool("DATABASE_SERVER_SIDE_BINDING", default=True)

# Bounded waits toward PostgreSQL (core.database_timeouts, docs/operations.md). gunicorn kills a
# worker after 30 s (its default timeout) with an HTML 500: every limit below ends a request's
# wait well before that, with an error answered as a 503 problem.
# Seconds to open a connection (libpq, whole seconds, at least 2).
RS_DB_CONNECT_TIMEOUT_SECONDS: int = env.int("RS_DB_CONNECT_TIMEOUT_SECONDS", default=5)
# TCP keepalives, on our end and the server's: a peer that vanished is noticed after
# idle + interval * count seconds of silence (30 s) instead of the system's two hours.
RS_DB_KEEPALIVES_IDLE_SECONDS: int = env.int("RS_DB_KEEPALIVES_IDLE_SECONDS", default=15)
RS_DB_KEEPALIVES_INTERVAL_SECONDS: int = env.int("RS_DB_KEEPALIVES_INTERVAL_SECONDS", default=5)
RS_DB_KEEPALIVES_COUNT: int = env.int("RS_DB_KEEPALIVES_COUNT", default=3)
# The longest a statement may run; the service's take milliseconds, so a statement this slow is
# an outage, not a workload. Half of gunicorn's timeout. 0: no limit (not for the service).
RS_DB_STATEMENT_TIMEOUT_SECONDS: float = env.float("RS_DB_STATEMENT_TIMEOUT_SECONDS", default=15)
# The longest a statement waits for a lock (a certificate's or a handler's row, a rate-limit
# counter): a writer behind a stuck holder fails after this long (503) instead of queueing.
RS_DB_LOCK_TIMEOUT_SECONDS: float = env.float("RS_DB_LOCK_TIMEOUT_SECONDS", default=5)
# A session silent this long inside a transaction is ended by the server, and its locks freed:
# the bound on how long a stalled session holds the rows it locked. No transaction
# of the service waits on anything but its own statements (integrating 65,536 entries hashes
# for well under a second between two), so this is far above any real pause.
RS_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: float = env.float(
    "RS_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", default=30
)
# The longest this process waits for any answer from PostgreSQL before it drops the connection:
# what the server cannot enforce (a query that never reached it, a server or path that stopped
# answering). Above the statement timeout, so that the server cancels a slow statement first;
# with the connect timeout, below gunicorn's 30 s. 0: wait forever.
RS_DB_ANSWER_TIMEOUT_SECONDS: float = env.float("RS_DB_ANSWER_TIMEOUT_SECONDS", default=20)
# The statement timeout of long maintenance work (`manage.py migrate`, the benchmarks' loaders:
# core.database_timeouts.maintenance_timeouts), which also has no idle-in-transaction or answer
# timeout. 0: none; the operator who runs it watches it.
RS_DB_MAINTENANCE_STATEMENT_TIMEOUT_SECONDS: float = env.float(
    "RS_DB_MAINTENANCE_STATEMENT_TIMEOUT_SECONDS", default=0
)

# The admin's login: axes first, refusing a locked-out attempt before the password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins lock out the pair (username, client address), not either alone, so that a
# guesser cannot lock an operator out from everywhere (web.admin_login). Unlock with
# ``manage.py axes_reset_username <name>``.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT: int = env.int("RS_ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("RS_ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
# The client address as the API's throttles read it (RS_TRUSTED_PROXIES), not axes' own.
AXES_CLIENT_IP_CALLABLE = "web.admin_login.admin_login_client"
AXES_LOCKOUT_CALLABLE = "web.admin_login.admin_login_locked_out"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STORAGES = {
    "default": {"BASE_BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the apps in development, no collectstatic needed.
WHITENOISE_USE_FINDERS = True

# Request bodies are small JSON or JWS documents; refuse anything large before parsing it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("RS_MAX_REQUEST_BYTES", default=64 * 1024)

# --- Cache (throttles and rate limits must be shared across processes in production) ----------

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://rs")}
# Seconds to connect to Redis, and to wait for each answer, before a cache call fails (and the
# throttles count in the process instead, core.outages): every request reads the cache, so a
# stalled Redis must cost a request at most this, not forever. Redis answers in milliseconds.
RS_CACHE_CONNECT_TIMEOUT_SECONDS: float = env.float("RS_CACHE_CONNECT_TIMEOUT_SECONDS", default=1.0)
RS_CACHE_SOCKET_TIMEOUT_SECONDS: float = env.float("RS_CACHE_SOCKET_TIMEOUT_SECONDS", default=1.0)
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # redis-py's connection options; CACHE_URL's own (?socket_timeout=…) win.
    CACHES["default"]["OPTIONS"] = {
        "socket_connect_timeout": RS_CACHE_CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": RS_CACHE_SOCKET_TIMEOUT_SECONDS,
        **CACHES["default"].get("OPTIONS", {}),
    }

# --- Outages of the database and the cache (core.outages) -------------------------------------

# The Retry-After, in seconds, of the 503 answered while the database is down (or the cache, on
# the endpoints that send SMS); also how long either must answer without a failure before its
# outage is logged as over, and how long the throttles leave a failed cache alone (they count
# in each process meanwhile) before trying it again.
RS_OUTAGE_RETRY_AFTER_SECONDS: int = env.int("RS_OUTAGE_RETRY_AFTER_SECONDS", default=5)

# --- REST API -------------------------------------------------------------------------------

# A live API key is remembered by each process this long: revoking it elsewhere takes this long.
RS_API_KEY_CACHE_SECONDS: float = env.float("RS_API_KEY_CACHE_SECONDS", default=5.0)
# Live (unrevoked) API keys a provider may hold, however they were created.
RS_API_KEY_MAX_PER_PROVIDER: int = env.int("RS_API_KEY_MAX_PER_PROVIDER", default=20)
# Keys a provider's admin keys may create (POST /v1/keys), "N/second|minute|hour|day".
RS_API_KEY_CREATE_RATE: str = env.str("RS_API_KEY_CREATE_RATE", default="10/hour")
# The distinct-numbers brake on lookups (core.throttling.LookupDistinctRateThrottle): so many
# new numbers at once per provider, and a number looked up again within this window is free.
RS_THROTTLE_LOOKUP_DISTINCT_BURST: int = env.int("RS_THROTTLE_LOOKUP_DISTINCT_BURST", default=300)
RS_THROTTLE_LOOKUP_SEEN_SECONDS: int = env.int("RS_THROTTLE_LOOKUP_SEEN_SECONDS", default=86400)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["providers.authentication.ApiKeyAuthentication"],
    # Each API view declares the scope its key needs (providers.permissions); one that forgets
    # is open to admin keys only.
    "DEFAULT_PERMISSION_CLASSES": ["providers.permissions.AdminScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser with recursion (JSON nested thousands deep) a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.ApiKeyRateThrottle",
        "core.throttling.ClientIpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("RS_THROTTLE_API_KEY", default="600/minute"),
        "client_ip": env.str("RS_THROTTLE_CLIENT_IP", default="300/minute"),
        # Each lookup answers for one number: a low rate makes walking a numbering plan slow.
        "lookup": env.str("RS_THROTTLE_LOOKUP", default="300/minute"),
        # Numbers a provider had not looked up within RS_THROTTLE_LOOKUP_SEEN_SECONDS, after a
        # burst of RS_THROTTLE_LOOKUP_DISTINCT_BURST: the brake on walking a numbering plan.
        "lookup_distinct": env.str("RS_THROTTLE_LOOKUP_DISTINCT", default="600/hour"),
        # The log's static tiles are made to be fetched in bulk (audits) and cached by CDNs.
        "log_read": env.str("RS_THROTTLE_LOG_READ", default="30000/minute"),
        # Certificates name numbers: fetching them is for relying parties, not for harvesting.
        "ca_read": env.str("RS_THROTTLE_CA_READ", default="120/minute"),
        # Pages for people (web.throttling): the explorer draws charts and computes proofs.
        "html": env.str("RS_THROTTLE_HTML", default="120/minute"),
    },
    # Client IPs come from REMOTE_ADDR; behind N trusted proxies set RS_TRUSTED_PROXIES=N
    # (core.throttling.client_address; `check --deploy` warns while it is 0).
    "NUM_PROXIES": env.int("RS_TRUSTED_PROXIES", default=0),
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    # One time format in every answer: RFC 3339 in UTC, to the second, with Z (core.dates, as
    # the log and the services write times).
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Resolution Service API",
    "DESCRIPTION": (
        "Find which messaging and calling apps handle a phone number. Apps prove control of a "
        "number by SMS, receive a short-lived number certificate, and publish handler records; "
        "every certificate and change is recorded in a public transparency log."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: a null nested object is oneOf [object, null]; 3.0's "nullable" beside a $ref is void.
    "OAS_VERSION": "3.1.0",
    # An invitation's status is in two components (as read, and as its sending answers it).
    "ENUM_NAME_OVERRIDES": {"InvitationStatusEnum": "invitations.choices.InvitationStatus"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # servers (RS_PUBLIC_URL), E.164 patterns, services, the signed requests' payloads
        "core.schema.schema_postprocess",
        # request and response examples, taken from real answers (core.schema_examples)
        "core.schema_examples.examples_postprocess",
    ],
    # Operations are grouped by the task they serve (core.schema.OPERATIONS).
    "TAGS": [
        {
            "name": "Register a number",
            "description": "Prove control of a number by SMS; get a number certificate.",
        },
        {
            "name": "Publish handlers",
            "description": "Say which app handles a number for a service (signed).",
        },
        {
            "name": "Look up numbers",
            "description": "Find the handlers of a number; verify a PASSporT; a number's history.",
        },
        {
            "name": "Number lock",
            "description": "Hold a number against certificates to other keys.",
        },
        {
            "name": "Read the log",
            "description": "The transparency log: checkpoints, entries, proofs, tiles, its key.",
        },
        {
            "name": "Certificate repository",
            "description": "The root, number certificates by repository id, and the CRL.",
        },
        {
            "name": "Webhooks",
            "description": "Endpoints that receive the caller's events; deliveries.",
        },
        {"name": "API keys", "description": "The calling provider, and its API keys."},
        {
            "name": "Invitations",
            "description": "Invite a number's holder to an app by SMS.",
        },
        {
            "name": "Several services",
            "description": "The ranges this service serves, signed for its peers.",
        },
        {"name": "Service", "description": "Health, and the callbacks of the SMS gateway."},
    ],
}

# --- Tasks ----------------------------------------------------------------------------------

CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in this process (after the transaction that queued them commits).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# The log's integrator has a queue of its own, so that it never waits behind other tasks (a
# backlog of SMS sends, an outbox dispatch of up to 20 s): that wait is merge delay. A worker
# started without -Q consumes both queues; a worker for `log` alone isolates it completely
# (docs/deployment.md).
CELERY_TASK_QUEUES = (Queue("celery"), Queue("log"), Queue("witness"))
# Submissions to witnesses wait on other hosts: in a queue of their own, never in the log's.
CELERY_TASK_ROUTES = {
    "transparency.tasks.log_integrate": {"queue": "log"},
    "transparency.tasks.witnesses_submit": {"queue": "witness"},
}
# A task is acknowledged when it ends, not when a worker takes it: a task whose worker dies is
# delivered again (every task is idempotent; the outbox keeps its own record of what was sent).
CELERY_TASK_ACKS_LATE = True
# ... also when the worker's child process is killed (SIGKILL, out of memory) mid-task.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker holds one task beyond the one it runs: a killed worker strands no queue behind it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker that loses the broker stops its running tasks: Redis gives them to another worker
# anyway (they were never acknowledged), and they must not run twice at once.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Redis hands a task that was taken and never acknowledged to another worker after the
# visibility timeout: kombu's default, one hour, kept a killed worker's task away that long.
# It must exceed the longest task (an outbox dispatch stops claiming after 20 s) and any
# countdown or ETA (none is used), or a task would run twice. Workers look for such tasks every
# 5 s (kombu's default: about every 100 s).
RS_BROKER_VISIBILITY_TIMEOUT_SECONDS: int = env.int(
    "RS_BROKER_VISIBILITY_TIMEOUT_SECONDS", default=60
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": RS_BROKER_VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds to connect to the broker (Redis), and to wait for each of its answers, before a
# publish or a worker's read fails instead of hanging on a stalled Redis. The socket timeout
# must exceed the 1 s a worker's BRPOP blocks waiting for tasks (kombu's Redis transport).
RS_BROKER_CONNECT_TIMEOUT_SECONDS: float = env.float(
    "RS_BROKER_CONNECT_TIMEOUT_SECONDS", default=2.0
)
RS_BROKER_SOCKET_TIMEOUT_SECONDS: float = env.float("RS_BROKER_SOCKET_TIMEOUT_SECONDS", default=5.0)
CELERY_BROKER_CONNECTION_TIMEOUT = RS_BROKER_CONNECT_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS.update(
    socket_connect_timeout=RS_BROKER_CONNECT_TIMEOUT_SECONDS,
    socket_timeout=RS_BROKER_SOCKET_TIMEOUT_SECONDS,
)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Workers and beat keep core.logging's redacting handler (config.celery_app) on the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Send what the outbox holds that is due: retries, and messages whose kick never reached a
    # worker (the broker was down at commit). Idempotent, safe in several workers at once.
    "outbox-dispatch": {
        "task": "outbox.tasks.outbox_dispatch",
        "schedule": RS_OUTBOX_DISPATCH_SECONDS,
        "options": {"expires": RS_OUTBOX_DISPATCH_SECONDS},  # the next run does the same
    },
    "outbox-prune": {"task": "outbox.tasks.messages_prune", "schedule": 3600.0},
    "webhook-deliveries-prune": {"task": "webhooks.tasks.deliveries_prune", "schedule": 3600.0},
    # Hash new log entries into tiles and sign a checkpoint: the merge delay is at most about
    # RS_LOG_INTEGRATE_SECONDS.
    "log-integrate": {
        "task": "transparency.tasks.log_integrate",
        "schedule": RS_LOG_INTEGRATE_SECONDS,
        "options": {"expires": 5},  # a backlog of stale runs is useless: the next one catches up
    },
    # Submit the newest checkpoint to the witnesses that have not cosigned it (each new
    # checkpoint also asks for a submission at once): retries witnesses that were down.
    "witnesses-submit": {
        "task": "transparency.tasks.witnesses_submit",
        "schedule": RS_WITNESS_SUBMIT_SECONDS,
        "options": {"expires": RS_WITNESS_SUBMIT_SECONDS},
    },
    # This CA's CRL is renewed once past half its life (RS_CRL_LIFETIME_HOURS / 2): checked every
    # 15 min, the CRL served keeps at least that half, less 15 min, before its nextUpdate.
    "crl-refresh": {"task": "ca.tasks.crl_refresh", "schedule": 900.0},
    # The CRLs of CAs under other trusted roots; a certificate they list loses its handlers.
    "external-crls-refresh": {
        "task": "ca.tasks.external_crls_refresh",
        "schedule": float(RS_EXTERNAL_CRL_REFRESH_SECONDS),
    },
    # Sign this service's range advertisement anew once RS_ADVERTISEMENT_RESIGN_SECONDS old,
    # or at once when the served ranges, the URL or the range certificate changed.
    "advertisement-renew": {
        "task": "federation.tasks.advertisement_renew",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    # Fetch and check each active peer's advertisement (federation.services.peers_fetch).
    "peers-fetch": {
        "task": "federation.tasks.peers_fetch",
        "schedule": float(RS_PEER_FETCH_SECONDS),
        "options": {"expires": float(RS_PEER_FETCH_SECONDS)},
    },
    # Lookups never show expired handlers; this removes them and logs their removal.
    "handlers-expire": {"task": "directory.tasks.handlers_expire", "schedule": 60.0},
    "handler-requests-prune": {"task": "directory.tasks.handler_requests_prune", "schedule": 600.0},
    # Lookups then skip reading each handler's level-0 tile (directory.models.Handler.tile_proof).
    "handler-tile-proofs-keep": {
        "task": "directory.tasks.handler_tile_proofs_keep",
        "schedule": 30.0,
    },
    # Forget verified PASSporTs once stale anyway (the replay cache, ca.services.passports).
    "passports-seen-prune": {"task": "ca.tasks.passports_seen_prune", "schedule": 600.0},
    # Issue the certificate requests a number lock held back, once their wait is over or no
    # lock holds any more (ca.services.locks); and forget the stale jtis of lock changes.
    "certificate-requests-settle": {
        "task": "ca.tasks.certificate_requests_settle",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "signed-requests-prune": {"task": "ca.tasks.signed_requests_prune", "schedule": 3600.0},
    # Invitations past RS_INVITATION_LIFETIME_DAYS close (invitations.services).
    "invitations-expire": {"task": "invitations.tasks.invitations_expire", "schedule": 3600.0},
    "idempotent-requests-prune": {
        "task": "providers.tasks.idempotent_requests_prune",
        "schedule": 3600.0,
    },
    "clear-expired-sessions": {
        "task": "core.tasks.sessions_clear_expired",
        "schedule": 3600.0,
    },
}

# --- Sessions and security defaults ---------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Logging --------------------------------------------------------------------------------

RS_LOG_FORMAT: str = env.str("RS_LOG_FORMAT", default="console")  # "console" or "json"
RS_LOG_LEVEL: str = env.str("RS_LOG_LEVEL", default="INFO")
LOGGING_CONFIG = None  # configured by core.logging.configure_logging below


# Seconds each probe of /healthz (the database, the broker) waits before it reports the
# dependency down: a load balancer's probe gets its answer within a few of these.
RS_HEALTH_PROBE_TIMEOUT_SECONDS: float = env.float("RS_HEALTH_PROBE_TIMEOUT_SECONDS", default=2.0)
# True when this process uses the embedded server (no DATABASE_URL); reported by /healthz.
RS_EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
# The tables' owner, which `manage.py migrate` (and `serve`) connect as; DATABASE_URL's role then
# owns nothing and gets only what `manage.py db_grant` grants (core.database_roles). Unset: one
# role does everything (the embedded server, development).
DATABASE_MIGRATE_URL: str = env.str("DATABASE_MIGRATE_URL", default="")
# A streaming replica of DATABASE_URL's database (core.read_replica): the public lookup and the
# log's reads take their rows from it while it is up and at most DATABASE_REPLICA_MAX_LAG
# seconds behind; everything else, and a provider's reads just after its writes, stay on the
# primary. Unset: no replica, every read on the primary.
DATABASE_REPLICA_URL: str = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_MAX_LAG: float = env.float("DATABASE_REPLICA_MAX_LAG", default=5.0)
# Seconds each process trusts its last look at the replica's lag (two small queries, one on
# each server); a replica that failed is left alone for RS_OUTAGE_RETRY_AFTER_SECONDS.
RS_DB_REPLICA_CHECK_SECONDS: float = env.float("RS_DB_REPLICA_CHECK_SECONDS", default=1.0)
DATABASE_ROUTERS = ["core.read_replica.ReadReplicaRouter"]


def database_from_environment() -> dict[str, Any]:
    """``DATABASE_URL`` when set, else the embedded PostgreSQL server under ``RS_DATA_DIR``."""
    if env.str("DATABASE_URL", default=""):
        config = env.db("DATABASE_URL")
    else:
        from core.embedded_postgres import embedded_database_url

        config = environ.Env.db_url_config(embedded_database_url(RS_DATA_DIR))
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise environ.ImproperlyConfigured("DATABASE_URL must point to PostgreSQL")
    return database_tuned(dict(config))


def database_replica(primary: dict[str, Any]) -> dict[str, Any]:
    """The ``replica`` alias: ``DATABASE_REPLICA_URL`` with the primary's connection settings
    and timeouts, or, unset, the primary's own settings (the router then never uses it).

    Read only either way (``default_transaction_read_only``). Tests never create a database
    for it: it mirrors ``default``'s test database.
    """
    from core.database_timeouts import options_joined

    if DATABASE_REPLICA_URL:
        config = environ.Env.db_url_config(DATABASE_REPLICA_URL)
        if config["ENGINE"] != "django.db.backends.postgresql":
            raise environ.ImproperlyConfigured("DATABASE_REPLICA_URL must point to PostgreSQL")
        config = database_tuned(dict(config))
    else:
        config = copy.deepcopy(primary)
    config["OPTIONS"] = dict(config["OPTIONS"])
    config["OPTIONS"]["options"] = options_joined(
        config["OPTIONS"].get("options", ""), "-c default_transaction_read_only=on"
    )
    config["TEST"] = {"MIRROR": "default"}
    return config


def database_tuned(config: dict[str, Any]) -> dict[str, Any]:
    """Connection settings every process uses, whatever database it points to."""
    from core.database_timeouts import connection_timeouts, options_joined

    # Django's PostgreSQL backend with an answer timeout (core.postgresql).
    config["ENGINE"] = "core.postgresql"
    config["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
    config["CONN_HEALTH_CHECKS"] = True
    options = config.setdefault("OPTIONS", {})
    timeouts = connection_timeouts(
        connect=RS_DB_CONNECT_TIMEOUT_SECONDS,
        keepalives_idle=RS_DB_KEEPALIVES_IDLE_SECONDS,
        keepalives_interval=RS_DB_KEEPALIVES_INTERVAL_SECONDS,
        keepalives_count=RS_DB_KEEPALIVES_COUNT,
        statement=RS_DB_STATEMENT_TIMEOUT_SECONDS,
        lock=RS_DB_LOCK_TIMEOUT_SECONDS,
        idle_in_transaction=RS_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
        answer=RS_DB_ANSWER_TIMEOUT_SECONDS,
    )
    # DATABASE_URL's own parameters (?connect_timeout=…, ?options=-c…) win over these.
    given = options.get("options", "")
    for key, value in timeouts.items():
        options.setdefault(key, value)
    options["options"] = options_joined(timeouts["options"], given)
    options["server_side_binding"] = DATABASE_SERVER_SIDE_BINDING
    if DATABASE_SERVER_SIDE_BINDING:
        options["prepare_threshold"] = 5  # psycopg prepares a statement on its 5th run
    return config
