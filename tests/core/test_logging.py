"""Logs carry structure but never secrets or phone numbers."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from core.logging import configure_logging, mask_text


def test_numbers_and_keys_are_masked_in_text():
    text = mask_text("lookup +15551234567 by Bearer rs_abcdefghijklmnopqrstuvwxyz0123")
    assert "5551234" not in text and "abcdefghijklmnop" not in text
    assert text.endswith("[redacted]") and "…67]" in text


def test_json_logs_redact_secret_fields_and_numbers(capsys):
    configure_logging(fmt="json", level="INFO")
    try:
        structlog.get_logger("t").info(
            "sms sent to +447700900123", code="123456", number="+33612345678"
        )
        logging.getLogger("django.request").error("Not Found: /v1/numbers/+15551234567")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        configure_logging(fmt="console", level="WARNING")
    assert lines[0]["code"] == "[redacted]"
    dumped = json.dumps(lines)
    for secret in ("123456", "7700900", "612345", "5551234"):
        assert secret not in dumped
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]


@pytest.mark.django_db
def test_request_log_names_the_route_not_the_path(api_client, capsys):
    configure_logging(fmt="json", level="INFO")
    try:
        api_client.get("/v1/keys/rs_12345678/revoke")
        records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        configure_logging(fmt="console", level="WARNING")
    request_line = next(r for r in records if r["event"] == "request")
    assert request_line["route"] == "v1/keys/<str:prefix>/revoke"
    assert request_line["method"] == "GET" and request_line["status"] == 405
    assert "provider" in request_line
