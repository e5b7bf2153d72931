"""Webhook writes: endpoints (register, rotate the secret, delete, deactivate) and events.

:func:`webhook_event_emit` is the one way an event is made: inside the transaction of the
change it tells of, it writes the event, a delivery per endpoint concerned and an outbox
message per delivery, so that the event leaves if and only if the change commits. The
``ca.signals`` receivers at the end turn the CA's changes into events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ca.models import Certificate, CertificateRequest, Dispute
from core.dates import rfc3339
from core.encoding import b64
from core.fetch import FetchError, operator_options, url_destination_check
from outbox.services import message_enqueue
from providers.models import Provider
from resolution.protocol.webhooks import event_id_generate, secret_generate
from webhooks.choices import DeliveryState, EventType
from webhooks.models import Delivery, Endpoint, Event
from webhooks.problems import WebhookLimitReached, WebhookUrlRefused
from webhooks.seals import secret_seal
from webhooks.selectors import endpoints_concerned

if TYPE_CHECKING:
    from transparency.entries import AppendedEntry

logger = structlog.get_logger(__name__)

# The outbox's kind for a webhook delivery (webhooks.delivery sends it).
WEBHOOK = "webhook"

_URL_REFUSALS = {
    "url": "The URL is not one we send to: printable ASCII, an https scheme and a host name.",
    "scheme": "Webhooks are sent over https only.",
    "userinfo": "The URL must not carry a user name or password.",
    "host-literal": "The URL must name its host, not an IP address.",
    "address-not-permitted": "The host resolves to an address that is not public.",
    "connect": "The host name does not resolve.",
    "timeout": "The host name did not resolve in time.",
}


@dataclass(frozen=True)
class EndpointWithSecret:
    """An endpoint and its new secret, shown once to its provider and never again."""

    endpoint: Endpoint
    secret: str


def _url_check(url: str) -> None:
    """Refuse a URL webhooks would not be sent to now (core.fetch's checks), with the reason."""
    try:
        url_destination_check(
            url,
            timeout=settings.RS_WEBHOOK_TIMEOUT_SECONDS,
            permitted_networks=operator_options()["permitted_networks"],
        )
    except FetchError as error:
        raise WebhookUrlRefused(
            _URL_REFUSALS.get(error.reason, "Webhooks are not sent to this URL.")
        ) from None


def endpoint_create(*, provider: Provider, url: str, description: str = "") -> EndpointWithSecret:
    """Register an endpoint for ``provider`` with a new secret; at most
    ``RS_WEBHOOK_MAX_PER_PROVIDER`` endpoints a provider."""
    _url_check(url)  # resolves the name: before the transaction, which waits for nothing
    with transaction.atomic(durable=True):
        # One registration at a time per provider, so that two cannot both take the last slot
        # (NO KEY: inserts naming the provider go on meanwhile; core.locks).
        Provider.objects.select_for_update(no_key=True).filter(pk=provider.pk).exists()
        count = Endpoint.objects.filter(provider=provider, deleted_at__isnull=True).count()
        if count >= settings.RS_WEBHOOK_MAX_PER_PROVIDER:
            raise WebhookLimitReached(
                f"The provider has {count} webhook endpoints, the most it may have "
                "(RS_WEBHOOK_MAX_PER_PROVIDER): delete one first."
            )
        endpoint = Endpoint(provider=provider, url=url, description=description)
        secret = secret_generate()
        endpoint.secret_sealed = secret_seal(endpoint.pk, secret)
        endpoint.save(force_insert=True)
    logger.info("webhook endpoint created", provider=provider.slug, endpoint=str(endpoint.pk))
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic(durable=True)
def endpoint_secret_rotate(*, endpoint: Endpoint) -> EndpointWithSecret:
    """Give the endpoint a new secret. Deliveries are signed with the new one and, for
    ``RS_WEBHOOK_SECRET_OVERLAP_SECONDS``, the old one too (the receiver accepts either)."""
    locked = Endpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)
    secret = secret_generate()
    locked.previous_secret_sealed = locked.secret_sealed
    locked.secret_sealed = secret_seal(locked.pk, secret)
    locked.secret_rotated_at = timezone.now()
    locked.save(update_fields=["previous_secret_sealed", "secret_sealed", "secret_rotated_at"])
    logger.info("webhook secret rotated", endpoint=str(locked.pk))
    return EndpointWithSecret(endpoint=locked, secret=secret)


