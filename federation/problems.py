"""Federation's errors (core.problems)."""

from __future__ import annotations

from core.problems import Problem


class AdvertisementNotFound(Problem):
    """No range advertisement: this service serves every number, or has not signed one yet."""

    slug = "advertisement-not-found"
    title = "This service has no range advertisement"
    status_code = 404
