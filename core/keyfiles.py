"""Private keys and certificates as files under ``RS_KEY_DIR``, created once, read by every process.

A private key file is PEM with the label ``RS ENCRYPTED PRIVATE KEY``; its bytes are::

    version (1 byte, 1) | log2(N) (1) | r (1) | p (1) | salt (16) | nonce (12) | ciphertext

where the ciphertext is the key's unencrypted PKCS #8 DER sealed with AES-256-GCM (its 16-byte
tag at the end) under a key derived from the passphrase by scrypt (RFC 7914) with that N, r, p
and salt, the first 32 bytes (the header) as associated data. scrypt is memory-hard: each guess
at the passphrase costs 128·N·r bytes of memory as well as time (N = 2^17, r = 8, p = 1 by
default: 128 MiB, the OWASP minimum), where the PKCS #8 files written before (PBES2, PBKDF2 with
2,048 iterations) cost a few microseconds. Those older files are still read, and
``manage.py keys_reencrypt`` rewrites them in this format.

Every file is written to a temporary name and linked into place, so processes starting together
either create a file or find a complete one, never a half-written one; the first to link wins.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import tempfile
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = structlog.get_logger(__name__)

PEM_LABEL = "RS ENCRYPTED PRIVATE KEY"
FORMAT_VERSION = 1
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
NONCE_BYTES = 12
HEADER_BYTES = 4 + SALT_BYTES + NONCE_BYTES
# What a file may ask of the reader: from the cheapest a test uses to 1 GiB of memory.
SCRYPT_LOG2N_RANGE = range(10, 21)
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def _passphrase(passphrase: str | None = None) -> bytes:
    if passphrase is None:
        passphrase = str(settings.RS_KEY_PASSPHRASE)
        if not passphrase:
            raise ImproperlyConfigured("RS_KEY_PASSPHRASE is not set: it encrypts the private keys")
    return passphrase.encode()


def _derive(passphrase: bytes, salt: bytes, log2n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**log2n, r=r, p=p).derive(passphrase)


def key_encrypt(key: PrivateKeyTypes, passphrase: str | None = None) -> bytes:
    """``key`` as the PEM of an encrypted key file (the module's format), with the configured
    scrypt cost (``RS_KEY_SCRYPT_LOG2N``)."""
    log2n = int(settings.RS_KEY_SCRYPT_LOG2N)
    salt, nonce = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(NONCE_BYTES)
    header = bytes([FORMAT_VERSION, log2n, SCRYPT_R, SCRYPT_P]) + salt + nonce
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sealed = AESGCM(_derive(_passphrase(passphrase), salt, log2n, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, der, header
    )
    body = base64.b64encode(header + sealed).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(
        [f"-----BEGIN {PEM_LABEL}-----", *lines, f"-----END {PEM_LABEL}-----", ""]
    ).encode()


def key_decrypt(pem: bytes, passphrase: str | None = None) -> PrivateKeyTypes:
    """The key in a key file's bytes, in this module's format or PKCS #8 PBES2 (older files).
    ValueError when the passphrase is wrong or the file damaged."""
    match = _PEM.search(pem)
    if match is None or match.group(1).decode() != PEM_LABEL:
        return serialization.load_pem_private_key(pem, password=_passphrase(passphrase))
    data = base64.b64decode(match.group(2))
    header, sealed = data[:HEADER_BYTES], data[HEADER_BYTES:]
    if len(header) < HEADER_BYTES or header[0] != FORMAT_VERSION:
        raise ValueError("not a key file of a version this service reads")
    log2n, r, p = header[1], header[2], header[3]
    if log2n not in SCRYPT_LOG2N_RANGE or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    salt, nonce = header[4 : 4 + SALT_BYTES], header[4 + SALT_BYTES :]
    try:
        der = AESGCM(_derive(_passphrase(passphrase), salt, log2n, r, p)).decrypt(
            nonce, sealed, header
        )
    except InvalidTag as wrong:
        raise ValueError("wrong passphrase or a damaged file") from wrong
    return serialization.load_der_private_key(der, password=None)


def key_file_is_current(path: Path) -> bool:
    """Whether the file at ``path`` is in this module's format, at least as costly to guess as
    the configured scrypt cost; False for an older PKCS #8 file."""
    match = _PEM.search(path.read_bytes())
    if match is None or match.group(1).decode() != PEM_LABEL:
        return False
    header = base64.b64decode(match.group(2))[:4]
    return header[0] == FORMAT_VERSION and header[1] >= int(settings.RS_KEY_SCRYPT_LOG2N)


def key_files(directory: Path) -> list[Path]:
    """The private key files in ``directory`` (PEM files holding a private key)."""
    return sorted(
        path
        for path in directory.glob("*.pem")
        if path.is_file() and b"PRIVATE KEY-----" in path.read_bytes()[:64]
    )


def _temporary_written(path: Path, data: bytes) -> str:
    """A new file beside ``path`` holding ``data``, on disk; the caller moves it in place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def file_create_once(path: Path, data: bytes) -> bool:
    """Write ``data`` at ``path`` unless a file is there; True when this call wrote it."""
    temporary = _temporary_written(path, data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def file_replace(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` in one step: readers see the old file or the new, never a part."""
    temporary = _temporary_written(path, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def key_file_create(path: Path, key: PrivateKeyTypes, *, passphrase: str | None = None) -> bool:
    """Store ``key`` encrypted at ``path`` unless a key is there; True when this call stored it.
    The passphrase is ``RS_KEY_PASSPHRASE`` unless given (the offline root's own)."""
    return file_create_once(path, key_encrypt(key, passphrase))


def key_file_load(path: Path, *, passphrase: str | None = None) -> PrivateKeyTypes:
    """The decrypted key at ``path``; a clear configuration error when missing or unreadable."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError as missing:
        raise ImproperlyConfigured(
            f"no key at {path}: run `manage.py bootstrap` first"
        ) from missing
    try:
        key = key_decrypt(pem, passphrase)
    except (ValueError, TypeError) as wrong:
        what = "RS_KEY_PASSPHRASE" if passphrase is None else "passphrase"
        raise ImproperlyConfigured(
            f"cannot decrypt {path}: wrong {what} or a damaged file"
        ) from wrong
    if not key_file_is_current(path):
        logger.warning("key_file_outdated", path=str(path), remedy="manage.py keys_reencrypt")
    return key


def key_file_reencrypt(path: Path, *, passphrase: str | None, new_passphrase: str | None) -> None:
    """Rewrite the key file at ``path`` in the current format and cost, under ``new_passphrase``
    (None: ``RS_KEY_PASSPHRASE``); the key itself is unchanged."""
    key = key_file_load(path, passphrase=passphrase)
    file_replace(path, key_encrypt(key, new_passphrase))
