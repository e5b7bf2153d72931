"""The webhooks app's domain errors, each a problem type documented at /problems/<slug>."""

from __future__ import annotations

from core.problems import Problem


class WebhookUrlRefused(Problem):
    slug = "webhook-url-refused"
    title = "Webhooks are not sent to this URL"
    status_code = 400


class WebhookLimitReached(Problem):
    slug = "webhook-limit-reached"
    title = "The provider has as many webhook endpoints as it may"
    status_code = 409
