"""Invitation tasks: thin, each calls one service. An invitation's SMS is no task of its own:
it is an outbox message (invitations.delivery defines its sender)."""

from __future__ import annotations

from core.tasks import periodic_task
from invitations import services


@periodic_task(name="invitations.tasks.invitations_expire")
def invitations_expire() -> int:
    """Close the invitations past their 30 days (beat: hourly)."""
    return services.invitations_expire()