@transaction.atomic(durable=True)
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete an endpoint for its provider: it is sent nothing more (its pending deliveries
    fail), its secrets are forgotten, its delivery history is kept until pruned."""
    Endpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), is_active=False, secret_sealed="", previous_secret_sealed=""
    )
    logger.info("webhook endpoint deleted", endpoint=str(endpoint.pk))


@transaction.atomic(durable=True)
def endpoint_activate(*, endpoint: Endpoint, is_active: bool, actor: str) -> bool:
    """Deactivate an endpoint (an operator's action: it is sent nothing, its pending deliveries
    fail) or activate it again; whether it changed. A deleted endpoint stays as it is."""
    changed = (
        Endpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True)
        .exclude(is_active=is_active)
        .update(is_active=is_active)
    )
    if changed:
        logger.info(
            "webhook endpoint updated", endpoint=str(endpoint.pk), is_active=is_active, actor=actor
        )
    return bool(changed)


def webhook_event_emit(
    *,
    type: str,  # the event's "type", as Standard Webhooks names the member
    number: str,
    data: Mapping[str, Any],
    to: Iterable[Provider] | None = None,
    holders: bool = True,
) -> Event | None:
    """Tell of a change of ``number``, inside the transaction of that change: the event, and a
    delivery and outbox message for each active endpoint of every provider that holds a valid
    certificate for the number (unless ``holders`` is False), and of the providers in ``to``
    (who may hold none: the holder of a certificate just revoked, an inviter). None when no
    endpoint is concerned: nothing is written.

    No other provider is told: the number never reaches one that does not hold it or was not
    named in ``to``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("webhook_event_emit must run inside the transaction of its change")
    kind = EventType(type)
    now = timezone.now()
    also = {provider.pk for provider in to or ()}
    endpoints = list(endpoints_concerned(number=number, also=also, at=now, holders=holders))
    if not endpoints:
        return None
    body = json.dumps(
        {"type": kind.value, "timestamp": rfc3339(now), "data": dict(data)},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    event = Event.objects.create(id=event_id_generate(), type=kind.value, body=body, created_at=now)
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, endpoint=endpoint, created_at=now, updated_at=now)
        for endpoint in endpoints
    )
    for delivery in deliveries:
        message_enqueue(kind=WEBHOOK, reference=event.id, payload={"delivery": delivery.pk})
    logger.info("webhook event", webhook_id=event.id, type=kind.value, deliveries=len(deliveries))
    return event


def deliveries_prune() -> int:
    """Forget delivered and failed deliveries last changed more than ``RS_WEBHOOK_KEEP_DAYS``
    ago, and the events left without one (beat); how many deliveries."""
    before = timezone.now() - timedelta(days=settings.RS_WEBHOOK_KEEP_DAYS)
    with transaction.atomic():
        deleted, _ = (
            Delivery.objects.exclude(state=DeliveryState.PENDING)
            .filter(updated_at__lt=before)
            .delete()
        )
        Event.objects.filter(created_at__lt=before, deliveries__isnull=True).delete()
    if deleted:
        logger.info("webhook deliveries forgotten", count=deleted)
    return deleted


# --- The changes told, each in the transaction that makes it ---------------------------------


def handler_changed_notify(
    *,
    number: str,
    service: str,
    provider: Provider,
    action: str,
    log: AppendedEntry,
    reason: str | None = None,
) -> None:
    """``handler.changed`` (``action``: published or removed, and why it was removed): to the
    number's holders, and to the handler's provider, whose certificate may be gone. ``log`` is
    the change's entry: its leaf hash and the log's promise to include it."""
    data: dict[str, Any] = {
        "number": number,
        "service": service,
        "provider": provider.slug,
        "action": action,
        "log": {"leaf_hash": b64(log.leaf_hash), "promise": log.promise},
    }
    if reason is not None:
        data["reason"] = reason
    webhook_event_emit(type=EventType.HANDLER_CHANGED, number=number, data=data, to=[provider])


