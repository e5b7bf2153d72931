"""Sending SMS with Twilio's Messaging API through the official ``twilio`` library.

Configuration is read from the ``TWILIO_*`` settings (``config/settings/base.py``). The backend
authenticates with an API key when ``TWILIO_API_KEY_SID`` is set, else with the account's auth
token, and sends from the Messaging Service when one is set, else from ``TWILIO_FROM_NUMBER``.
``TWILIO_API_BASE_URL`` replaces ``https://api.twilio.com`` (an egress proxy, a local stand-in
in tests); the request paths stay Twilio's.

:func:`twilio_signature_valid` checks the ``X-Twilio-Signature`` of the delivery reports Twilio
posts to ``TWILIO_STATUS_CALLBACK_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from ca.sms import (
    SmsBackend,
    SmsError,
    SmsMessage,
    SmsPermanentError,
    SmsTemporaryError,
    number_masked,
)

logger = structlog.get_logger(__name__)

# Twilio answers 429 when we send faster than the account allows, 5xx when it is failing: both
# pass, so worth a retry. Any other error is about this message (bad number, unsubscribed, ...).
TOO_MANY_REQUESTS = 429
FIRST_SERVER_ERROR = 500

# twilio.rest.Client falls back to os.environ for credentials, edge and region. Settings are
# read in config/settings only, and an edge or region would rewrite TWILIO_API_BASE_URL's host,
# so the client is given an environment of its own (an empty one would count as none given).
CLIENT_ENVIRONMENT = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}


def _required(name: str) -> str:
    """The value of setting ``name``; ImproperlyConfigured naming it (not its value) if unset."""
    value: str = getattr(settings, name)
    if not value:
        raise ImproperlyConfigured(f"{name} is not set (needed by SMS_BACKEND=twilio).")
    return value


class TwilioBackend(SmsBackend):
    """Sends through Twilio; one HTTP client (and connection pool) per backend instance."""

    def __init__(self) -> None:
        account_sid = _required("TWILIO_ACCOUNT_SID")
        if settings.TWILIO_API_KEY_SID:
            username, password = settings.TWILIO_API_KEY_SID, _required("TWILIO_API_KEY_SECRET")
        elif settings.TWILIO_API_KEY_SECRET:
            raise ImproperlyConfigured(
                "TWILIO_API_KEY_SECRET is set but TWILIO_API_KEY_SID is not."
            )
        else:
            username, password = account_sid, _required("TWILIO_AUTH_TOKEN")

        # With a Messaging Service, Twilio picks the sender from its pool (and its opt-out and
        # geographic rules apply); a From number as well would pin one sender.
        self._options: dict[str, str] = {}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            self._options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        elif settings.TWILIO_FROM_NUMBER:
            self._options["from_"] = settings.TWILIO_FROM_NUMBER
        else:
            raise ImproperlyConfigured(
                "Neither TWILIO_MESSAGING_SERVICE_SID nor TWILIO_FROM_NUMBER is set "
                "(needed by SMS_BACKEND=twilio)."
            )
        if settings.TWILIO_STATUS_CALLBACK_URL:
            self._options["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL

        timeout = settings.TWILIO_TIMEOUT_SECONDS
        if timeout <= 0:
            raise ImproperlyConfigured("TWILIO_TIMEOUT_SECONDS must be more than 0.")
        self._client = Client(
            username,
            password,
            account_sid,
            http_client=TwilioHttpClient(timeout=timeout),
            environment=CLIENT_ENVIRONMENT,
        )
        if base_url := settings.TWILIO_API_BASE_URL:
            parts = urlsplit(base_url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                # Not echoed: a proxy URL may carry credentials.
                raise ImproperlyConfigured("TWILIO_API_BASE_URL must be an http(s) URL.")
            # Messages are on the library's "api" domain, which builds every URL as its base_url
            # (https://api.twilio.com) + the versioned path: replacing it keeps Twilio's paths.
            self._client.api.base_url = base_url

    def send(self, message: SmsMessage) -> str:
        """Create the message at Twilio; return its SID (``SM`` and 32 hex digits)."""
        try:
            created = self._client.messages.create(
                to=message.to, body=message.body, **self._options
            )
        except (TwilioRestException, TwilioServiceException) as error:
            # Not chained: Twilio's error text can quote the number; status and code are kept.
            raise self._refused(message, status=error.status, code=error.code) from None
        except requests.Timeout as error:
            raise self._unreachable(message, reason="timeout", error=error) from error
        except (requests.ConnectionError, TwilioException) as error:
            raise self._unreachable(message, reason="connection", error=error) from error
        sid = str(created.sid or "")
        logger.info(
            "sms sent",
            message_sid=sid,
            reference=message.reference,
            to=number_masked(message.to),
        )
        return sid

    def _refused(self, message: SmsMessage, *, status: int, code: int | None) -> SmsError:
        """The error for an error answer from Twilio: temporary if busy or failing."""
        error_code = str(code or status)
        temporary = status == TOO_MANY_REQUESTS or status >= FIRST_SERVER_ERROR
        logger.warning(
            "sms not sent: twilio answered an error",
            reference=message.reference,
            to=number_masked(message.to),
            status=status,
            error_code=error_code,
            retryable=temporary,
        )
        # Twilio's own text is left out: it can quote the number.
        text = f"Twilio answered HTTP {status}, error {error_code}"
        if temporary:
            return SmsTemporaryError(error_code, text)
        return SmsPermanentError(error_code, text)

    def _unreachable(self, message: SmsMessage, *, reason: str, error: Exception) -> SmsError:
        """The error for a request that got no answer from Twilio: always worth a retry."""
        logger.warning(
            "sms not sent: twilio unreachable",
            reference=message.reference,
            to=number_masked(message.to),
            error_code=reason,
            error=type(error).__name__,
        )
        return SmsTemporaryError(reason, f"Twilio unreachable ({reason}: {type(error).__name__})")


def twilio_signature_valid(*, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) signs this request to ``url``.

    ``url`` is the full URL Twilio requested, query included; ``params`` the POST fields (a
    Django QueryDict keeps repeated fields). False when no auth token is configured.
    """
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))
