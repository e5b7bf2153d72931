"""CA tasks: keeping the CRL fresh and pruning the PASSporT replay cache. Thin: each calls one
service. A challenge's SMS is no task of its own: it is an outbox message (ca.services.delivery
defines its sender; outbox.tasks dispatches it).
"""

from __future__ import annotations

from ca.services import crls, external, locks, passports
from core.tasks import periodic_task


@periodic_task(name="ca.tasks.crl_refresh")
def crl_refresh() -> None:
    """Sign a new CRL before the current one is half-way through its life (beat)."""
    crls.crl_refresh()


@periodic_task(name="ca.tasks.external_crls_refresh")
def external_crls_refresh() -> None:
    """Fetch the CRLs of CAs under other trusted roots (ca.trust); apply what they revoke."""
    external.external_crls_refresh()


@periodic_task(name="ca.tasks.passports_seen_prune")
def passports_seen_prune() -> int:
    """Forget verified PASSporTs that are stale anyway (beat: every ten minutes)."""
    return passports.passports_seen_prune()


@periodic_task(name="ca.tasks.certificate_requests_settle")
def certificate_requests_settle() -> int:
    """Issue the requests a lock held back once the wait is over or no lock holds (beat:
    every minute, so a request is issued at most a minute after its time)."""
    return locks.certificate_requests_settle()


@periodic_task(name="ca.tasks.signed_requests_prune")
def signed_requests_prune() -> int:
    """Forget the jtis of lock changes once their iat is too old anyway (beat: hourly)."""
    return locks.signed_requests_prune()
