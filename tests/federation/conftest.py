"""Fixtures of the federation tests: a peer's PKI, and a peer configured on the test's peer
server (tests.federation.peer_server)."""

from __future__ import annotations

import pytest

from federation.models import Peer
from tests.federation.peer_server import PeerServer, peer_server  # noqa: F401  # a fixture
from tests.federation.peers import _pem
from tests.pki import Pki


@pytest.fixture
def pki() -> Pki:
    return Pki(label="Peer")


@pytest.fixture
def peer(pki: Pki, peer_server: PeerServer) -> Peer:  # noqa: F811
    return Peer.objects.create(
        name="rs-b",
        url=peer_server.url,
        root_pem=_pem(pki.root),
        allowed_ranges="1-33698000000-100000",
    )
