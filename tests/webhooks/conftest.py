"""Fixtures of the webhooks tests: a local HTTPS receiver the service may reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webhooks.receiver import LOOPBACK, Receiver, receiver_running


@pytest.fixture
def receiver(tmp_path: Path, settings: Any) -> Iterator[Receiver]:
    """A receiver on loopback, which the operator's settings let the service reach and trust."""
    with receiver_running(tmp_path) as running:
        settings.RS_FETCH_PERMITTED_NETWORKS = LOOPBACK
        settings.RS_FETCH_CA_FILE = str(running.pki.ca_file)
        yield running
