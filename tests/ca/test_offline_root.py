"""The root CA's key stays offline: it is created on another machine with its own passphrase,
the service loads only the issuing CA's key, and the development bootstrap keeps the root's key
in a folder the service never reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from ca.authority import (
    DEVELOPMENT_ROOT_FOLDER,
    ISSUING_CERTIFICATE_FILE,
    ISSUING_KEY_FILE,
    ROOT_CERTIFICATE_FILE,
    ROOT_KEY_FILE,
    ca_bootstrap,
    ca_keys,
    crl_sign,
)
from core.keyfiles import key_file_load

ROOT = Path(__file__).resolve().parents[2]
ROOT_PASSPHRASE = "the-root-keys-own-passphrase"


@pytest.fixture
def ca_reloaded() -> Iterator[None]:
    """The CA this process loads is forgotten before and after: the test's, then the session's."""
    ca_keys.cache_clear()
    yield
    ca_keys.cache_clear()


@pytest.fixture
def offline(tmp_path, settings, monkeypatch, ca_reloaded) -> dict[str, Path]:
    """A root made by ``ca_init`` and an issuing CA by ``ca_issue_intermediate``; the service's
    RS_KEY_DIR holds what the operator copies from the second."""
    settings.RS_ROOT_KEY_PASSPHRASE = ROOT_PASSPHRASE
    monkeypatch.setenv("RS_KEY_PASSPHRASE", settings.RS_KEY_PASSPHRASE)
    root, issued = tmp_path / "root", tmp_path / "issued"
    call_command("ca_init", "--offline-root", str(root))
    call_command("ca_issue_intermediate", "--offline-root", str(root), "--key-dir", str(issued))
    settings.RS_KEY_DIR = issued
    return {"root": root, "keys": issued}


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def test_the_service_signs_with_an_issuing_ca_whose_root_key_it_never_had(offline, settings):
    assert {path.name for path in offline["root"].iterdir()} == {
        ROOT_CERTIFICATE_FILE,
        ROOT_KEY_FILE,
    }
    assert {path.name for path in offline["keys"].iterdir()} == {
        ROOT_CERTIFICATE_FILE,
        ISSUING_KEY_FILE,
        ISSUING_CERTIFICATE_FILE,
    }
    # The root's key has its own passphrase, not the service's.
    with pytest.raises(ImproperlyConfigured):
        key_file_load(offline["root"] / ROOT_KEY_FILE)
    assert key_file_load(offline["root"] / ROOT_KEY_FILE, passphrase=ROOT_PASSPHRASE)

    keys = ca_keys()
    assert _signed_by(keys.issuing, keys.root)
    crl = x509.load_der_x509_crl(
        crl_sign(
            number=1,
            revoked=[],
            this_update=keys.issuing.not_valid_before_utc,
            next_update=keys.issuing.not_valid_after_utc,
        )
    )
    assert crl.is_signature_valid(keys.issuing_key.public_key())
    # Bootstrap finds the CA and needs no root key.
    assert "CA found" in ca_bootstrap()


def test_production_bootstrap_never_creates_a_root(tmp_path, settings, ca_reloaded):
    settings.RS_KEY_DIR = tmp_path
    settings.RS_CA_CREATE_ON_BOOTSTRAP = False
    with pytest.raises(ImproperlyConfigured, match="ca_init --offline-root"):
        ca_bootstrap()
    assert not list(tmp_path.rglob("*.pem"))


def test_development_bootstrap_keeps_the_root_key_apart(tmp_path, settings, ca_reloaded):
    settings.RS_KEY_DIR = tmp_path
    assert "CA created" in ca_bootstrap()
    assert not (tmp_path / ROOT_KEY_FILE).exists()
    assert (tmp_path / DEVELOPMENT_ROOT_FOLDER / ROOT_KEY_FILE).exists()
    # The service runs, and bootstraps again, without the root's key.
    (tmp_path / DEVELOPMENT_ROOT_FOLDER / ROOT_KEY_FILE).unlink()
    ca_keys.cache_clear()
    assert "CA found" in ca_bootstrap()
    assert _signed_by(ca_keys().issuing, ca_keys().root)


def test_rotation_replaces_the_issuing_ca_under_the_same_root(offline, settings):
    first = ca_keys()
    with pytest.raises(CommandError, match="already"):
        call_command(
            "ca_issue_intermediate",
            "--offline-root",
            str(offline["root"]),
            "--key-dir",
            str(offline["keys"]),
        )
    call_command(
        "ca_issue_intermediate",
        "--offline-root",
        str(offline["root"]),
        "--key-dir",
        str(offline["keys"]),
        "--replace",
    )
    ca_keys.cache_clear()
    second = ca_keys()
    assert second.issuing_key.public_key() != first.issuing_key.public_key()
    assert second.root == first.root and _signed_by(second.issuing, second.root)
    assert len(list(offline["keys"].glob(f"{ISSUING_KEY_FILE}.retired-*"))) == 1


def test_the_issuing_key_needs_the_services_passphrase(offline, monkeypatch):
    monkeypatch.delenv("RS_KEY_PASSPHRASE")
    with pytest.raises(CommandError, match="RS_KEY_PASSPHRASE"):
        call_command(
            "ca_issue_intermediate",
            *("--offline-root", str(offline["root"]), "--key-dir", str(offline["keys"])),
            "--replace",
        )


def test_the_root_passphrase_is_its_own(tmp_path, settings):
    settings.RS_ROOT_KEY_PASSPHRASE = settings.RS_KEY_PASSPHRASE
    with pytest.raises(CommandError, match="must not be the service's"):
        call_command("ca_init", "--offline-root", str(tmp_path / "root"))
    settings.RS_ROOT_KEY_PASSPHRASE = ROOT_PASSPHRASE
    with pytest.raises(CommandError, match="RS_KEY_DIR"):
        call_command("ca_init", "--offline-root", str(settings.RS_KEY_DIR))


@pytest.mark.process
def test_ca_init_runs_on_a_machine_without_a_database(tmp_path):
    """As on the offline machine: no database is reached (DATABASE_URL names none that exists)."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "RS_"))
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "ca_init", "--offline-root", str(tmp_path / "root")],
        cwd=ROOT,
        env=environment
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
            "RS_KEY_DIR": str(tmp_path / "keys"),
            "RS_ROOT_KEY_PASSPHRASE": ROOT_PASSPHRASE,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Root CA created" in result.stdout
    key = key_file_load(tmp_path / "root" / ROOT_KEY_FILE, passphrase=ROOT_PASSPHRASE)
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_a_key_folder_of_before_keeps_working_and_is_told_to_move_the_root(
    tmp_path, settings, ca_reloaded
):
    """The root's key in RS_KEY_DIR itself, as bootstrap once wrote it: the same CA is found
    (and, issuing CA missing, a new one is signed by that same root)."""
    settings.RS_KEY_DIR = tmp_path
    ca_bootstrap()
    (tmp_path / DEVELOPMENT_ROOT_FOLDER / ROOT_KEY_FILE).rename(tmp_path / ROOT_KEY_FILE)
    root = ca_keys().root
    (tmp_path / ISSUING_CERTIFICATE_FILE).unlink()
    (tmp_path / ISSUING_KEY_FILE).unlink()
    said = ca_bootstrap()
    assert "CA created" in said and "move it offline" in said
    assert ca_keys().root == root and _signed_by(ca_keys().issuing, root)
