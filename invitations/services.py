"""Invitation writes (DESIGN §7.5): send one, accept the open ones a handler answers, expire
them, and put numbers on the do-not-invite list.

:func:`invitation_send` checks everything before anything is written: the inviter's JWS (made
with the key of one of its valid number certificates), the invited number and service, the
countries SMS go to, the do-not-invite list and whether the number holds a certificate (both
refused with the same problem, word for word), and every limit (``invitations.limits``). Then,
in one transaction, the invitation, its log entry (label and commitment only) and its SMS (an
outbox message) commit together. A refusal writes nothing but one to the hour's count of
refusals, for the dashboard.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca.models import Certificate
from ca.problems import CountryNotAllowed, NumberNotServed
from ca.services.holders import number_hold
from ca.services.locks import signed_by_holder
from core.dates import rfc3339
from core.encoding import b64
from core.numbers import PhoneNumber, mobile_number_parse, number_parse
from core.problems import Problem
from core.ranges import served_elsewhere, serves
from core.signed_requests import SignedRequestMalformed, SignedRequestReplayed
from directory.models import Handler
from directory.problems import ServiceUnknown
from invitations.choices import InvitationStatus, OptOutSource, Refusal
from invitations.delivery import INVITATION_SMS
from invitations.digests import number_digest
from invitations.eligibility import number_invitable
from invitations.keys import invitation_key
from invitations.limits import invitation_limits_enforce
from invitations.models import DoNotInvite, Invitation, RefusalCount
from invitations.problems import InvitationRateLimited, InviterNotHolder, NumberNotInvitable
from outbox.services import message_enqueue
from providers.models import Provider
from resolution.protocol.directory import ServiceError, service_parse
from resolution.protocol.entries import EntryKind
from resolution.protocol.invitation import INVITE_FIELDS, spinvitation_sign
from transparency.labels import number_label_keep
from transparency.models import Entry
from transparency.services import log_append_committed
from webhooks.choices import EventType
from webhooks.services import webhook_event_emit

logger = structlog.get_logger(__name__)

# One text for a number that opted out and for one that holds a certificate: the answer must
# not tell which (nor that the number is either, rather than both).
NOT_INVITABLE = (
    "This number is not sent invitations: it may be reached another way, or asked for none."
)


def _target(payload: Mapping[str, Any]) -> tuple[PhoneNumber, str]:
    to, service = payload.get("to"), payload.get("service")
    if not isinstance(to, str):
        raise SignedRequestMalformed("'to' is required: the E.164 number to invite.")
    if not isinstance(service, str):
        raise SignedRequestMalformed("'service' is required: the service to invite it to.")
    phone = mobile_number_parse(to)
    if not serves(phone.e164):
        raise NumberNotServed(
            "The number is outside the ranges this service serves.",
            served_by=served_elsewhere(phone.e164),
        )
    try:
        return phone, service_parse(service).value
    except ServiceError as error:
        raise ServiceUnknown(str(error)) from None


def _inviter_hold(certificate: Certificate, *, now: datetime) -> Certificate:
    """Lock the inviter's certificate row until the transaction ends (its jtis are checked
    under it); refuse one that is not valid now."""
    held = (
        Certificate.objects.select_for_update(no_key=True, of=("self",))
        .select_related("provider")
        .get(pk=certificate.pk)
    )
    if held.revoked_at is not None or held.not_after <= now or held.not_before > now:
        raise InviterNotHolder("The signing certificate is not valid now (revoked or expired).")
    if not held.provider.is_active:
        raise InviterNotHolder("The signing certificate's provider is inactive.")
    return held


def refusal_count(reason: Refusal, *, now: datetime | None = None) -> None:
    """Count one refusal in its hour (its own small transaction: the refused change wrote
    nothing)."""
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RefusalCount._meta.db_table} (hour, reason, count) "  # noqa: S608
            "VALUES (%s, %s, 1) ON CONFLICT (hour, reason) "
            "DO UPDATE SET count = excluded.count + "
            f"{RefusalCount._meta.db_table}.count",
            [hour, reason.value],
        )


def invitation_send(*, provider: Provider, token: object) -> Invitation:
    """Invite the number a holder's JWS names (``{to, service, iat, jti}``) to ``service``:
    one SMS, unless a rule refuses it (a 4xx problem; nothing is sent or written)."""
    signed = signed_by_holder(provider=provider, token=token, fields=INVITE_FIELDS)
    phone, service = _target(signed.payload)
    now = timezone.now().replace(microsecond=0)
    allowed = {code.strip().upper() for code in settings.RS_CHALLENGE_COUNTRIES}
    try:
        if phone.region not in allowed:
            raise CountryNotAllowed(
                f"This service does not send SMS to numbers of {phone.region or 'this country'}."
            )
        with transaction.atomic(durable=True):
            invitation = _invitation_create(
                signed.certificate, jti=signed.jti, phone=phone, service=service, now=now
            )
    except CountryNotAllowed:
        refusal_count(Refusal.COUNTRY, now=now)
        raise
    except NumberNotInvitable:
        refusal_count(Refusal.NOT_INVITABLE, now=now)
        raise
    except InvitationRateLimited as limited:
        refusal_count(Refusal(limited.extensions["scope"]), now=now)
        raise
    logger.info(
        "invitation sent",
        invitation=str(invitation.id),
        provider=provider.slug,
        region=phone.region,
        service=service,
        log_entry_id=invitation.log_entry_id,
    )
    return invitation


def _invitation_create(
    signing: Certificate, *, jti: str, phone: PhoneNumber, service: str, now: datetime
) -> Invitation:
    """The invitation, its entry and its SMS, in the caller's transaction (core.locks' order:
    the certificate, the number, the label, the limits)."""
    certificate = _inviter_hold(signing, now=now)
    if Invitation.objects.filter(certificate=certificate, jti=jti).exists():
        raise SignedRequestReplayed("This 'jti' was already used with this certificate.")
    number_hold(phone.e164)  # a certificate issued for it meanwhile is seen, or waits
    if phone.e164 == certificate.number or not number_invitable(phone.e164, now=now):
        raise NumberNotInvitable(NOT_INVITABLE)
    label = number_label_keep(phone.e164).label
    invitation_limits_enforce(
        provider=certificate.provider,
        inviter=certificate.number,
        number=phone.e164,
        calling_code=phone.calling_code,
        now=now,
    )
    invitation = Invitation(
        id=uuid.uuid4(),
        provider=certificate.provider,
        certificate=certificate,
        inviter=certificate.number,
        number=phone.e164,
        region=phone.region,
        calling_code=phone.calling_code,
        service=service,
        jti=jti,
        created_at=now,
        expires_at=now + timedelta(days=settings.RS_INVITATION_LIFETIME_DAYS),
    )
    entry = log_append_committed(
        kind=EntryKind.INVITATION,
        label=label,
        content={
            "number": phone.e164,
            "provider": certificate.provider.slug,
            "inviter": certificate.number,
            "serial": certificate.serial,
            "service": service,
            "invitation": str(invitation.id),
            "invited_at": rfc3339(now),
        },
    )
    invitation.log_entry_id = entry.entry_id
    invitation.spinvitation = spinvitation_sign(
        key=invitation_key(),
        orig=invitation.inviter,
        dest=invitation.number,
        service=service,
        issued_at=int(now.timestamp()),
        expires_at=int(invitation.expires_at.timestamp()),
        invitation=str(invitation.id),
        callback=f"{settings.RS_PUBLIC_URL}/v1/invitations/{invitation.id}",
    )
    invitation.save(force_insert=True)
    message_enqueue(
        kind=INVITATION_SMS,
        reference=str(invitation.id),
        payload={},
        deadline=invitation.expires_at,
    )
    return invitation


# --- The callback -----------------------------------------------------------------------------


def _visible_to(handler: Handler, provider: Provider) -> bool:
    """Whether a lookup by ``provider`` shows ``handler`` (directory.selectors' rule)."""
    return (
        handler.visible_to is None
        or provider.slug in handler.visible_to
        or handler.provider_id == provider.pk
    )


def _handler_shown(handler: Handler, provider: Provider) -> dict[str, Any]:
    """The handler as a lookup shows it (``GET /v1/numbers/{number}``): its entry is new, so
    not sequenced yet (no ``index``, ``pending``); a lookup later gives its inclusion proof."""
    entry = Entry.objects.values_list("data", flat=True).get(pk=handler.log_entry_id)
    return {
        "provider": provider.slug,
        "service": handler.service,
        "uri": handler.uri,
        "priority": handler.priority,
        "expires_at": rfc3339(handler.expires_at),
        "certificate": handler.certificate_serial,
        "log": {
            "index": None,
            "entry": b64(bytes(entry)),
            "opening": b64(bytes(handler.opening)),
            "inclusion_proof": None,
            "pending": True,
        },
    }


def invitations_accept(*, handler: Handler, provider: Provider, **_signal: Any) -> int:
    """Accept the open invitations of ``handler``'s number and service whose inviter may see
    it, each told to its inviter's provider alone (``invitation.accepted``): the receiver of
    ``directory.signals.handler_published``, in the handler's transaction. An inviter from
    whom the handler is hidden is told nothing, and its invitation stays open. How many."""
    now = timezone.now()
    candidates = list(
        Invitation.objects.filter(
            number=handler.number,
            service=handler.service,
            status=InvitationStatus.OPEN,
            expires_at__gt=now,
        )
        .select_related("provider")
        .order_by("pk")
    )
    accepted = 0
    shown: dict[str, Any] | None = None
    for invitation in candidates:
        inviter = invitation.provider
        if not inviter.is_active or not _visible_to(handler, inviter):
            continue
        # One update decides, whatever else races for the row (an expiry, another handler).
        if not Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.OPEN).update(
            status=InvitationStatus.ACCEPTED,
            accepted_at=now,
            handler_log_entry_id=handler.log_entry_id,
        ):
            continue
        shown = shown or _handler_shown(handler, provider)
        webhook_event_emit(
            type=EventType.INVITATION_ACCEPTED,
            number=invitation.number,
            data={
                "invitation_id": str(invitation.id),
                "number": invitation.number,
                "inviter": invitation.inviter,
                "service": invitation.service,
                "accepted_at": rfc3339(now.replace(microsecond=0)),
                "handler": shown,
            },
            to=[inviter],
            holders=False,
        )
        accepted += 1
    if accepted:
        logger.info("invitations accepted", count=accepted, service=handler.service)
    return accepted


