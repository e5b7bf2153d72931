"""SMS backends: what reaches Twilio (a local stand-in), how its errors map, and the dev backends.

No test reaches the internet: TWILIO_API_BASE_URL points at the stand-in, or at a closed local
port when a test is not meant to send at all.
"""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from twilio.request_validator import RequestValidator

from ca.sms import (
    SmsMessage,
    SmsPermanentError,
    SmsTemporaryError,
    locmem,
    number_masked,
    sms_backend,
)
from ca.sms.console import ConsoleBackend
from ca.sms.locmem import LocmemBackend
from ca.sms.twilio import TwilioBackend, twilio_signature_valid
from tests.ca.twilio_api import HANG, TwilioApi, twilio_api, twilio_error

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-0123456789abcdef0123"
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "api-key-secret-0123456789abcdef"
FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG" + "0011223344556677" * 2
STATUS_CALLBACK_URL = "https://rs.example/v1/twilio/status"
CODE = "493817"
MESSAGE = SmsMessage(
    to="+447700900123",
    body=f"Resolution Service code for Acme: {CODE}\n\n@rs.example #{CODE}",
    reference="ch_0001",
)


def closed_port_url() -> str:
    """An http URL on a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def offline(settings):
    """Nothing sent by mistake can leave the machine; the locmem lists start empty."""
    settings.TWILIO_API_BASE_URL = closed_port_url()
    locmem.outbox.clear()
    locmem.failures.clear()
    yield
    locmem.outbox.clear()
    locmem.failures.clear()


@pytest.fixture
def api(settings) -> Iterator[TwilioApi]:
    """The Twilio stand-in, with settings for an account sending from a number."""
    with twilio_api() as stand_in:
        settings.TWILIO_API_BASE_URL = stand_in.base_url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_API_KEY_SID = ""
        settings.TWILIO_API_KEY_SECRET = ""
        settings.TWILIO_FROM_NUMBER = FROM_NUMBER
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_STATUS_CALLBACK_URL = STATUS_CALLBACK_URL
        settings.TWILIO_TIMEOUT_SECONDS = 5.0
        yield stand_in


# --- Twilio: what is sent ------------------------------------------------------------------------


def test_twilio_posts_the_message_from_the_number(api):
    sid = TwilioBackend().send(MESSAGE)

    [request] = api.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": MESSAGE.to,
        "From": FROM_NUMBER,
        "Body": MESSAGE.body,
        "StatusCallback": STATUS_CALLBACK_URL,
    }
    assert request.auth_user == ACCOUNT_SID
    assert sid.startswith("SM") and len(sid) == 34


def test_twilio_prefers_the_messaging_service_to_the_number(api, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID

    TwilioBackend().send(MESSAGE)

    [request] = api.requests
    assert request.form["MessagingServiceSid"] == MESSAGING_SERVICE_SID
    assert "From" not in request.form


def test_twilio_authenticates_with_the_api_key_when_set(api, settings):
    settings.TWILIO_API_KEY_SID = API_KEY_SID
    settings.TWILIO_API_KEY_SECRET = API_KEY_SECRET

    TwilioBackend().send(MESSAGE)

    [request] = api.requests
    assert request.auth_user == API_KEY_SID
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_twilio_keeps_the_path_of_the_base_url(api, settings):
    settings.TWILIO_API_BASE_URL = f"{api.base_url}/egress/twilio/"

    TwilioBackend().send(MESSAGE)

    assert api.requests[0].path == f"/egress/twilio/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_twilio_logs_neither_the_code_nor_the_number(api, caplog):
    backend = TwilioBackend()

    # The twilio library's own request logs included.
    with caplog.at_level(logging.INFO):
        sid = backend.send(MESSAGE)
        api.responses.append(twilio_error(400, 21211, f"The 'To' number {MESSAGE.to} is invalid."))
        with pytest.raises(SmsPermanentError) as refused:
            backend.send(MESSAGE)

    assert sid in caplog.text and MESSAGE.reference in caplog.text
    for secret in (CODE, MESSAGE.to, MESSAGE.to[1:]):
        assert secret not in caplog.text
        assert secret not in str(refused.value) and secret not in repr(refused.value)
    assert refused.value.__cause__ is None


# --- Twilio: errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (twilio_error(500, 20500, "Internal Server Error"), "20500"),
        ((503, {"message": "Service Unavailable", "status": 503}), "503"),
        (twilio_error(429, 20429, "Too Many Requests"), "20429"),
    ],
)
def test_twilio_busy_or_failing_is_temporary(api, response, code):
    api.responses.append(response)

    with pytest.raises(SmsTemporaryError) as error:
        TwilioBackend().send(MESSAGE)

    assert error.value.code == code


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (21211, "The 'To' number +447700900123 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
        (21408, "Permission to send an SMS has not been enabled for the region indicated by the"),
    ],
)
def test_twilio_refusal_is_permanent(api, code, text):
    api.responses.append(twilio_error(400, code, text))

    with pytest.raises(SmsPermanentError) as error:
        TwilioBackend().send(MESSAGE)

    assert error.value.code == str(code)
    assert CODE not in str(error.value)


def test_twilio_not_answering_in_time_is_temporary(api, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.5
    api.responses.append(HANG)

    started = time.monotonic()
    with pytest.raises(SmsTemporaryError) as error:
        TwilioBackend().send(MESSAGE)

    assert error.value.code == "timeout"
    assert time.monotonic() - started < 3
    assert len(api.requests) == 1  # not retried behind our back: the task owns retries


def test_twilio_unreachable_is_temporary(api, settings):
    settings.TWILIO_API_BASE_URL = closed_port_url()

    with pytest.raises(SmsTemporaryError) as error:
        TwilioBackend().send(MESSAGE)

    assert error.value.code == "connection"


@pytest.mark.parametrize("name", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"])
def test_twilio_missing_configuration_is_named(api, settings, name):
    setattr(settings, name, "")

    with pytest.raises(ImproperlyConfigured, match=name) as error:
        TwilioBackend()

    assert AUTH_TOKEN not in str(error.value)
    assert api.requests == []


def test_twilio_api_key_without_its_secret_is_refused(api, settings):
    settings.TWILIO_API_KEY_SID = API_KEY_SID

    with pytest.raises(ImproperlyConfigured, match="TWILIO_API_KEY_SECRET") as error:
        TwilioBackend()

    assert AUTH_TOKEN not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TWILIO_TIMEOUT_SECONDS", 0),
        ("TWILIO_API_BASE_URL", "api.twilio.com"),
        ("TWILIO_API_BASE_URL", "ftp://user:secret@proxy.internal"),
    ],
)
def test_twilio_bad_setting_is_named_not_echoed(api, settings, name, value):
    setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured, match=name) as error:
        TwilioBackend()

    assert "secret" not in str(error.value)


# --- Twilio: signatures of delivery reports ------------------------------------------------------

CALLBACK_PARAMS = {"MessageSid": "SM" + "ab" * 16, "MessageStatus": "delivered", "To": MESSAGE.to}


def test_twilio_signature_valid(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    signature = RequestValidator(AUTH_TOKEN).compute_signature(STATUS_CALLBACK_URL, CALLBACK_PARAMS)

    assert twilio_signature_valid(
        url=STATUS_CALLBACK_URL, params=CALLBACK_PARAMS, signature=signature
    )
    assert not twilio_signature_valid(
        url=STATUS_CALLBACK_URL, params=CALLBACK_PARAMS, signature=signature[:-2] + "xx"
    )
    assert not twilio_signature_valid(
        url=STATUS_CALLBACK_URL + "?forged=1", params=CALLBACK_PARAMS, signature=signature
    )
    assert not twilio_signature_valid(
        url=STATUS_CALLBACK_URL,
        params={**CALLBACK_PARAMS, "MessageStatus": "failed"},
        signature=signature,
    )
    assert not twilio_signature_valid(url=STATUS_CALLBACK_URL, params=CALLBACK_PARAMS, signature="")


def test_twilio_signature_invalid_without_a_token(settings):
    # Signed with an empty token: an unconfigured service must not accept it.
    settings.TWILIO_AUTH_TOKEN = ""
    signature = RequestValidator("").compute_signature(STATUS_CALLBACK_URL, CALLBACK_PARAMS)

    assert not twilio_signature_valid(
        url=STATUS_CALLBACK_URL, params=CALLBACK_PARAMS, signature=signature
    )


# --- Console and locmem --------------------------------------------------------------------------


def test_console_prints_the_message(capsys):
    message_id = ConsoleBackend().send(MESSAGE)

    printed = capsys.readouterr().out
    assert MESSAGE.to in printed and MESSAGE.body in printed and "-" * 20 in printed
    assert message_id.startswith("console-") and message_id in printed


def test_console_writes_to_the_stream_given():
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send(MESSAGE)

    assert MESSAGE.body in stream.getvalue()


def test_locmem_keeps_messages_in_the_outbox():
    backend = LocmemBackend()

    first, second = backend.send(MESSAGE), backend.send(MESSAGE)

    assert locmem.outbox == [MESSAGE, MESSAGE]
    assert first.startswith("locmem-") and first != second


def test_locmem_raises_queued_failures_first():
    backend = LocmemBackend()
    locmem.failures.extend([SmsTemporaryError("timeout"), SmsPermanentError("21610")])

    with pytest.raises(SmsTemporaryError):
        backend.send(MESSAGE)
    with pytest.raises(SmsPermanentError, match="21610"):
        backend.send(MESSAGE)
    backend.send(MESSAGE)

    assert locmem.outbox == [MESSAGE]
    assert locmem.failures == []


# --- Choosing a backend --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("console", ConsoleBackend),
        ("locmem", LocmemBackend),
        ("twilio", TwilioBackend),
        ("ca.sms.locmem.LocmemBackend", LocmemBackend),
    ],
)
def test_sms_backend_resolves_aliases_and_paths(api, settings, name, kind):
    settings.SMS_BACKEND = name

    assert type(sms_backend()) is kind


@pytest.mark.parametrize(
    "name", ["smtp", "", "ca.sms.nowhere.Backend", "ca.sms.locmem.Missing", "ca.sms.SmsMessage"]
)
def test_sms_backend_rejects_anything_else(settings, name):
    settings.SMS_BACKEND = name

    with pytest.raises(ImproperlyConfigured):
        sms_backend()


# --- Messages ------------------------------------------------------------------------------------


def test_message_repr_hides_the_body_and_the_number():
    shown = repr(MESSAGE)

    assert CODE not in shown and "Acme" not in shown
    assert "447700900123" not in shown and "+**********23" in shown
    assert MESSAGE.reference in shown
    assert str(MESSAGE) == shown


def test_number_masked_keeps_the_last_two_digits():
    assert number_masked("+447700900123") == "+**********23"
    assert number_masked("+1") == "+1"
