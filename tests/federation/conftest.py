"""Fixtures of the federation tests: a key folder of their own, a peer's PKI, and a peer
configured on the test's peer server (tests.federation.peer_server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from federation.models import Peer
from tests.federation.peer_server import PeerServer, peer_server  # noqa: F401  # a fixture
from tests.federation.peers import _pem, key_dir_own
from tests.pki import Pki


@pytest.fixture(autouse=True)
def own_key_dir(settings: Any, tmp_path: Path) -> Path:
    """Each test signs range certificates for its own served ranges: in a copy of the keys,
    not in the folder the other test processes share."""
    return key_dir_own(settings, tmp_path)


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
