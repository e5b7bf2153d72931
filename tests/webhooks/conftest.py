"""Fixtures of the webhooks tests: a local HTTPS receiver the service may reach."""

from tests.webhooks.receiver import receiver  # noqa: F401
