"""factory_boy factories for the project's models."""

from __future__ import annotations

from typing import Any

import factory

from providers.models import Provider


class ProviderFactory(factory.django.DjangoModelFactory[Provider]):  # type: ignore[misc]
    class Meta:
        model = Provider

    slug: Any = factory.Sequence(lambda n: f"provider-{n}")
    name: Any = factory.Sequence(lambda n: f"Provider {n}")
