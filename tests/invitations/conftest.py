"""Fixtures of the invitations tests: the service's invitation key, a local HTTPS receiver for
webhooks, and apps with an endpoint on it."""

from typing import Any

import pytest

from tests.webhooks.flow import webhook_app
from tests.webhooks.receiver import Receiver, receiver  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def invitation_key_ready(log_keys_ready: Any) -> None:
    """The invitation key exists (``manage.py bootstrap`` creates it at first start)."""
    from invitations.keys import invitation_key_bootstrap

    invitation_key_bootstrap()


@pytest.fixture
def app(client_for: Any, receiver: Receiver) -> Any:  # noqa: F811
    return lambda name: webhook_app(client_for, receiver, name)
