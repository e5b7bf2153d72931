"""Enumerations of the webhooks app: the events, and where a delivery stands."""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    """What a webhook tells; docs/webhooks.md gives each one's ``data``."""

    CERTIFICATE_REQUESTED = "certificate.requested", "a certificate for the number waits on a lock"
    CERTIFICATE_REQUEST_CLOSED = (
        "certificate.request_closed",
        "a held certificate request was approved, refused, or issued",
    )
    CERTIFICATE_ISSUED = "certificate.issued", "a certificate for the number was issued"
    CERTIFICATE_REVOKED = "certificate.revoked", "a certificate for the number was revoked"
    DISPUTE_OPENED = "dispute.opened", "a holder disputed a certificate for the number"
    DISPUTE_CLOSED = (
        "dispute.closed",
        "a dispute was closed: the certificate revoked, or the dispute dismissed",
    )
    HANDLER_CHANGED = "handler.changed", "a handler of the number was published or removed"
    INVITATION_ACCEPTED = (
        "invitation.accepted",
        "a number the provider invited published a handler of the service that it may see",
    )


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending (to be sent, or to be retried)"
    DELIVERED = "delivered", "delivered (answered 2xx)"
    FAILED = "failed", "failed (given up: see the last error)"
