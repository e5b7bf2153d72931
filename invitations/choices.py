"""Enumerations of the invitations app."""

from __future__ import annotations

from django.db import models


class InvitationStatus(models.TextChoices):
    OPEN = "open", "open (waiting for a handler the inviter may see)"
    ACCEPTED = "accepted", "accepted (the number published a handler the inviter may see)"
    EXPIRED = "expired", "expired (no such handler within its lifetime)"


class SmsStatus(models.TextChoices):
    """Where the invitation's SMS is."""

    QUEUED = "queued", "queued"
    RETRYING = "retrying", "retrying after a provider error"
    SENT = "sent", "accepted by the SMS provider"
    NOT_SENT = "not_sent", "not sent"


class OptOutSource(models.TextChoices):
    """How a number came onto the do-not-invite list."""

    STOP = "stop", "a STOP reply to an SMS"
    PAGE = "page", "the opt-out page"
    INVITATION_PAGE = "invitation_page", "the button of an invitation's page"


class Refusal(models.TextChoices):
    """Why an invitation was refused, as the dashboard counts them (never with the number)."""

    NOT_INVITABLE = "not_invitable", "opted out, or holds a certificate"
    COUNTRY = "country", "a country SMS are not sent to"
    PAIR = "pair", "limit: the inviter invited the number lately"
    TARGET = "target", "limit: invitations to the number today"
    INVITER = "inviter", "limit: invitations by the inviter's number"
    PROVIDER_INVITATIONS = "provider_invitations", "limit: invitations by the provider"
    PROVIDER = "provider", "limit: the provider's SMS budget"
    COUNTRY_BUDGET = "country_budget", "limit: the country's SMS budget"

    @classmethod
    def limits(cls) -> list[Refusal]:
        """The refusals that are a limit reached."""
        return [kind for kind in cls if kind not in (cls.NOT_INVITABLE, cls.COUNTRY)]
