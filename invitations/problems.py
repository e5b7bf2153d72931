"""The invitations' domain errors, each a problem type documented at /problems/<slug>.

A number that opted out and a number that holds a certificate are refused with the same
problem (:class:`NumberNotInvitable`), word for word: the answer must not tell which.
"""

from __future__ import annotations

from core.problems import Problem


class NumberNotInvitable(Problem):
    slug = "number-not-invitable"
    title = "This number cannot be invited"
    status_code = 403


class InviterNotHolder(Problem):
    slug = "inviter-not-holder"
    title = "Only the holder of a valid number certificate may invite"
    status_code = 403


class InvitationRateLimited(Problem):
    slug = "invitation-rate-limited"
    title = "Too many invitations"
    status_code = 429

    def __init__(self, detail: str, *, scope: str, retry_after: int) -> None:
        super().__init__(detail, scope=scope, retry_after=retry_after)


class InvitationNotFound(Problem):
    slug = "invitation-not-found"
    title = "No such invitation"
    status_code = 404
