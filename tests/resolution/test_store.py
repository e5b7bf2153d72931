"""The per-number store of keys, certificates and pinned log keys (``resolution.client.store``)."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from resolution.client.store import (
    PinMismatchError,
    Store,
    StoreError,
    config_dir,
    public_key_sha256,
)
from resolution.protocol.cosignature import generate_cosigner
from tests.ca.flow import NUMBER
from tests.resolution.logserver import TiledLog


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _certificate_pem(key: ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_store_writes_every_file_0600_in_folders_0700(tmp_path):
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "rs")
        key = ec.generate_private_key(ec.SECP256R1())
        store.pending_save(
            NUMBER,
            key=key,
            challenge_id="c1",
            expires_at="2030-01-01T00:00:00+00:00",
            server="http://rs.test",
        )
        pending = store.pending(NUMBER)
        assert pending is not None and pending.challenge_id == "c1"
        assert public_key_sha256(pending.key) == public_key_sha256(key)
        store.credentials_save(
            NUMBER,
            key=key,
            certificate_pem=_certificate_pem(key),
            chain_pems=(),
            serial="01",
            x5u="http://rs.test/ca/certs/01.pem",
            server="http://RS.test/",
        )
        store.pin_log("http://rs.test", TiledLog().vkey, b"\x01" * 32)
        store.monitor_state_save(NUMBER, b"{}")
    finally:
        os.umask(old)
    folder = tmp_path / "rs" / "numbers" / NUMBER
    assert store.pending(NUMBER) is None and not (folder / "key.pending.pem").exists()
    for name in ("key.pem", "certificate.pem", "chain.pem", "number.json", "monitor.json"):
        assert _mode(folder / name) == 0o600, name
    assert _mode(tmp_path / "rs" / "known_logs") == 0o600
    assert _mode(folder) == 0o700 and _mode(tmp_path / "rs") == 0o700
    credentials = store.credentials(NUMBER)
    assert (credentials.serial, credentials.server, credentials.revoked) == (
        "01",
        "http://rs.test",
        False,
    )
    assert store.own_public_keys(NUMBER) == {public_key_sha256(key)}


def test_store_refuses_a_private_key_others_can_read(tmp_path):
    store = Store(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    store.credentials_save(
        NUMBER,
        key=key,
        certificate_pem=_certificate_pem(key),
        chain_pems=(),
        serial="01",
        x5u="u",
        server="http://rs.test",
    )
    key_file = store.number_dir(NUMBER) / "key.pem"
    key_file.chmod(0o644)
    with pytest.raises(StoreError, match=r"accessible by others \(mode 0644\).*chmod 600"):
        store.credentials(NUMBER)
    with pytest.raises(StoreError, match="no key stored for \\+33698765432"):
        store.credentials("+33698765432")
    with pytest.raises(StoreError, match=r"not an E\.164"):
        store.number_dir("../../etc")


def test_log_keys_are_pinned_on_first_use_and_a_change_is_refused(tmp_path):
    store = Store(tmp_path)
    first, second = TiledLog().vkey, TiledLog().vkey
    assert store.pin_log("https://RS.example.net/", first, b"\x01" * 32) is True
    assert store.pin_log("https://rs.example.net", first, b"\x01" * 32) is False
    assert store.pinned_log("https://rs.example.net") == (first, b"\x01" * 32)
    with pytest.raises(PinMismatchError, match=r"HAVE CHANGED.*known_logs"):
        store.pin_log("https://rs.example.net", second, b"\x01" * 32)
    with pytest.raises(PinMismatchError):
        store.pin_log("https://rs.example.net", first, b"\x02" * 32)
    assert store.pinned_log("https://rs.example.net") == (first, b"\x01" * 32)  # unchanged
    assert store.pin_log("https://other.example.net", second, b"\x02" * 32) is True
    assert _mode(tmp_path / "known_logs") == 0o600

    key = ec.generate_private_key(ec.SECP256R1())
    root = x509.load_pem_x509_certificate(_certificate_pem(key).encode())
    other = x509.load_pem_x509_certificate(
        _certificate_pem(ec.generate_private_key(ec.SECP256R1())).encode()
    )
    assert store.pin_root("https://rs.example.net", root) is True
    assert store.pin_root("https://rs.example.net", root) is False
    with pytest.raises(PinMismatchError, match=r"CA ROOT .* HAS CHANGED"):
        store.pin_root("https://rs.example.net", other)


def test_a_witness_policy_is_pinned_on_first_use_and_a_change_is_refused(tmp_path):
    store = Store(tmp_path)
    url = "https://rs.example.net/"
    witness = generate_cosigner("w.example").verifier.vkey
    policy = f"log {TiledLog().vkey}\nwitness w {witness}  # ours\nquorum w\n"
    assert store.pinned_policy(url) is None
    assert store.pin_policy(url, policy) is True
    path = store.policy_path(url)
    assert path == tmp_path / "witness_policies" / "https%3A%2F%2Frs.example.net"
    assert _mode(path) == 0o600
    # Compared as written back: comments and spacing are not a change.
    assert store.pin_policy(url, policy.replace("  # ours", "")) is False
    with pytest.raises(PinMismatchError, match=rf"WITNESS POLICY .* HAS CHANGED: pinned quorum w "
                       rf"\(witnesses: w {re.escape(witness)}\), the server now serves quorum "
                       rf"none \(witnesses: none\).* delete {re.escape(str(path))}"):  # fmt: skip
        store.pin_policy(url, "quorum none\n")
    assert store.pin_policy(url, "quorum none\n", replace=True) is True
    assert store.pinned_policy(url) == "quorum none\n"
    path.write_text("quorum\n")
    with pytest.raises(StoreError, match="is not a witness policy"):
        store.pinned_policy(url)


def test_config_dir_follows_the_environment(tmp_path):
    assert config_dir({"RS_CONFIG_DIR": str(tmp_path)}) == tmp_path
    assert config_dir({"XDG_CONFIG_HOME": "/x/config"}) == Path("/x/config/rs")
    assert config_dir({"XDG_CONFIG_HOME": "relative"}) == Path.home() / ".config" / "rs"
    assert config_dir({}) == Path.home() / ".config" / "rs"


def test_a_held_back_request_keeps_its_key_until_issued_or_closed(tmp_path):
    store = Store(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(StoreError, match="no challenge is pending"):
        store.request_save(NUMBER, request_id="r1", issues_at="2026-12-01T09:12:00+00:00")
    store.pending_save(
        NUMBER, key=key, challenge_id="c1", expires_at="…", server="https://rs.example"
    )
    store.request_save(NUMBER, request_id="r1", issues_at="2026-12-01T09:12:00+00:00")
    pending = store.pending(NUMBER)
    assert pending is not None
    assert (pending.challenge_id, pending.request_id, pending.issues_at) == (
        "c1",
        "r1",
        "2026-12-01T09:12:00+00:00",
    )
    assert public_key_sha256(pending.key) == public_key_sha256(key)

    store.pending_clear(NUMBER)  # refused: the key is gone, but remembered as the number's own
    assert store.pending(NUMBER) is None
    assert not (tmp_path / "numbers" / NUMBER / "key.pending.pem").exists()
    assert store.own_public_keys(NUMBER) == {public_key_sha256(key)}


def test_a_disputes_challenge_is_kept_until_its_code(tmp_path):
    store = Store(tmp_path)
    assert store.dispute_pending(NUMBER) is None
    store.dispute_save(
        NUMBER,
        disputed="ff03",
        challenge_id="c2",
        expires_at="…",
        server="https://RS.example/",
        statement="my SIM was swapped",
    )
    kept = store.dispute_pending(NUMBER)
    assert kept is not None
    assert (kept.disputed, kept.challenge_id, kept.server, kept.statement) == (
        "ff03",
        "c2",
        "https://rs.example",
        "my SIM was swapped",
    )
    store.dispute_clear(NUMBER)
    assert store.dispute_pending(NUMBER) is None
