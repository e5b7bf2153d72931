"""Key files resist guessing at their passphrase (scrypt), older files are still read, and
``manage.py keys_reencrypt`` rewrites them, or rewrites every file under a new passphrase."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from core.keyfiles import (
    PEM_LABEL,
    key_file_create,
    key_file_is_current,
    key_file_load,
)


def _header(path):
    """version, log2(N), r, p of a key file."""
    body = path.read_text().splitlines()[1:-1]
    return tuple(base64.b64decode("".join(body))[:4])


def _pbkdf2_file(path, key, passphrase: bytes) -> None:
    """A key file as the service wrote them before: PKCS #8, PBES2, PBKDF2 (2,048 rounds)."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )


def test_new_key_files_are_scrypt_at_the_configured_cost(tmp_path, settings):
    settings.RS_KEY_SCRYPT_LOG2N = 17  # the default outside the tests: 128 MiB per guess
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "key.pem"
    assert key_file_create(path, key)
    assert path.read_text().startswith(f"-----BEGIN {PEM_LABEL}-----\n")
    assert _header(path) == (1, 17, 8, 1)
    assert key_file_is_current(path)
    # Not a PKCS #8 file any tool would try 2,048 PBKDF2 rounds against.
    with pytest.raises(ValueError, match="no BEGIN/END delimiters for a private key"):
        serialization.load_pem_private_key(path.read_bytes(), password=b"test-only-passphrase")
    loaded = key_file_load(path)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_a_wrong_passphrase_or_a_changed_byte_is_a_clear_error(tmp_path, settings):
    path = tmp_path / "key.pem"
    key_file_create(path, ec.generate_private_key(ec.SECP256R1()))
    settings.RS_KEY_PASSPHRASE = "another-passphrase-entirely"
    with pytest.raises(ImproperlyConfigured, match="wrong RS_KEY_PASSPHRASE"):
        key_file_load(path)
    settings.RS_KEY_PASSPHRASE = "test-only-passphrase"
    lines = path.read_text().splitlines()
    data = bytearray(base64.b64decode("".join(lines[1:-1])))
    data[-1] ^= 1
    path.write_text(f"{lines[0]}\n{base64.b64encode(bytes(data)).decode()}\n{lines[-1]}\n")
    with pytest.raises(ImproperlyConfigured, match="damaged"):
        key_file_load(path)


def test_older_files_are_read_and_rewritten_by_keys_reencrypt(tmp_path, settings):
    settings.RS_KEY_DIR = tmp_path
    old_key = Ed25519PrivateKey.generate()
    _pbkdf2_file(tmp_path / "log-note-ed25519.pem", old_key, b"test-only-passphrase")
    key_file_create(tmp_path / "current.pem", ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "ca-root.pem").write_text("-----BEGIN CERTIFICATE-----\n")  # not a key
    assert not key_file_is_current(tmp_path / "log-note-ed25519.pem")
    loaded = key_file_load(tmp_path / "log-note-ed25519.pem")
    assert isinstance(loaded, Ed25519PrivateKey)
    current_bytes = (tmp_path / "current.pem").read_bytes()

    call_command("keys_reencrypt")

    assert key_file_is_current(tmp_path / "log-note-ed25519.pem")
    again = key_file_load(tmp_path / "log-note-ed25519.pem")
    assert isinstance(again, Ed25519PrivateKey)
    assert again.private_bytes_raw() == old_key.private_bytes_raw()
    assert (tmp_path / "current.pem").read_bytes() == current_bytes  # left as it was


def test_keys_reencrypt_changes_the_passphrase_or_nothing(tmp_path, settings, monkeypatch):
    settings.RS_KEY_DIR = tmp_path
    key = Ed25519PrivateKey.generate()
    key_file_create(tmp_path / "a.pem", key)
    _pbkdf2_file(tmp_path / "b.pem", key, b"some-other-passphrase-0123")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    monkeypatch.setenv("RS_NEW_KEY_PASSPHRASE", "the-new-passphrase-0123456789")
    with pytest.raises(CommandError, match=r"b\.pem"):
        call_command("keys_reencrypt", "--new-passphrase-env", "RS_NEW_KEY_PASSPHRASE")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before

    (tmp_path / "b.pem").unlink()
    call_command("keys_reencrypt", "--new-passphrase-env", "RS_NEW_KEY_PASSPHRASE")
    with pytest.raises(ImproperlyConfigured):
        key_file_load(tmp_path / "a.pem")
    settings.RS_KEY_PASSPHRASE = "the-new-passphrase-0123456789"
    loaded = key_file_load(tmp_path / "a.pem")
    assert isinstance(loaded, Ed25519PrivateKey)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()
