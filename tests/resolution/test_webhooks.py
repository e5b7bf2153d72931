"""Standard Webhooks signatures (resolution.protocol.webhooks) and their verification by a
receiver (resolution.client.webhooks), against the example the specification's reference
libraries all sign, and against every way a delivery can be wrong."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.client.webhooks import (
    TOLERANCE_SECONDS,
    WebhookMalformedError,
    WebhookSignatureError,
    webhook_signature_verify,
    webhook_verify,
)
from resolution.protocol.webhooks import (
    SecretError,
    secret_format,
    secret_generate,
    secret_parse,
    signature,
)

# The example signed by the Standard Webhooks reference libraries' tests (and Svix's docs).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = secret_generate()
NOW = 1_700_000_000
BODY = json.dumps(
    {"type": "handler.changed", "timestamp": "2023-11-14T22:13:20Z", "data": {"action": "removed"}}
).encode()


def headers_for(body: bytes = BODY, *, secret: str = SECRET, at: int = NOW, **extra: str):
    key = secret_parse(secret)
    return {
        "webhook-id": "msg_test1",
        "webhook-timestamp": str(at),
        "webhook-signature": signature(key, msg_id="msg_test1", timestamp=at, body=body),
        **extra,
    }


def test_the_specification_example_is_signed_as_its_libraries_sign_it():
    key = secret_parse(SPEC_SECRET)

    assert signature(key, msg_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY) == (
        SPEC_SIGNATURE
    )


def test_the_specification_example_verifies():
    headers = {
        "Webhook-Id": SPEC_ID,
        "Webhook-Timestamp": str(SPEC_TIMESTAMP),
        "Webhook-Signature": SPEC_SIGNATURE,
    }

    signed = webhook_signature_verify(SPEC_BODY, headers, SPEC_SECRET, now=SPEC_TIMESTAMP)

    assert (signed.id, signed.attempted_at) == (SPEC_ID, SPEC_TIMESTAMP)


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    first, second = secret_generate(), secret_generate()

    assert first.startswith("whsec_") and first != second
    assert len(secret_parse(first)) == 32
    assert secret_format(secret_parse(first)) == first


@pytest.mark.parametrize(
    "text",
    [
        "",
        "whsec_",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x" * 16).decode(),  # shorter than 24 bytes
        "whsec_" + base64.b64encode(b"x" * 65).decode(),  # longer than 64 bytes
        "whsk_" + base64.b64encode(b"x" * 32).decode(),  # an asymmetric key's prefix
    ],
)
def test_a_secret_that_is_not_one_is_refused(text):
    with pytest.raises(SecretError):
        secret_parse(text)


def test_a_secret_without_its_prefix_is_accepted_as_the_reference_libraries_accept_it():
    assert secret_parse(SPEC_SECRET.removeprefix("whsec_")) == secret_parse(SPEC_SECRET)


def test_a_delivery_verifies_and_gives_its_event():
    event = webhook_verify(BODY, headers_for(), SECRET, now=NOW)

    assert (event.id, event.type, event.timestamp) == (
        "msg_test1",
        "handler.changed",
        "2023-11-14T22:13:20Z",
    )
    assert event.data == {"action": "removed"} and event.attempted_at == NOW


def test_one_matching_signature_among_several_is_enough():
    headers = headers_for()
    other = signature(secrets.token_bytes(32), msg_id="msg_test1", timestamp=NOW, body=BODY)
    headers["webhook-signature"] = (
        f"v1a,c29tZXRoaW5n {other} garbage {headers['webhook-signature']}"
    )

    assert webhook_verify(BODY, headers, SECRET, now=NOW).id == "msg_test1"


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": "v1a," + base64.b64encode(b"x" * 64).decode()},
        {"webhook-signature": "v2,abc"},
        {"webhook-id": "msg_other"},  # the id is signed
        {"webhook-timestamp": str(NOW + 1)},  # the timestamp too
    ],
)
def test_a_signature_that_does_not_match_is_refused(change):
    headers = headers_for() | change

    with pytest.raises(WebhookSignatureError):
        webhook_verify(BODY, headers, SECRET, now=NOW)


def test_a_changed_body_or_another_secret_is_refused():
    with pytest.raises(WebhookSignatureError):
        webhook_verify(BODY + b" ", headers_for(), SECRET, now=NOW)
    with pytest.raises(WebhookSignatureError):
        webhook_verify(BODY, headers_for(), secret_generate(), now=NOW)


@pytest.mark.parametrize("skew", [TOLERANCE_SECONDS + 1, -TOLERANCE_SECONDS - 1])
def test_a_delivery_outside_the_tolerance_is_refused_however_well_signed(skew):
    headers = headers_for(at=NOW + skew)

    with pytest.raises(WebhookSignatureError, match="timestamp"):
        webhook_verify(BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("skew", [TOLERANCE_SECONDS, -TOLERANCE_SECONDS])
def test_a_delivery_at_the_edge_of_the_tolerance_verifies(skew):
    assert webhook_verify(BODY, headers_for(at=NOW + skew), SECRET, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_delivery_without_a_header_is_malformed(missing):
    headers = headers_for()
    del headers[missing]

    with pytest.raises(WebhookMalformedError, match=missing):
        webhook_verify(BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize("timestamp", ["", "1e9", "-5", "17000000000000000000000", "12.5"])
def test_a_timestamp_that_is_not_unix_seconds_is_malformed(timestamp):
    headers = headers_for() | {"webhook-timestamp": timestamp}

    with pytest.raises(WebhookMalformedError):
        webhook_verify(BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"type": "x"}', b'{"type": 1, "timestamp": "t", "data": {}}'],
)
def test_a_well_signed_body_that_is_not_an_event_is_malformed(body):
    with pytest.raises(WebhookMalformedError):
        webhook_verify(body, headers_for(body), SECRET, now=NOW)


@given(body=st.binary(max_size=200), msg_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True))
def test_whatever_is_signed_verifies_and_any_flipped_bit_does_not(body, msg_id):
    key = secret_parse(SECRET)
    signed = signature(key, msg_id=msg_id, timestamp=NOW, body=body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(NOW), "webhook-signature": signed}

    assert webhook_signature_verify(body, headers, SECRET, now=NOW).id == msg_id
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(WebhookSignatureError):
            webhook_signature_verify(flipped, headers, SECRET, now=NOW)
