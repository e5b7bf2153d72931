"""CA tasks: sending challenge SMS (with retries), keeping the CRL fresh and pruning the PASSporT
replay cache. Thin: each calls one service; the SMS task owns the retry policy.

Tasks import the services, never the other way round: a service queues a task by its name
(``ca.services.challenges.SMS_SEND_TASK``), so the names here are fixed.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from ca.services import crls, delivery, external, passports
from ca.sms import SmsTemporaryError

# Longest wait between two delivery attempts: past it, the code is about to expire anyway.
MAX_BACKOFF_SECONDS = 300


def retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter: ``base · 2^retries`` seconds at most."""
    ceiling = min(settings.RS_SMS_RETRY_BACKOFF_SECONDS * 2**retries, MAX_BACKOFF_SECONDS)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 — spreading retries, not secrets


@shared_task(bind=True, name="ca.tasks.challenge_sms_send", max_retries=None)
def challenge_sms_send(self: Task[Any, Any], challenge_id: str, sealed_code: str) -> None:
    """Send a challenge's SMS; retry provider outages and timeouts, then record the failure."""
    attempt = self.request.retries + 1
    try:
        delivery.challenge_sms_deliver(
            challenge_id=uuid.UUID(challenge_id), sealed_code=sealed_code
        )
    except SmsTemporaryError as error:
        if attempt > settings.RS_SMS_MAX_RETRIES:
            delivery.challenge_delivery_failed(challenge_id=uuid.UUID(challenge_id), error=error)
            return
        delivery.challenge_delivery_retrying(
            challenge_id=uuid.UUID(challenge_id), error=error, attempt=attempt
        )
        if self.request.is_eager:
            # No broker (the embedded default): no worker to hand a delayed retry to, so try
            # again here, at once, rather than hold the request for the backoff.
            challenge_sms_send.apply(args=(challenge_id, sealed_code), retries=attempt)
            return
        raise self.retry(countdown=retry_countdown(self.request.retries), exc=error) from error


@shared_task(name="ca.tasks.crl_refresh")
def crl_refresh() -> None:
    """Sign a new CRL before the current one is half-way through its life (beat)."""
    crls.crl_refresh()


@shared_task(name="ca.tasks.external_crls_refresh", ignore_result=True)
def external_crls_refresh() -> None:
    """Fetch the CRLs of CAs under other trusted roots (ca.trust); apply what they revoke."""
    external.external_crls_refresh()


@shared_task(name="ca.tasks.passports_seen_prune", ignore_result=True)
def passports_seen_prune() -> int:
    """Forget verified PASSporTs that are stale anyway (beat: every ten minutes)."""
    return passports.passports_seen_prune()