def invitations_expire(*, batch: int = 1000) -> int:
    """Close the open invitations past their expiry (beat); how many."""
    expired = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .filter(status=InvitationStatus.OPEN, expires_at__lte=timezone.now())
                .order_by("expires_at", "pk")
                .values_list("pk", flat=True)[:batch]
            )
            Invitation.objects.filter(pk__in=ids).update(status=InvitationStatus.EXPIRED)
        expired += len(ids)
        if len(ids) < batch:
            break
    if expired:
        logger.info("invitations expired", count=expired)
    return expired


# --- The do-not-invite list -------------------------------------------------------------------


def number_opt_out(*, number: str, source: OptOutSource) -> bool:
    """Put ``number`` (E.164) on the do-not-invite list, as its HMAC; whether it was not on it
    yet. Its invitations' SMS not sent yet are not sent (``invitations.delivery``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DoNotInvite._meta.db_table} (number_hmac, source, created_at) "  # noqa: S608
            "VALUES (%s, %s, now()) ON CONFLICT (number_hmac) DO NOTHING RETURNING id",
            [number_digest(number), source.value],
        )
        added = cursor.fetchone() is not None
    logger.info("number opted out of invitations", source=source.value, new=added)
    return added


# The words a reply that stops invitations may be (Twilio's opt-out keywords, and French).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "ARRET"}
)


def sms_reply_receive(*, sender: str, body: str, opt_out_type: str = "") -> bool:
    """An SMS a number sent back (Twilio's inbound webhook): a STOP puts it on the
    do-not-invite list. Whether it was a STOP."""
    if opt_out_type.strip().upper() != "STOP" and body.strip().upper() not in STOP_WORDS:
        return False
    try:
        phone = number_parse(sender)
    except Problem:  # not a number we could have invited: nothing to stop
        return True
    number_opt_out(number=phone.e164, source=OptOutSource.STOP)
    return True
