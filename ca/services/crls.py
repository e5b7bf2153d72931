"""This CA's CRLs (RFC 5280 §5): signed on every revocation, renewed by beat and at startup.

``GET /ca/crl`` and the PASSporT checks only read the newest stored CRL
(``ca.selectors.crl_latest``); nothing that reads signs one.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from ca import authority
from ca.models import Certificate, Crl
from ca.selectors import crl_latest
from core import locks
from core.dates import rfc3339

logger = structlog.get_logger(__name__)

# How long superseded CRLs are kept (the admin lists them).
CRL_KEEP = timedelta(days=7)


def crl_lock() -> None:
    """Hold the CRL lock until the transaction ends (re-entrant within it).

    A revocation takes it last (``core.locks``), then calls :func:`crl_publish`.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [locks.CRL_NUMBER])


def crl_publish() -> Crl:
    """Sign a new CRL of every revoked certificate that has not expired (RFC 5280 §5).

    Called inside a revocation's transaction, or by :func:`crl_refresh`.
    """
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        # Numbers strictly increase, and a CRL signed after a revocation commits lists it.
        crl_lock()
        number = (Crl.objects.aggregate(last=Max("number"))["last"] or 0) + 1
        revoked = [
            authority.RevokedSerial(serial=int(serial, 16), revoked_at=revoked_at, reason=reason)
            for serial, revoked_at, reason in Certificate.objects.filter(
                revoked_at__isnull=False, not_after__gt=now
            )
            .order_by("revoked_at")
            .values_list("serial", "revoked_at", "revocation_reason")
            if revoked_at is not None  # always, by the filter: this tells the type checker
        ]
        next_update = now + timedelta(hours=settings.RS_CRL_LIFETIME_HOURS)
        crl = Crl.objects.create(
            number=number,
            der=authority.crl_sign(
                number=number, revoked=revoked, this_update=now, next_update=next_update
            ),
            this_update=now,
            next_update=next_update,
            revoked_count=len(revoked),
        )
    logger.info("crl published", number=number, revoked=len(revoked))
    return crl


def crl_refresh(*, keep: timedelta = CRL_KEEP) -> Crl:
    """The newest CRL, signed now if there is none or the newest is past half its life; CRLs
    older than ``keep`` are dropped.

    Run by beat (``ca.tasks.crl_refresh``) and at startup, so that the CRL served is always far
    from its nextUpdate.
    """
    half_life = timedelta(hours=settings.RS_CRL_LIFETIME_HOURS) / 2
    with transaction.atomic(durable=True):
        crl_lock()  # two refreshes at once (beat, a startup) sign one CRL, not two
        latest = crl_latest()
        if latest is None or latest.next_update - timezone.now() <= half_life:
            latest = crl_publish()
        Crl.objects.filter(this_update__lt=timezone.now() - keep).exclude(
            number=latest.number
        ).delete()
    return latest


def crl_bootstrap() -> str:
    """Bootstrap step (``manage.py bootstrap``, ``serve``): a current CRL exists from the start."""
    crl = crl_refresh()
    return f"CRL {crl.number} valid until {rfc3339(crl.next_update)}"
