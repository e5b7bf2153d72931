"""A challenge's SMS: sending it (from the ``ca.tasks.challenge_sms_send`` task, which owns the
retries) and recording what the SMS provider says became of it."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ca.choices import DELIVERY_PROGRESS, ChallengeStatus, DeliveryStatus
from ca.codes import code_unseal
from ca.models import Challenge
from ca.sms import SmsError, SmsMessage, SmsPermanentError, sms_backend

logger = structlog.get_logger(__name__)

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


def challenge_sms_deliver(*, challenge_id: uuid.UUID, sealed_code: str) -> None:
    """Send the challenge's SMS now. Raises :class:`ca.sms.SmsTemporaryError` to be retried.

    A challenge that was answered, ended or expired meanwhile gets no SMS.
    """
    challenge = Challenge.objects.select_related("provider").filter(pk=challenge_id).first()
    if challenge is None or challenge.status != ChallengeStatus.PENDING or challenge.is_expired:
        logger.info("challenge sms skipped", challenge=str(challenge_id))
        return
    message = SmsMessage(
        to=challenge.number,
        body=challenge_sms_text(
            provider_name=challenge.provider.name, code=code_unseal(challenge_id, sealed_code)
        ),
        reference=str(challenge_id),
    )
    try:
        message_id = sms_backend().send(message)
    except SmsPermanentError as error:
        challenge_delivery_failed(challenge_id=challenge_id, error=error)
        return
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.ACCEPTED,
        message_id=message_id[:64],
        delivery_attempts=challenge.delivery_attempts + 1,
        delivery_error="",
    )
    logger.info("challenge sms sent", challenge=str(challenge_id), message_id=message_id)


def _error_text(error: SmsError) -> str:
    return f"{error.code}: {error}"[:200]


def challenge_delivery_retrying(*, challenge_id: uuid.UUID, error: SmsError, attempt: int) -> None:
    """Record a provider error that will be retried."""
    _delivery_update(
        challenge_id,
        delivery_status=DeliveryStatus.RETRYING,
        delivery_attempts=attempt,
        delivery_error=_error_text(error),
    )
    logger.warning("challenge sms retrying", challenge=str(challenge_id), error=str(error))


def challenge_delivery_failed(*, challenge_id: uuid.UUID, error: SmsError) -> None:
    """Record that the SMS could not be sent at all (the final attempt failed)."""
    _delivery_update(
        challenge_id, delivery_status=DeliveryStatus.FAILED, delivery_error=_error_text(error)
    )
    logger.warning("challenge sms failed", challenge=str(challenge_id), error=str(error))


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
