"""Rate limits on challenges, counted in the database so that every process enforces them.

Each limit is "at most N challenges in a sliding window" for one key: the number for one
provider, the number for all providers, the provider, the client (an IPv6 /64 counted as one)
and the destination country calling code (the brake on SMS pumping). The counts come from the
challenges table itself, under a transaction-scoped advisory lock per key, so two requests
racing for the last slot cannot both get it.

The provider's and the country's budgets (``SHARED_SCOPES``) are those of every SMS the service
sends: other apps that send SMS (invitations, DESIGN §7.5) register how to read the times of
theirs (:func:`shared_budget_register`), since this app cannot import them, and take the same
locks when they send one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet

from ca.models import Challenge
from core import locks
from core.problems import Problem

# The limits every SMS counts against, whichever app sends it.
SHARED_SCOPES = frozenset({"provider", "country"})
# (scope, value, since, most) -> the creation times, newest first, of at most ``most`` of the
# app's SMS counted under that key after ``since``.
SentTimes = Callable[[str, str, datetime, int], list[datetime]]
_shared_budgets: list[SentTimes] = []


def shared_budget_register(sent_times: SentTimes) -> None:
    """Count another app's SMS against the provider and country budgets (from its ``ready``;
    registering the same function again changes nothing)."""
    if sent_times not in _shared_budgets:
        _shared_budgets.append(sent_times)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LIMIT = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta

    def __str__(self) -> str:
        return f"{self.count} per {int(self.window.total_seconds())} s"


def limits_parse(text: str) -> list[Limit]:
    """``"3/10m,10/1d"`` → two limits. An empty string means no limit."""
    limits = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _LIMIT.fullmatch(part)
        if match is None:
            raise ValueError(f"not a limit: {part!r} (write it like 3/10m, 100/1h or 10/1d)")
        count, amount, unit = match.groups()
        limits.append(Limit(int(count), timedelta(seconds=int(amount or 1) * _UNITS[unit])))
    return limits


class ChallengeRateLimited(Problem):
    slug = "challenge-rate-limited"
    title = "Too many challenges"
    status_code = 429

    def __init__(self, detail: str, *, scope: str, retry_after: int) -> None:
        super().__init__(detail, scope=scope, retry_after=retry_after)


@dataclass(frozen=True)
class LimitedKey:
    """One thing that is limited: ``scope`` names it in problems, ``match`` selects its rows.

    ``first_free`` selects the caller's own rows among them: a caller with none in a limit's
    window is let through that limit, so that others filling a shared limit never refuse a
    caller its first challenge (the limit then holds at most one more per caller).
    """

    scope: str
    value: str
    match: Q
    limits: list[Limit]
    first_free: Q | None = None


def limits_enforce(keys: list[LimitedKey], *, now: datetime) -> None:
    """Raise :class:`ChallengeRateLimited` if one more challenge would break a limit.

    Must run in the transaction that then creates the challenge: the locks taken here are
    held until it commits, so the next request counts this one.
    """
    with connection.cursor() as cursor:
        for key in sorted(keys, key=lambda key: (key.scope, key.value)):  # one lock order
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [locks.CHALLENGE_LIMITS, f"{key.scope}:{key.value}"],
            )
    for key in keys:
        for limit in key.limits:
            since = now - limit.window
            recent = Challenge.objects.filter(key.match, created_at__gt=since)
            if key.scope in SHARED_SCOPES and _shared_budgets:
                newest = _shared_newest(key, recent, since=since, most=limit.count)
                if len(newest) < limit.count:
                    continue
            else:
                if recent.count() < limit.count:
                    continue
                if key.first_free is not None and not recent.filter(key.first_free).exists():
                    continue
                newest = list(
                    recent.order_by("-created_at").values_list("created_at", flat=True)[
                        : limit.count
                    ]
                )
            # Room comes back when the limit-th newest SMS leaves the window.
            retry_after = max(1, int((newest[-1] + limit.window - now).total_seconds()) + 1)
            raise ChallengeRateLimited(
                f"At most {limit} challenges per {key.scope.replace('_', ' ')}; "
                f"retry in {retry_after} s.",
                scope=key.scope,
                retry_after=retry_after,
            )


def _shared_newest(
    key: LimitedKey, recent: QuerySet[Challenge], *, since: datetime, most: int
) -> list[datetime]:
    """The times of the ``most`` newest SMS under a shared key: challenges and the others."""
    times = list(recent.order_by("-created_at").values_list("created_at", flat=True)[:most])
    for sent_times in _shared_budgets:
        times.extend(sent_times(key.scope, key.value, since, most))
    return sorted(times, reverse=True)[:most]
