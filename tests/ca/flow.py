"""The verification flow as an app drives it over HTTP: challenge, code, certificate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

NUMBER = "+33612345678"  # a French mobile number
_OTP_LINE = re.compile(r"#(\d{6,10})$")


def csr_pem(key: Any = None, *, common_name: str = "anything") -> str:
    """A PEM CSR signed by ``key`` (a new P-256 key if none)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def code_sent(outbox: list[Any], number: str = NUMBER) -> str:
    """The code of the last SMS sent to ``number``, read from its ``@host #code`` line."""
    message = [sent for sent in outbox if sent.to == number][-1]
    match = _OTP_LINE.search(message.body)
    assert match, message.body
    return match.group(1)


def challenge_started(client: APIClient, number: str = NUMBER) -> dict[str, Any]:
    response = client.post("/v1/challenges", {"number": number}, format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def challenge_verified(client: APIClient, outbox: list[Any], number: str = NUMBER) -> str:
    challenge = challenge_started(client, number)
    response = client.post(
        f"/v1/challenges/{challenge['id']}/verify",
        {"code": code_sent(outbox, number)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return str(challenge["id"])


@dataclass
class Holder:
    """An app holding a number certificate: its key and what the service returned."""

    key: ec.EllipticCurvePrivateKey
    issued: dict[str, Any]

    @property
    def serial(self) -> str:
        return str(self.issued["serial"])

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.issued["certificate"].encode())


def certificate_obtained(client: APIClient, outbox: list[Any], number: str = NUMBER) -> Holder:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = challenge_verified(client, outbox, number)
    response = client.post(
        "/v1/certificates", {"challenge": challenge, "csr": csr_pem(key)}, format="json"
    )
    assert response.status_code == 201, response.content
    return Holder(key=key, issued=response.json())
