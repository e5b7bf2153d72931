"""What the federation tests share: advertisements signed under a peer's PKI (the fixtures are
in conftest.py)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from resolution.protocol.advertisements import advertisement_sign
from resolution.protocol.tnauthlist import encode_tn_auth_list
from tests.federation.peer_server import PeerServer
from tests.pki import Pki, p256

BLOCK = "1-33698000000-1000"
NUMBER = "+33698000500"


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _signed(
    pki: Pki,
    entries: dict[str, str],
    *,
    at: datetime | None = None,
    ranges: tuple[tuple[str, int], ...] = (("33698000000", 100000),),
) -> str:
    key = p256()
    leaf = pki.leaf(key.public_key(), tn_auth_list=encode_tn_auth_list([], ranges))
    return advertisement_sign(
        entries, key, [leaf, pki.issuing], issued_at=at or timezone.now().replace(microsecond=0)
    )


def _served(server: PeerServer, token: str) -> None:
    server.body = token.encode()


def key_dir_own(settings: Any, tmp_path: Path) -> Path:
    """Point RS_KEY_DIR at a copy of the keys the test session shares (the CA's, the log's):
    a range certificate bootstrapped for one test's ranges must not replace, half-written,
    the one another test process is reading."""
    folder = tmp_path / "keys"
    shutil.copytree(settings.RS_KEY_DIR, folder)
    settings.RS_KEY_DIR = folder
    return folder
