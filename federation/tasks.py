"""Federation tasks. Thin: each calls one service."""

from __future__ import annotations

from core.tasks import periodic_task
from federation import services


@periodic_task(name="federation.tasks.advertisement_renew")
def advertisement_renew() -> None:
    """Sign this service's range advertisement anew when it is due (beat: hourly)."""
    services.advertisement_renew()


@periodic_task(name="federation.tasks.peers_fetch")
def peers_fetch() -> int:
    """Fetch and check every active peer's advertisement (beat: RS_PEER_FETCH_SECONDS)."""
    return services.peers_fetch()
