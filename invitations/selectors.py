"""Invitation reads: a provider's invitations, an invitation's page, and the dashboard's
figures. Reads never write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from invitations.choices import InvitationStatus, Refusal, SmsStatus
from invitations.delivery import invitation_link
from invitations.models import DoNotInvite, Invitation, RefusalCount
from providers.models import Provider

# The invitations GET /v1/invitations lists: the most recent.
INVITATIONS_LISTED = 100


def invitation_list(*, provider: Provider, status: str | None = None) -> QuerySet[Invitation]:
    """The provider's invitations, newest first (at most ``INVITATIONS_LISTED``)."""
    invitations = Invitation.objects.filter(provider=provider)
    if status is not None:
        invitations = invitations.filter(status=status)
    return invitations.order_by("-created_at", "-pk")[:INVITATIONS_LISTED]


def invitation_get(*, provider: Provider, invitation_id: uuid.UUID) -> Invitation | None:
    """The provider's invitation with this id; None for another provider's, as for none."""
    return Invitation.objects.filter(provider=provider, pk=invitation_id).first()


def invitation_by_code(code: str) -> Invitation | None:
    """The invitation whose link carries ``code`` (its page), unless expired."""
    return (
        Invitation.objects.filter(code=code, expires_at__gt=timezone.now())
        .exclude(status=InvitationStatus.EXPIRED)
        .first()
    )


def link(invitation: Invitation) -> str:
    """The invitation's page, as its SMS gives it."""
    return invitation_link(invitation)


def providers_handling(service: str) -> list[str]:
    """The names of the active providers (apps) that handle ``service`` for some number: what
    an invitation's page suggests. No number is read out, only whether one exists."""
    return list(
        Provider.objects.filter(is_active=True, handlers__service=service)
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )


@dataclass(frozen=True)
class InvitationFigures:
    """What the operator dashboard shows of invitations over a period."""

    sent: int
    accepted: int
    sms_not_sent: int
    refused_by_limit: int
    refused_not_invitable: int
    opt_outs: int
    sms_cost: float
    currency: str


def invitation_figures(*, since: datetime) -> InvitationFigures:
    """Invitations made, accepted and refused since ``since``, opt-outs, and what their SMS
    cost (``RS_SMS_COST_ESTIMATE`` each): three queries."""
    made = Invitation.objects.filter(created_at__gte=since).aggregate(
        sent=Count("pk", filter=~Q(sms_status=SmsStatus.NOT_SENT)),
        accepted=Count("pk", filter=Q(status=InvitationStatus.ACCEPTED)),
        not_sent=Count("pk", filter=Q(sms_status=SmsStatus.NOT_SENT)),
    )
    refused = RefusalCount.objects.filter(hour__gte=since.replace(minute=0, second=0)).aggregate(
        limit=Sum("count", filter=Q(reason__in=Refusal.limits())),
        not_invitable=Sum("count", filter=Q(reason=Refusal.NOT_INVITABLE)),
    )
    return InvitationFigures(
        sent=made["sent"],
        accepted=made["accepted"],
        sms_not_sent=made["not_sent"],
        refused_by_limit=refused["limit"] or 0,
        refused_not_invitable=refused["not_invitable"] or 0,
        opt_outs=DoNotInvite.objects.filter(created_at__gte=since).count(),
        sms_cost=round(made["sent"] * settings.RS_SMS_COST_ESTIMATE, 2),
        currency=settings.RS_SMS_COST_CURRENCY,
    )
