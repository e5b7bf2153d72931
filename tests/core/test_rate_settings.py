"""A malformed rate setting stops the process as it starts, naming the setting, instead of
answering 500 to the first request that needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings

from core.checks import rates_validate
from tests.subprocesses import child_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_configured_rates_parse():
    rates_validate()


def test_a_malformed_key_creation_rate_is_refused(settings: Any):
    settings.RS_API_KEY_CREATE_RATE = "ten an hour"
    with pytest.raises(ImproperlyConfigured, match="RS_API_KEY_CREATE_RATE"):
        rates_validate()


def test_a_malformed_throttle_rate_is_refused(settings: Any):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "lookup_distinct": "0/hour"}
    # DRF reloads its settings when the fixture changes them, and again when it restores them.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert str(api_settings.DEFAULT_THROTTLE_RATES["lookup_distinct"]) == "0/hour"
    with pytest.raises(ImproperlyConfigured, match="RS_THROTTLE_LOOKUP_DISTINCT"):
        rates_validate()


@pytest.mark.process
def test_a_process_with_a_malformed_rate_does_not_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=child_env() | {"RS_THROTTLE_LOOKUP": "300 a minute"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "RS_THROTTLE_LOOKUP" in result.stderr
