"""The log's keys: an Ed25519 note key that signs checkpoints, a VRF key for number labels, and
a note key of its own that signs promises of inclusion (resolution.protocol.promise).

All three are Ed25519 private keys in PKCS #8 files under ``RS_KEY_DIR``, encrypted with
``RS_KEY_PASSPHRASE`` (PBES2). :func:`log_keys_bootstrap` creates them on first start; every
process then loads them once. Public halves are served at ``/log/key``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.keyfiles import key_file_create, key_file_load
from resolution.protocol import vrf
from resolution.protocol.note import Signer, verifier_key
from resolution.protocol.promise import promise_key_name

NOTE_KEY_FILE = "log-note-ed25519.pem"
VRF_KEY_FILE = "log-vrf-ed25519.pem"
PROMISE_KEY_FILE = "log-promise-ed25519.pem"


def _write_new_key(path: Path) -> bool:
    """Create an encrypted Ed25519 key at ``path`` unless one exists; True when created."""
    return key_file_create(path, Ed25519PrivateKey.generate())


def _load_seed(path: Path) -> bytes:
    key = key_file_load(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 key")
    return key.private_bytes_raw()


@dataclass(frozen=True)
class LogKeys:
    """The loaded keys. ``repr`` never shows the private halves."""

    signer: Signer
    promise_signer: Signer
    vrf_public_key: bytes
    _vrf_secret: bytes

    def __repr__(self) -> str:
        return f"LogKeys(origin={self.signer.name!r}, key_id={self.signer.key_id.hex()})"

    @property
    def note_verifier_key(self) -> str:
        """The checkpoint verifier key, ``<origin>+<key id>+<base64 key>`` (C2SP signed-note)."""
        return verifier_key(self.signer.name, self.signer.public_key)

    @property
    def promise_verifier_key(self) -> str:
        """The promise verifier key, ``<origin>/promise+<key id>+<base64 key>``."""
        return verifier_key(self.promise_signer.name, self.promise_signer.public_key)

    def vrf_prove(self, alpha: bytes) -> bytes:
        """An RFC 9381 proof for ``alpha`` under the log's VRF key."""
        return vrf.prove(self._vrf_secret, alpha)


def log_keys_bootstrap() -> str:
    """Create the log's keys if missing (idempotent); say what was done."""
    directory = Path(settings.RS_KEY_DIR)
    names = (NOTE_KEY_FILE, VRF_KEY_FILE, PROMISE_KEY_FILE)
    created = [name for name in names if _write_new_key(directory / name)]
    log_keys.cache_clear()
    keys = log_keys()  # proves the passphrase opens them
    what = "created" if created else "found"
    return f"Log keys {what} in {directory}; checkpoint verifier key: {keys.note_verifier_key}"


@functools.cache
def log_keys() -> LogKeys:
    """The log's keys, loaded and decrypted once per process."""
    directory = Path(settings.RS_KEY_DIR)
    vrf_secret = _load_seed(directory / VRF_KEY_FILE)
    return LogKeys(
        signer=Signer(settings.RS_LOG_ORIGIN, _load_seed(directory / NOTE_KEY_FILE)),
        promise_signer=Signer(
            promise_key_name(settings.RS_LOG_ORIGIN), _load_seed(directory / PROMISE_KEY_FILE)
        ),
        vrf_public_key=vrf.public_key(vrf_secret),
        _vrf_secret=vrf_secret,
    )
