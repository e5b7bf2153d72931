"""CA tasks: keeping the CRL fresh and pruning the PASSporT replay cache. Thin: each calls one
service. A challenge's SMS is no task of its own: it is an outbox message (ca.services.delivery
defines its sender; outbox.tasks dispatches it).
"""

from __future__ import annotations

from celery import shared_task

from ca.services import crls, external, passports


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
