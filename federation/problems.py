"""Federation's errors (core.problems)."""

from __future__ import annotations

from core.problems import Problem


class AdvertisementNotFound(Problem):
    """No range advertisement: this service serves every number, or has not signed one yet."""

    slug = "advertisement-not-found"
    title = "This service has no range advertisement"
    status_code = 404


class MapNotFound(Problem):
    """No map: this service serves every number (it has no peers to map), or has not signed
    its advertisement yet."""

    slug = "map-not-found"
    title = "This service has no map of resolution services"
    status_code = 404
