"""Challenges: start one (its SMS written to the outbox with it), answer it with the code."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ca.choices import ChallengeStatus
from ca.codes import code_digest, code_generate, code_matches, code_seal
from ca.limits import LimitedKey, limits_enforce, limits_parse
from ca.models import Challenge
from ca.problems import (
    ChallengeAlreadyVerified,
    ChallengeCancelled,
    ChallengeCodeWrong,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotFound,
    ChallengeUsed,
    CountryNotAllowed,
    NumberNotServed,
)
from ca.services.delivery import CHALLENGE_SMS
from core.numbers import mobile_number_parse
from core.problems import Problem
from core.ranges import served_elsewhere, serves
from core.throttling import client_network
from outbox.services import message_enqueue
from providers.models import Provider

logger = structlog.get_logger(__name__)


def _limited_keys(
    *, provider: Provider, e164: str, calling_code: int, client_ip: str
) -> list[LimitedKey]:
    """What one more challenge counts against.

    A number has two limits. Per provider (``number``), so that a provider sending its
    maximum blocks only itself. For all providers together (``number_total``), so that the
    SMS one number receives stay bounded; but a provider with no challenge for the number in
    a window is never refused by it, or providers that used the shared allowance would starve
    one that has sent nothing. With P providers a number receives at most the total plus P
    challenges in a window, and P is the operator's to decide (providers are created by it).
    """
    client = client_network(ipaddress.ip_address(client_ip))
    if client.num_addresses == 1:
        same_client = Q(client_ip=client_ip)
    else:  # an inet range the (client_ip, created_at) index serves
        same_client = Q(
            client_ip__gte=str(client.network_address),
            client_ip__lte=str(client.broadcast_address),
        )
    return [
        LimitedKey(
            "number",
            f"{e164}:{provider.pk}",
            Q(number=e164, provider=provider),
            limits_parse(settings.RS_CHALLENGE_LIMIT_NUMBER),
        ),
        LimitedKey(
            "number_total",
            e164,
            Q(number=e164),
            limits_parse(settings.RS_CHALLENGE_LIMIT_NUMBER_TOTAL),
            first_free=Q(provider=provider),
        ),
        LimitedKey(
            "provider",
            str(provider.pk),
            Q(provider=provider),
            limits_parse(settings.RS_CHALLENGE_LIMIT_PROVIDER),
        ),
        LimitedKey(
            "client_ip",
            str(client),
            same_client,
            limits_parse(settings.RS_CHALLENGE_LIMIT_CLIENT_IP),
        ),
        LimitedKey(
            "country",
            str(calling_code),
            Q(calling_code=calling_code),
            limits_parse(settings.RS_CHALLENGE_LIMIT_COUNTRY),
        ),
    ]


def challenge_start(*, provider: Provider, number: str, client_ip: str) -> Challenge:
    """Start a challenge for ``number`` and queue its SMS; every limit is checked first.

    The SMS is an outbox message written in the challenge's transaction, its code sealed
    (``ca.codes``): a challenge acknowledged is an SMS that will be sent, or recorded as failed
    with the reason. ``client_ip`` is the caller's address (``core.throttling.client_address``).
    """
    phone = mobile_number_parse(number)
    if not serves(phone.e164):
        raise NumberNotServed(
            "The number is outside the ranges this service serves.",
            served_by=served_elsewhere(phone.e164),
        )
    allowed = {code.strip().upper() for code in settings.RS_CHALLENGE_COUNTRIES}
    if phone.region not in allowed:
        raise CountryNotAllowed(
            f"This service does not send SMS to numbers of {phone.region or 'this country'}."
        )
    now = timezone.now()
    challenge_id = uuid.uuid4()
    code = code_generate(settings.RS_CHALLENGE_CODE_DIGITS)
    keys = _limited_keys(
        provider=provider, e164=phone.e164, calling_code=phone.calling_code, client_ip=client_ip
    )
    with transaction.atomic(durable=True):
        limits_enforce(keys, now=now)
        challenge = Challenge.objects.create(
            id=challenge_id,
            provider=provider,
            number=phone.e164,
            region=phone.region,
            calling_code=phone.calling_code,
            client_ip=client_ip,
            code_hmac=code_digest(challenge_id, code),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.RS_CHALLENGE_LIFETIME_SECONDS),
        )
        message_enqueue(
            kind=CHALLENGE_SMS,
            reference=str(challenge_id),
            payload={"sealed_code": code_seal(challenge_id, code)},
            deadline=challenge.expires_at,
        )
    logger.info(
        "challenge started",
        challenge=str(challenge_id),
        provider=provider.slug,
        region=phone.region,
    )
    return challenge


def challenge_lock(*, provider: Provider, challenge_id: uuid.UUID) -> Challenge:
    """The challenge, row-locked until the caller's transaction ends, if it is the provider's.

    Another provider's challenge is not found, as an unknown id is: the answer must not say
    that it exists.
    """
    challenge = (
        Challenge.objects.select_for_update().filter(pk=challenge_id, provider=provider).first()
    )
    if challenge is None:
        raise ChallengeNotFound("The calling provider has no challenge with this id.")
    return challenge


def challenge_verify(*, provider: Provider, challenge_id: uuid.UUID, code: str) -> Challenge:
    """Answer a challenge. A wrong code counts, even though the answer is an error."""
    wrong: Problem | None = None
    with transaction.atomic(durable=True):
        challenge = challenge_lock(provider=provider, challenge_id=challenge_id)
        if challenge.status == ChallengeStatus.USED:
            raise ChallengeUsed("This challenge has been used for a certificate.")
        if challenge.status == ChallengeStatus.VERIFIED:
            raise ChallengeAlreadyVerified("This challenge is verified: request the certificate.")
        if challenge.status == ChallengeStatus.FAILED:
            raise ChallengeFailed("Too many wrong codes; start a new challenge.")
        if challenge.status == ChallengeStatus.CANCELLED:
            raise ChallengeCancelled("This challenge was cancelled; start a new one.")
        if challenge.is_expired:
            raise ChallengeExpired("The code has expired; start a new challenge.")
        if code_matches(challenge.id, code, bytes(challenge.code_hmac)):
            challenge.status = ChallengeStatus.VERIFIED
            challenge.verified_at = timezone.now()
            challenge.save(update_fields=["status", "verified_at"])
        else:
            challenge.attempts += 1
            left = max(settings.RS_CHALLENGE_MAX_ATTEMPTS - challenge.attempts, 0)
            if left == 0:
                challenge.status = ChallengeStatus.FAILED
            challenge.save(update_fields=["attempts", "status"])
            wrong = ChallengeCodeWrong(
                "Wrong code." + (" The challenge has ended." if left == 0 else ""),
                attempts_left=left,
            )
    if wrong is not None:  # raised after the commit, so that the attempt is counted
        logger.info(
            "challenge code wrong", challenge=str(challenge.id), attempts=challenge.attempts
        )
        raise wrong
    logger.info("challenge verified", challenge=str(challenge.id), provider=provider.slug)
    return challenge


def challenge_cancel(*, provider: Provider, challenge_id: uuid.UUID) -> Challenge:
    """Cancel a challenge not yet used for a certificate: its code is no longer accepted, and
    its SMS, if not sent yet, is not sent. It still counts against the SMS limits. Cancelling
    a cancelled challenge changes nothing (DELETE is idempotent)."""
    with transaction.atomic(durable=True):
        challenge = challenge_lock(provider=provider, challenge_id=challenge_id)
        if challenge.status == ChallengeStatus.CANCELLED:
            return challenge
        if challenge.status == ChallengeStatus.USED:
            raise ChallengeUsed("This challenge has been used for a certificate.")
        challenge.status = ChallengeStatus.CANCELLED
        challenge.save(update_fields=["status"])
    logger.info("challenge cancelled", challenge=str(challenge.id), provider=provider.slug)
    return challenge
