"""Fixtures of the CA's tests."""

from __future__ import annotations

from typing import Any

import pytest

from providers.services import api_key_create
from tests.factories import ProviderFactory


@pytest.fixture
def app(client_for: Any) -> Any:
    """``app()``: a new provider's API client (its provider as ``.provider``)."""

    def make() -> Any:
        provider = ProviderFactory()
        client = client_for(api_key_create(provider=provider, label="app").secret)
        client.provider = provider
        return client

    return make
