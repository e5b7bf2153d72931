"""Enumerations of the providers app: what an API key may do."""

from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    """An API key's scope, set when the key is created and never changed.

    Each scope includes those below it: ``admin`` ⊃ ``directory`` ⊃ ``lookup``. A key for a
    CI job or an app's lookup backend need not be able to revoke its owner's keys.
    """

    LOOKUP = "lookup", "lookup: look up numbers and labels, verify PASSporTs"
    DIRECTORY = "directory", "directory: also verify numbers, hold certificates, publish handlers"
    ADMIN = "admin", "admin: also manage the provider's API keys"

    def includes(self, other: Scope) -> bool:
        """Whether a key of this scope may do what ``other`` allows."""
        return _RANK[self] >= _RANK[other]


_RANK = {Scope.LOOKUP: 0, Scope.DIRECTORY: 1, Scope.ADMIN: 2}
