"""A challenge's SMS: sending it (the outbox's ``ca.challenge_sms`` sender, which the CA
registers), recording what became of it, and what the SMS provider reports later.

The outbox (``outbox.services``) owns the retries: :func:`challenge_sms_deliver` sends once and
raises; the outbox calls back :func:`challenge_sms_accepted`, :func:`challenge_delivery_retrying`
or :func:`challenge_delivery_failed` in the transaction in which it records the outcome.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ca.choices import DELIVERY_PROGRESS, ChallengeStatus, DeliveryStatus
from ca.codes import SealBrokenError, code_unseal
from ca.models import Challenge
from ca.sms import SmsError, SmsMessage, SmsPermanentError, SmsTemporaryError, sms_backend
from outbox.models import Message
from outbox.senders import Sender, error_described

logger = structlog.get_logger(__name__)

# The outbox's kind for a challenge's SMS; its reference is the challenge's id.
CHALLENGE_SMS = "ca.challenge_sms"
# Room the SMS leaves for the provider's name (GSM-7: 160 characters in one part).
MAX_PROVIDER_NAME_IN_SMS = 40


def challenge_sms_text(*, provider_name: str, code: str) -> str:
    """The SMS: who asks, the code, and a last line binding it to our domain (WebOTP)."""
    name = provider_name[:MAX_PROVIDER_NAME_IN_SMS]
    return (
        f"{settings.RS_SMS_SERVICE_NAME}: {code} is your code to link this number to {name}. "
        f"Do not share it.\n\n@{settings.RS_SMS_OTP_DOMAIN} #{code}"
    )


def _delivery_update(challenge_id: uuid.UUID, **fields: Any) -> None:
    Challenge.objects.filter(pk=challenge_id).update(delivery_updated_at=timezone.now(), **fields)


def challenge_sms_deliver(*, challenge_id: uuid.UUID, sealed_code: str) -> str:
    """Send the challenge's SMS now; the provider's message id.

    Raises :class:`ca.sms.SmsTemporaryError` (worth another attempt) or
    :class:`ca.sms.SmsPermanentError`, also when the challenge was answered, ended or expired
    meanwhile: it gets no SMS.
    """
    challenge = Challenge.objects.select_related("provider").filter(pk=challenge_id).first()
    if challenge is None or challenge.status != ChallengeStatus.PENDING or challenge.is_expired:
        logger.info("challenge sms skipped", challenge=str(challenge_id))
        raise SmsPermanentError("ended", "the challenge ended before its SMS was sent")
    message = SmsMessage(
        to=challenge.number,
        body=challenge_sms_text(
            provider_name=challenge.provider.name, code=code_unseal(challenge_id, sealed_code)
        ),
        reference=str(challenge_id),
    )
    return sms_backend().send(message)


def challenge_sms_accepted(*, challenge_id: uuid.UUID, message_id: str, attempt: int) -> None:
    """Record that the SMS provider took the challenge's SMS, at the ``attempt``-th try."""
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.ACCEPTED,
        message_id=message_id[:64],
        delivery_attempts=attempt,
        delivery_error="",
    )
    logger.info("challenge sms sent", challenge=str(challenge_id), message_id=message_id)


def _error_text(error: Exception) -> str:
    """What a failed attempt records (and the challenge's client sees): the provider's code and
    our text for SMS errors, which quote no number; the type alone for anything else."""
    if isinstance(error, SmsError):
        return f"{error.code}: {error}"[:200]
    return error_described(error)


def challenge_delivery_retrying(*, challenge_id: uuid.UUID, error: str, attempt: int) -> None:
    """Record an attempt that failed and will be retried."""
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.RETRYING,
        delivery_attempts=attempt,
        delivery_error=error[:200],
    )
    logger.warning("challenge sms retrying", challenge=str(challenge_id), error=error)


def challenge_delivery_failed(*, challenge_id: uuid.UUID, reason: str) -> None:
    """Record that the SMS will never be sent, and why (shown to the challenge's client)."""
    _delivery_update(
        challenge_id, delivery_status=DeliveryStatus.FAILED, delivery_error=reason[:200]
    )
    logger.warning("challenge sms failed", challenge=str(challenge_id), reason=reason)


def challenge_sms_sender() -> Sender:
    """The outbox's sender of challenge SMS (registered by ``ca.apps``).

    Attempts: the first and ``RS_SMS_MAX_RETRIES`` retries, the first after
    ``RS_SMS_RETRY_BACKOFF_SECONDS``; never past the challenge's expiry (the message's deadline).
    """

    def challenge(message: Message) -> uuid.UUID:
        return uuid.UUID(message.reference)

    return Sender(
        kind=CHALLENGE_SMS,
        send=lambda message: challenge_sms_deliver(
            challenge_id=challenge(message), sealed_code=message.payload["sealed_code"]
        ),
        sent=lambda message, message_id: challenge_sms_accepted(
            challenge_id=challenge(message), message_id=message_id, attempt=message.attempts
        ),
        failed=lambda message, reason: challenge_delivery_failed(
            challenge_id=challenge(message), reason=reason
        ),
        retrying=lambda message, error: challenge_delivery_retrying(
            challenge_id=challenge(message), error=error, attempt=message.attempts
        ),
        max_attempts=lambda: settings.RS_SMS_MAX_RETRIES + 1,
        backoff_seconds=lambda: float(settings.RS_SMS_RETRY_BACKOFF_SECONDS),
        permanent=(SmsPermanentError, SealBrokenError),
        temporary=(SmsTemporaryError,),
        describe=_error_text,
    )


# Twilio's message statuses (MessageStatus) as our delivery statuses.
_REPORTED = {
    "accepted": DeliveryStatus.ACCEPTED,
    "scheduled": DeliveryStatus.ACCEPTED,
    "queued": DeliveryStatus.ACCEPTED,
    "sending": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


def challenge_delivery_report(*, message_id: str, status: str, error_code: str = "") -> bool:
    """Record a delivery report from the SMS provider; False when no challenge matches.

    Reports can arrive out of order: one never moves a challenge back (``sent`` after
    ``delivered`` is ignored).
    """
    reported = _REPORTED.get(status.lower())
    if reported is None or not message_id:
        return False
    with transaction.atomic(durable=True):
        challenge = Challenge.objects.select_for_update().filter(message_id=message_id).first()
        if challenge is None:
            return False
        current = DeliveryStatus(challenge.delivery_status)
        if DELIVERY_PROGRESS[reported] >= DELIVERY_PROGRESS[current] and reported != current:
            challenge.delivery_status = reported
            challenge.delivery_updated_at = timezone.now()
            if error_code:
                challenge.delivery_error = f"provider error {error_code}"[:200]
            challenge.save(
                update_fields=["delivery_status", "delivery_updated_at", "delivery_error"]
            )
    logger.info("challenge delivery report", message_id=message_id, status=reported.value)
    return True
