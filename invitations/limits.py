"""The limits on invitations (DESIGN §7.5), counted in the database so that every process
enforces them, under transaction-scoped advisory locks as ``ca.limits`` counts challenges.

An invitation counts against its own limits (the inviter and the invited number together; the
invited number from all inviters; the inviter's number; the provider's invitations) and against
the SMS budgets it shares with challenges: the provider's and the destination country's
(``RS_CHALLENGE_LIMIT_PROVIDER``, ``RS_CHALLENGE_LIMIT_COUNTRY``, the brake on SMS pumping),
which count challenges and invitations together (``ca.limits.shared_budget_register``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q

from ca.limits import (
    ChallengeRateLimited,
    Limit,
    LimitedKey,
    limits_enforce,
    limits_parse,
)
from core import locks
from invitations.choices import Refusal
from invitations.models import Invitation
from invitations.problems import InvitationRateLimited
from providers.models import Provider

# What each refusal says, by scope.
_SAID: dict[Refusal, str] = {
    Refusal.PAIR: "invitations from this number to this number",
    Refusal.TARGET: "invitations to this number from all inviters",
    Refusal.INVITER: "invitations from this number",
    Refusal.PROVIDER_INVITATIONS: "invitations by this provider",
    Refusal.PROVIDER: "SMS (challenges and invitations) by this provider",
    Refusal.COUNTRY_BUDGET: "SMS (challenges and invitations) to this country",
}


@dataclass(frozen=True)
class InvitationLimit:
    """One thing limited: ``match`` selects the invitations counted under ``value``."""

    scope: Refusal
    value: str
    match: Q
    limits: list[Limit]


def invitation_sent_times(scope: str, value: str, since: datetime, most: int) -> list[datetime]:
    """The times of the ``most`` newest invitations after ``since`` under one of the shared
    keys of ``ca.limits`` (registered by ``invitations.apps``)."""
    match = Q(provider_id=int(value)) if scope == "provider" else Q(calling_code=int(value))
    return list(
        Invitation.objects.filter(match, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:most]
    )


def _own_limits(*, provider: Provider, inviter: str, number: str) -> list[InvitationLimit]:
    return [
        InvitationLimit(
            Refusal.PAIR,
            f"{inviter}:{number}",
            Q(inviter=inviter, number=number),
            limits_parse(settings.RS_INVITATION_LIMIT_PAIR),
        ),
        InvitationLimit(
            Refusal.TARGET,
            number,
            Q(number=number),
            limits_parse(settings.RS_INVITATION_LIMIT_TARGET),
        ),
        InvitationLimit(
            Refusal.INVITER,
            inviter,
            Q(inviter=inviter),
            limits_parse(settings.RS_INVITATION_LIMIT_INVITER),
        ),
        InvitationLimit(
            Refusal.PROVIDER_INVITATIONS,
            str(provider.pk),
            Q(provider=provider),
            limits_parse(settings.RS_INVITATION_LIMIT_PROVIDER),
        ),
    ]


def invitation_limits_enforce(
    *, provider: Provider, inviter: str, number: str, calling_code: int, now: datetime
) -> None:
    """Raise :class:`InvitationRateLimited` (its ``scope`` a :class:`Refusal`) if one more
    invitation would break a limit. Runs in the transaction that then creates the invitation:
    the locks taken here are held until it commits."""
    own = _own_limits(provider=provider, inviter=inviter, number=number)
    with connection.cursor() as cursor:
        for limit in sorted(own, key=lambda limit: (limit.scope.value, limit.value)):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [locks.CHALLENGE_LIMITS, f"invitation-{limit.scope.value}:{limit.value}"],
            )
    for limit in own:
        for rule in limit.limits:
            recent = Invitation.objects.filter(limit.match, created_at__gt=now - rule.window)
            newest = list(
                recent.order_by("-created_at").values_list("created_at", flat=True)[: rule.count]
            )
            if len(newest) < rule.count:
                continue
            retry_after = max(1, int((newest[-1] + rule.window - now).total_seconds()) + 1)
            raise InvitationRateLimited(
                f"At most {rule} {_SAID[limit.scope]}; retry in {retry_after} s.",
                scope=limit.scope.value,
                retry_after=retry_after,
            )
    # The SMS budgets shared with challenges: ca.limits counts both, under its own locks.
    shared = [
        LimitedKey(
            "provider",
            str(provider.pk),
            Q(provider=provider),
            limits_parse(settings.RS_CHALLENGE_LIMIT_PROVIDER),
        ),
        LimitedKey(
            "country",
            str(calling_code),
            Q(calling_code=calling_code),
            limits_parse(settings.RS_CHALLENGE_LIMIT_COUNTRY),
        ),
    ]
    try:
        limits_enforce(shared, now=now)
    except ChallengeRateLimited as limited:
        scope = (
            Refusal.PROVIDER
            if limited.extensions["scope"] == "provider"
            else Refusal.COUNTRY_BUDGET
        )
        retry_after = int(limited.extensions["retry_after"])
        raise InvitationRateLimited(
            f"The {_SAID[scope]} are at their limit; retry in {retry_after} s.",
            scope=scope.value,
            retry_after=retry_after,
        ) from None
