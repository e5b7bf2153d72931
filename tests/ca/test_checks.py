"""Checks of the CA's settings: `manage.py check` says when a combination cannot work."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from ca.checks import outbox_lease_check


@pytest.mark.parametrize("backend", ["twilio", "ca.sms.twilio.TwilioBackend"])
def test_a_lease_shorter_than_twilios_timeout_is_reported(settings: Any, backend: str) -> None:
    settings.SMS_BACKEND = backend
    settings.TWILIO_TIMEOUT_SECONDS = 10.0
    settings.RS_OUTBOX_LEASE_SECONDS = 10.0
    (warning,) = outbox_lease_check()
    assert warning.id == "rs.W002"
    assert "sent twice" in warning.msg

    settings.RS_OUTBOX_LEASE_SECONDS = 20.0
    assert outbox_lease_check() == []


def test_other_backends_have_no_such_timeout(settings: Any) -> None:
    settings.SMS_BACKEND = "console"
    settings.RS_OUTBOX_LEASE_SECONDS = 1.0
    assert outbox_lease_check() == []


def test_manage_py_check_runs_it(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings.SMS_BACKEND = "twilio"
    settings.RS_OUTBOX_LEASE_SECONDS = 5.0
    call_command("check")
    assert "rs.W002" in capsys.readouterr().err
