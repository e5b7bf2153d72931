"""Fixtures of the webhooks tests: a local HTTPS receiver the service may reach, and apps with
an endpoint on it."""

from typing import Any

import pytest

from tests.webhooks.flow import webhook_app
from tests.webhooks.receiver import Receiver, receiver  # noqa: F401


@pytest.fixture
def app(client_for: Any, receiver: Receiver) -> Any:  # noqa: F811
    return lambda name: webhook_app(client_for, receiver, name)
