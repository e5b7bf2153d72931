"""``resolution.client.verify``: what the SDK checks before trusting what the service says,
against the real service (pytest-django's live server)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from resolution.client import AppendedLog, Client, IssuedCertificate, csr_pem
from resolution.client.store import PinMismatchError, Store
from resolution.client.verify import (
    PinnedService,
    VerificationError,
    certificate_check,
    certificate_log_check,
)
from resolution.protocol.note import generate_signer, verifier_key
from tests.ca.flow import NUMBER, code_sent

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_NUMBER = "+33698765432"


@pytest.fixture
def client(live_server: Any, issued_key: Any) -> Iterator[Client]:
    with Client(live_server.url, issued_key.secret, timeout=30) as running:
        yield running


@pytest.fixture
def notices() -> list[str]:
    return []


@pytest.fixture
def pinned(client: Client, tmp_path: Any, notices: list[str]) -> PinnedService:
    return PinnedService(client, Store(tmp_path), notify=notices.append)


def issue(client: Client, outbox: list[Any], key: ec.EllipticCurvePrivateKey) -> IssuedCertificate:
    challenge = client.challenge_start(NUMBER)
    client.challenge_verify(challenge.id, code_sent(outbox))
    issued = client.certificate_issue(challenge.id, csr_pem(key))
    assert isinstance(issued, IssuedCertificate)  # the number is not locked
    return issued


def other_root() -> x509.Certificate:
    """A CA root of someone else's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another root")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_an_issued_certificate_and_its_log_entry_verify_with_the_pinned_keys(
    pinned, client, sms_outbox, notices
):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue(client, sms_outbox, key)

    certificate = pinned.certificate_check(issued, number=NUMBER, key=key)
    included = pinned.certificate_log_check(issued, number=NUMBER, key=key)

    assert certificate.serial_number == int(issued.serial, 16)
    assert included.checkpoint.size > included.index
    assert [notice.split(": ")[0] for notice in notices] == [
        f"pinned the CA root of {client.base_url}",
        f"pinned the log keys of {client.base_url}",
    ]


def test_a_certificate_for_another_key_is_refused(pinned, client, sms_outbox):
    issued = issue(client, sms_outbox, ec.generate_private_key(ec.SECP256R1()))
    mine = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationError, match="is not for the key made here"):
        pinned.certificate_check(issued, number=NUMBER, key=mine)


def test_a_tnauthlist_without_the_number_is_refused(pinned, client, sms_outbox):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue(client, sms_outbox, key)
    with pytest.raises(VerificationError, match=f"TNAuthList does not cover \\{OTHER_NUMBER}"):
        pinned.certificate_check(issued, number=OTHER_NUMBER, key=key)


def test_a_certificate_chaining_to_another_root_is_refused(pinned, client, sms_outbox):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue(client, sms_outbox, key)
    with pytest.raises(VerificationError, match=f"certificate {issued.serial} does not verify"):
        certificate_check(issued, number=NUMBER, key=key, root=other_root())
    assert certificate_check(issued, number=NUMBER, key=key, root=pinned.ca_root())


def test_a_log_entry_the_log_does_not_hold_is_refused(pinned, client, sms_outbox):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue(client, sms_outbox, key)
    keys = pinned.log_keys()

    # A leaf the log does not hold: in no checkpoint, however long one waits (its promise,
    # which would not name it, left unchecked).
    beyond = replace(issued, log=AppendedLog(b"\x00" * 32, issued.log.promise))
    unpromised = replace(keys, promise_verifier_key=None)
    with pytest.raises(VerificationError, match=r"is in no checkpoint after 0 s"):
        certificate_log_check(client, beyond, number=NUMBER, key=key, keys=unpromised, wait=0)
    with pytest.raises(VerificationError, match="promise is for another entry"):
        certificate_log_check(client, beyond, number=NUMBER, key=key, keys=keys, wait=0)
    # The entry of another certificate for the number, opened with that one's opening.
    other = issue(client, sms_outbox, ec.generate_private_key(ec.SECP256R1()))
    # Its promise, with this one's leaf: the promise names another entry.
    forged = replace(issued, log=AppendedLog(issued.log.leaf_hash, other.log.promise))
    with pytest.raises(VerificationError, match="promise is for another entry"):
        certificate_log_check(client, forged, number=NUMBER, key=key, keys=keys)
    swapped = replace(issued, log=other.log, opening=other.opening, content=other.content)
    with pytest.raises(
        VerificationError,
        match="does not match the certificate: serial, certificate_sha256, public_key_sha256",
    ):
        pinned.certificate_log_check(swapped, number=NUMBER, key=key)
    # ... or with this one's: the commitment does not open.
    with pytest.raises(VerificationError, match="commitment does not match the answer's opening"):
        pinned.certificate_log_check(replace(issued, log=other.log), number=NUMBER, key=key)
    # Content changed to match, or an opening of another size: refused too.
    lying = replace(issued, content={**issued.content, "number": "+33698765432"})
    with pytest.raises(VerificationError, match="commitment does not match"):
        pinned.certificate_log_check(lying, number=NUMBER, key=key)
    short = replace(issued, opening=issued.opening[:31])
    with pytest.raises(VerificationError, match=r"opening and content are not valid: .*32 bytes"):
        pinned.certificate_log_check(short, number=NUMBER, key=key)
    included = pinned.certificate_log_check(issued, number=NUMBER, key=key)
    assert included.checkpoint.size > included.index


def test_a_changed_log_key_is_named_for_what_it_is(pinned, client, sms_outbox, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue(client, sms_outbox, key)
    keys = pinned.log_keys()
    impostor = generate_signer(keys.origin)
    known = tmp_path / "known_logs"
    server, _, vrf_key = known.read_text().split()
    known.write_text(f"{server} {verifier_key(impostor.name, impostor.public_key)} {vrf_key}\n")

    with pytest.raises(VerificationError, match="checkpoint does not verify"):
        certificate_log_check(client, issued, number=NUMBER, key=key, keys=pinned.log_keys())
    with pytest.raises(PinMismatchError, match="HAVE CHANGED"):
        pinned.certificate_log_check(issued, number=NUMBER, key=key)
    with pytest.raises(PinMismatchError):
        pinned.lookup(NUMBER)
