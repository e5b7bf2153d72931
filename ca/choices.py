"""Enumerations of the ``ca`` app."""

from __future__ import annotations

from django.db import models


class ChallengeStatus(models.TextChoices):
    PENDING = "pending", "pending (code sent, not answered)"
    VERIFIED = "verified", "verified (may be used for one certificate)"
    USED = "used", "used (a certificate was issued)"
    FAILED = "failed", "failed (too many wrong codes)"
    CANCELLED = "cancelled", "cancelled (by its provider, before a certificate was issued)"


class DeliveryStatus(models.TextChoices):
    """Where the challenge's SMS is; the last four come from the SMS provider's reports."""

    QUEUED = "queued", "queued"
    RETRYING = "retrying", "retrying after a provider error"
    ACCEPTED = "accepted", "accepted by the SMS provider"
    SENT = "sent", "sent to the carrier"
    DELIVERED = "delivered", "delivered to the handset"
    UNDELIVERED = "undelivered", "undelivered"
    FAILED = "failed", "failed"


# How far along each delivery status is: a late report never moves a challenge backwards.
DELIVERY_PROGRESS = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.RETRYING: 1,
    DeliveryStatus.ACCEPTED: 2,
    DeliveryStatus.SENT: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.UNDELIVERED: 4,
    DeliveryStatus.FAILED: 4,
}


class RevocationReason(models.TextChoices):
    """CRL reason codes a number certificate can carry (RFC 5280 §5.3.1): the values are
    ``resolution.protocol.certificates.REVOCATION_REASONS`` (tests/ca/test_choices.py), with
    labels for the admin."""

    UNSPECIFIED = "unspecified", "unspecified"
    KEY_COMPROMISE = "keyCompromise", "key compromise"
    AFFILIATION_CHANGED = "affiliationChanged", "affiliation changed (number ported or given up)"
    SUPERSEDED = "superseded", "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation", "cessation of operation"


class RequestStatus(models.TextChoices):
    """Where a certificate request held by a number lock stands (DESIGN §7.2). Every status
    but ``pending`` is also the public reason of its ``request_closed`` log entry."""

    PENDING = "pending", "pending (waiting for a locked holder, or the end of the wait)"
    APPROVED = "approved", "approved by a locked holder (issued)"
    REFUSED = "refused", "refused by a locked holder (never issued)"
    WAITED = "waited", "issued after the wait, with no answer"
    UNLOCKED = "unlocked", "issued when no lock held any more"


REQUEST_ISSUED = frozenset({RequestStatus.APPROVED, RequestStatus.WAITED, RequestStatus.UNLOCKED})


class DisputeStatus(models.TextChoices):
    """Where a holder's dispute of a certificate stands; the closed ones are the public reason
    of its ``dispute_closed`` log entry."""

    OPEN = "open", "open (on the operator's queue)"
    REVOKED = "revoked", "closed: the disputed certificate was revoked"
    DISMISSED = "dismissed", "closed: dismissed by the operator"
