"""``rs map``, ``rs login`` and ``rs lookup`` of a number another service serves, against the
real service (the live server) as the home service and a peer it accepted
(tests.federation.peer_server). The lookup followed all the way to a second real service is
in tests/integration/test_federation_pair.py; here, what the home service's answers and map
decide: roots pinned from the map, a changed one refused, the peer's own API key required (the
home one is never sent there), a conflict never resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from federation.keys import advertisement_keys_bootstrap
from federation.models import Peer
from federation.services import advertisement_renew, peer_fetch
from providers.services import api_key_create
from resolution.client.store import Store
from tests.factories import ProviderFactory
from tests.federation.peer_server import PeerServer
from tests.federation.peers import BLOCK, NUMBER, _pem, _served, _signed
from tests.pki import Pki
from tests.resolution.test_cli_commands import Rs

pytestmark = pytest.mark.django_db(transaction=True)

SERVED = ["1-33612000000-1000000", "2-33698765432"]  # as tests/federation/test_referrals.py


@pytest.fixture
def home(live_server: Any, settings: Any) -> str:
    settings.RS_PUBLIC_URL = live_server.url
    settings.RS_SERVED_RANGES = SERVED
    advertisement_keys_bootstrap()
    advertisement_renew(force=True)
    return str(live_server.url)


@pytest.fixture
def rs(capsys: Any, monkeypatch: Any, home: str, tmp_path: Path) -> Rs:
    issued = api_key_create(provider=ProviderFactory(slug="caller-chat"), label="test")
    return Rs(capsys, monkeypatch, home, issued.secret, tmp_path / "caller")


@pytest.fixture
def accepted(home: str, pki: Pki, peer: Peer, peer_server: PeerServer) -> str:
    _served(peer_server, _signed(pki, {BLOCK: peer.url}))
    peer_fetch(peer_id=peer.pk)
    return peer.url


def test_map_sync_pins_each_services_root_and_keeps_the_map(
    rs: Rs, pki: Pki, accepted: str, home: str
) -> None:
    synced = rs("map", "sync", "--json")

    assert synced.code == 0, synced.err
    assert f"pinned the root of {accepted}" in synced.err
    store = Store(rs.folder)
    assert store.pinned_root(accepted) == pki.root
    assert store.service_map(home) is not None
    shown = rs("map", "--json")
    assert shown.code == 0
    assert '"blocks": [\n        "1-33698000000-1000"' in shown.out or BLOCK in shown.out
    assert rs("map").out.startswith(f"the map of {home}")


def test_a_map_that_changes_a_pinned_root_is_refused(
    rs: Rs, accepted: str, peer: Peer, peer_server: PeerServer
) -> None:
    assert rs("map", "sync").code == 0
    other = Pki(label="Impostor")
    Peer.objects.filter(pk=peer.pk).update(root_pem=_pem(other.root))
    _served(peer_server, _signed(other, {BLOCK: peer.url}))
    peer_fetch(peer_id=peer.pk)

    refused = rs("map", "sync")

    assert refused.code == 1
    assert "HAS CHANGED" in refused.err


def test_a_referral_needs_the_other_services_own_api_key(rs: Rs, accepted: str) -> None:
    """The home service refers the lookup; the peer's root comes from the map (fetched now);
    without a key kept for the peer, nothing is sent to it -- the home key never is."""
    found = rs("lookup", NUMBER)

    assert found.code == 3, found.err
    assert f"no API key kept for {accepted}: run 'rs login'" in found.err
    assert Store(rs.folder).pinned_root(accepted) is not None  # learnt from the map


def test_with_a_kept_map_the_lookup_goes_straight_to_the_peer(rs: Rs, accepted: str) -> None:
    assert rs("map", "sync").code == 0
    found = rs("lookup", NUMBER)
    # The map named the peer: the lookup went there first (and stopped at its missing key).
    assert f"no API key kept for {accepted}" in found.err


def test_two_services_claiming_a_number_are_shown_not_chosen(
    rs: Rs, accepted: str, pki: Pki, settings: Any
) -> None:
    """Two peers claim the number: the home service answers with both, and rs follows
    neither."""
    Peer.objects.create(
        name="rs-c",
        url="https://rs-c.example",
        root_pem=_pem(pki.root),
        allowed_ranges=BLOCK,
    )
    from django.utils import timezone

    from federation.models import PeerAdvertisement

    token = _signed(pki, {BLOCK: "https://rs-c.example"})
    PeerAdvertisement.objects.create(
        peer=Peer.objects.get(name="rs-c"),
        token=token,
        issued_at=timezone.now(),
        ranges=BLOCK,
        fetched_at=timezone.now(),
    )

    found = rs("lookup", NUMBER)

    assert found.code == 3
    assert "2 services claim it" in found.err
    assert accepted in found.err and "https://rs-c.example" in found.err


def test_login_checks_the_key_and_keeps_it_for_that_service(
    rs: Rs, home: str, monkeypatch: Any
) -> None:
    kept = rs("login", "--json")
    assert kept.code == 0, kept.err
    assert Store(rs.folder).api_key(home) == rs.key

    # Later commands use it when no key is given.
    rs.key = ""
    assert rs("lookup", "+33612000042").code == 0
    # A key the service refuses is not kept.
    rs.key = "rs_live_notakey"
    assert rs("login").code == 3
    assert Store(rs.folder).api_key(home) != "rs_live_notakey"
