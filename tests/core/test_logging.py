"""Logs carry structure but never secrets or phone numbers."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from core.logging import RedactingFilter, mask_text, redact


def test_numbers_and_keys_are_masked_in_text():
    text = mask_text("lookup +15551234567 by Bearer rs_abcdefghijklmnopqrstuvwxyz0123")
    assert "5551234" not in text and "abcdefghijklmnop" not in text
    assert text == "lookup [number] by Bearer [redacted]"


@pytest.mark.parametrize(
    "text",
    [
        "+33612345678",
        "%2B33612345678",
        "%2b33612345678",
        "33612345678",
        "+33 6 12 34 56 78",
        "+33-6-12-34-56-78",
        "+33.6.12.34.56.78",
        "+1 (555) 123-4567",
        "%2B33%206%2012%2034%2056%2078",
        "+33+6+12+34+56+78",
        "+2901234",  # the shortest plans: a country code and 4 digits
        "123456789012345",
    ],
)
def test_every_spelling_of_a_number_is_masked(text):
    for framed in (text, f"/v1/numbers/{text}", f"?number={text}&x=1", f"to={text}, then"):
        masked = mask_text(framed)
        assert masked == framed.replace(text, "[number]"), masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-04T18:18:06.123456+00:00",  # ISO 8601 times, as our lines carry them
        "[04/Dec/2026:18:18:06 +0000]",  # gunicorn's
        "index 1234567 of 9999999 entries",  # log indices below 10,000,000
        "took 0.012345678 s",
        "challenge 12345678-1234-4234-8234-123456789012",  # a UUID whose groups are digits
        "celery@vm ready, pid 4321",
        "SM10b2e886ab47280992829d9c35e551f7",  # digits inside a word
        "+1 day, +12345 entries",  # a plus with too few digits
    ],
)
def test_what_is_not_a_number_stays_readable(text):
    assert mask_text(text) == text


def test_long_bare_digit_runs_are_masked_whatever_they_mean():
    # The documented cost of catching bare numbers: Unix times and counts of 10^7 and more.
    assert mask_text("at 1733337486, 10000000 bytes") == "at [number], [number] bytes"


def test_redact_masks_values_of_every_type():
    event = redact(
        None,
        "info",
        {
            "event": "lookup",
            "number": 33612345678,
            "index": 1234567,
            "ok": True,
            "took": 0.5,
            "args": ("+33612345678",),
            "code": "123456",
        },
    )
    assert event == {
        "event": "lookup",
        "number": "[number]",
        "index": 1234567,
        "ok": True,
        "took": 0.5,
        "args": "('[number]',)",
        "code": "[redacted]",
    }


def test_the_redacting_filter_masks_message_arguments_and_traceback():
    logger = logging.getLogger("tests.redacting")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad number +33 6 12 34 56 78")
        except ValueError:
            logger.exception(
                "Error handling request %s", "/v1/numbers/%2B33612345678?n=33612345678"
            )
    finally:
        logger.removeHandler(handler)
    printed = stream.getvalue()
    assert printed.startswith("Error handling request /v1/numbers/[number]?n=[number]\n")
    assert "ValueError: bad number [number]" in printed
    assert "612345678" not in printed and "12 34 56 78" not in printed


def test_json_logs_redact_secret_fields_and_numbers(json_logs):
    structlog.get_logger("t").info(
        "sms sent to +447700900123", code="123456", number="+33612345678"
    )
    logging.getLogger("django.request").error("Not Found: /v1/numbers/+15551234567")
    lines = [json.loads(line) for line in json_logs().splitlines()]
    assert lines[0]["code"] == "[redacted]"
    dumped = json.dumps(lines)
    for secret in ("123456", "7700900", "612345", "5551234"):
        assert secret not in dumped
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]


@pytest.mark.django_db
def test_request_log_names_the_route_not_the_path(api_client, json_logs):
    api_client.get("/v1/keys/rs_12345678/revoke")
    records = [json.loads(line) for line in json_logs().splitlines()]
    request_line = next(r for r in records if r["event"] == "request")
    assert request_line["route"] == "v1/keys/<key_prefix:prefix>/revoke"
    assert request_line["method"] == "GET" and request_line["status"] == 405
    assert "provider" in request_line