def _at(moment: datetime) -> str:
    return rfc3339(moment.replace(microsecond=0))


def certificate_revoked_notify(*, certificate: object, **_signal: Any) -> None:
    """``certificate.revoked``: to the number's holders, and to the revoked certificate's own
    provider, which holds it no longer. Of our certificates only: one issued under another
    root, which its CA's CRL now lists, is told of by the removal of its handlers."""
    if not isinstance(certificate, Certificate):
        return
    assert certificate.revoked_at is not None
    webhook_event_emit(
        type=EventType.CERTIFICATE_REVOKED,
        number=certificate.number,
        data={
            "number": certificate.number,
            "serial": certificate.serial,
            "provider": certificate.provider.slug,
            "reason": certificate.revocation_reason,
            "revoked_at": _at(certificate.revoked_at),
        },
        to=[certificate.provider],
    )


def certificate_issued_notify(*, certificate: Certificate, **_signal: Any) -> None:
    """``certificate.issued``: to the number's holders, the new one among them."""
    webhook_event_emit(
        type=EventType.CERTIFICATE_ISSUED,
        number=certificate.number,
        data={
            "number": certificate.number,
            "serial": certificate.serial,
            "provider": certificate.provider.slug,
            "not_before": _at(certificate.not_before),
            "not_after": _at(certificate.not_after),
        },
    )


def certificate_requested_notify(*, request: CertificateRequest, **_signal: Any) -> None:
    """``certificate.requested``: to the number's holders (the locked ones decide), and to the
    requester, whose certificate waits."""
    webhook_event_emit(
        type=EventType.CERTIFICATE_REQUESTED,
        number=request.number,
        data={
            "number": request.number,
            "request_id": str(request.id),
            "requester": request.provider.slug,
            "public_key_sha256": bytes(request.public_key_sha256).hex(),
            "requested_at": _at(request.created_at),
            "issues_at": _at(request.issues_at),
        },
        to=[request.provider],
    )


def certificate_request_closed_notify(*, request: CertificateRequest, **_signal: Any) -> None:
    """``certificate.request_closed``: to the number's holders, and to the requester, refused
    or not: approved, refused, issued after the wait, or issued when no lock held any more."""
    data: dict[str, Any] = {
        "number": request.number,
        "request_id": str(request.id),
        "requester": request.provider.slug,
        "status": request.status,
        "closed_at": _at(request.closed_at or timezone.now()),
        "serial": request.certificate.serial if request.certificate is not None else None,
    }
    webhook_event_emit(
        type=EventType.CERTIFICATE_REQUEST_CLOSED,
        number=request.number,
        data=data,
        to=[request.provider],
    )


def _dispute_data(dispute: Dispute) -> dict[str, Any]:
    return {
        "number": dispute.number,
        "dispute_id": str(dispute.id),
        "disputer": dispute.disputer.provider.slug,
        "disputed_serial": dispute.disputed.serial,
        "disputed_provider": dispute.disputed.provider.slug,
    }


def dispute_opened_notify(*, dispute: Dispute, **_signal: Any) -> None:
    """``dispute.opened``: to the number's holders (the disputer and the disputed among them)."""
    webhook_event_emit(
        type=EventType.DISPUTE_OPENED,
        number=dispute.number,
        data=_dispute_data(dispute) | {"opened_at": _at(dispute.opened_at)},
        to=[dispute.disputer.provider, dispute.disputed.provider],
    )


def dispute_closed_notify(*, dispute: Dispute, **_signal: Any) -> None:
    """``dispute.closed``: to the number's holders, and to both parties whatever they hold now
    (the disputed certificate may have just been revoked)."""
    webhook_event_emit(
        type=EventType.DISPUTE_CLOSED,
        number=dispute.number,
        data=_dispute_data(dispute)
        | {"outcome": dispute.status, "closed_at": _at(dispute.closed_at or timezone.now())},
        to=[dispute.disputer.provider, dispute.disputed.provider],
    )
