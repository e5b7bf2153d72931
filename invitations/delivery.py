"""An invitation's SMS: sending it (the outbox's ``invitations.sms`` sender, registered by
``invitations.apps``) and recording what became of it.

The outbox owns the retries, as it does for challenges (``ca.services.delivery``). The text is
built when it is sent, from the invitation's row, so that an opt-out that arrives meanwhile is
seen: the number then gets no SMS.
"""

from __future__ import annotations

import uuid

import structlog
from django.conf import settings
from django.utils import timezone

from ca.sms import SmsError, SmsMessage, SmsPermanentError, SmsTemporaryError, sms_backend
from invitations.choices import InvitationStatus, SmsStatus
from invitations.eligibility import number_invitable
from invitations.models import Invitation
from outbox.models import Message
from outbox.senders import Sender, error_described

logger = structlog.get_logger(__name__)

# The outbox's kind for an invitation's SMS; its reference is the invitation's id.
INVITATION_SMS = "invitations.sms"


def invitation_link(invitation: Invitation) -> str:
    """The invitation's page: what it is, which apps handle the service, how to stop them."""
    return f"{settings.RS_PUBLIC_URL}/i/{invitation.code}"


def invitation_sms_text(invitation: Invitation) -> str:
    """The SMS: who invites, to what, the link, and how to stop invitations."""
    return (
        f"{settings.RS_SMS_SERVICE_NAME}: {invitation.inviter} invites you to {invitation.service} "
        f"in an app. Which apps, and to opt out: {invitation_link(invitation)} or reply STOP."
    )


def invitation_sms_deliver(*, invitation_id: uuid.UUID) -> str:
    """Send the invitation's SMS now; the provider's message id. ``SmsPermanentError`` when
    the invitation is no longer open, or its number opted out or registered meanwhile: it gets
    no SMS."""
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None or invitation.status != InvitationStatus.OPEN:
        raise SmsPermanentError("ended", "the invitation ended before its SMS was sent")
    if not number_invitable(invitation.number, now=timezone.now()):
        # Opted out or registered since it was invited: one reason, as the API gives it.
        raise SmsPermanentError("not-invitable", "the number is no longer invited")
    message = SmsMessage(
        to=invitation.number, body=invitation_sms_text(invitation), reference=str(invitation.id)
    )
    return sms_backend().send(message)


def _update(invitation_id: uuid.UUID, **fields: object) -> None:
    Invitation.objects.filter(pk=invitation_id).update(**fields)


def invitation_sms_sent(*, invitation_id: uuid.UUID, message_id: str, attempt: int) -> None:
    _update(
        invitation_id,
        sms_status=SmsStatus.SENT,
        message_id=message_id[:64],
        sms_attempts=attempt,
        sms_error="",
    )
    logger.info("invitation sms sent", invitation=str(invitation_id), message_id=message_id)


def invitation_sms_retrying(*, invitation_id: uuid.UUID, error: str, attempt: int) -> None:
    _update(
        invitation_id, sms_status=SmsStatus.RETRYING, sms_attempts=attempt, sms_error=error[:200]
    )
    logger.warning("invitation sms retrying", invitation=str(invitation_id), error=error)


def invitation_sms_failed(*, invitation_id: uuid.UUID, reason: str) -> None:
    _update(invitation_id, sms_status=SmsStatus.NOT_SENT, sms_error=reason[:200])
    logger.warning("invitation sms not sent", invitation=str(invitation_id), reason=reason)


def _error_text(error: Exception) -> str:
    if isinstance(error, SmsError):
        return f"{error.code}: {error}"[:200]
    return error_described(error)


def invitation_sms_sender() -> Sender:
    """The outbox's sender of invitation SMS: the attempts of a challenge's SMS, until the
    invitation expires (the message's deadline)."""

    def invitation(message: Message) -> uuid.UUID:
        return uuid.UUID(message.reference)

    return Sender(
        kind=INVITATION_SMS,
        send=lambda message: invitation_sms_deliver(invitation_id=invitation(message)),
        sent=lambda message, message_id: invitation_sms_sent(
            invitation_id=invitation(message), message_id=message_id, attempt=message.attempts
        ),
        failed=lambda message, reason: invitation_sms_failed(
            invitation_id=invitation(message), reason=reason
        ),
        retrying=lambda message, error: invitation_sms_retrying(
            invitation_id=invitation(message), error=error, attempt=message.attempts
        ),
        max_attempts=lambda: settings.RS_SMS_MAX_RETRIES + 1,
        backoff_seconds=lambda: float(settings.RS_SMS_RETRY_BACKOFF_SECONDS),
        permanent=(SmsPermanentError,),
        temporary=(SmsTemporaryError,),
        describe=_error_text,
    )
