"""The providers app's domain errors, each a problem type documented at /problems/<slug>."""

from __future__ import annotations

from core.problems import Problem


class ScopeInsufficient(Problem):
    slug = "scope-insufficient"
    title = "The API key's scope does not allow this"
    status_code = 403

    def __init__(self, detail: str, *, required_scope: str) -> None:
        super().__init__(detail, required_scope=required_scope)


class ApiKeyLimitReached(Problem):
    slug = "api-key-limit-reached"
    title = "The provider has as many API keys as it may"
    status_code = 409


class ApiKeyRateLimited(Problem):
    slug = "api-key-rate-limited"
    title = "Too many API keys created"
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
