"""Private keys and certificates as files under ``RS_KEY_DIR``, created once, read by every process.

Private keys are PKCS #8 PEM encrypted with ``RS_KEY_PASSPHRASE`` (PBES2). Every file is
written to a temporary name and linked into place, so processes starting together either
create a file or find a complete one, never a half-written one; the first to link wins.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _passphrase() -> bytes:
    if not settings.RS_KEY_PASSPHRASE:
        raise ImproperlyConfigured("RS_KEY_PASSPHRASE is not set: it encrypts the private keys")
    return str(settings.RS_KEY_PASSPHRASE).encode()


def file_create_once(path: Path, data: bytes) -> bool:
    """Write ``data`` at ``path`` unless a file is there; True when this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def key_file_create(path: Path, key: PrivateKeyTypes) -> bool:
    """Store ``key`` encrypted at ``path`` unless a key is there; True when this call stored it."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase()),
    )
    return file_create_once(path, pem)


def key_file_load(path: Path) -> PrivateKeyTypes:
    """The decrypted key at ``path``; a clear configuration error when missing or unreadable."""
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=_passphrase())
    except FileNotFoundError as missing:
        raise ImproperlyConfigured(
            f"no key at {path}: run `manage.py bootstrap` first"
        ) from missing
    except (ValueError, TypeError) as wrong:
        raise ImproperlyConfigured(
            f"cannot decrypt {path}: wrong RS_KEY_PASSPHRASE or a damaged file"
        ) from wrong
