"""CA tasks: keeping the CRL fresh and pruning the PASSporT replay cache. Thin: each calls one
service. A challenge's SMS is no task of its own: it is an outbox message (ca.services.delivery
defines its sender; outbox.tasks dispatches it).
"""

from __future__ import annotations

from ca.services import crls, external, passports
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
