"""The verification flow: challenge, code, certificate.

Over HTTP as an app drives it, for the tests of that API (:func:`certificate_obtained`); through
the CA's services for the tests that only need a holder (:func:`certificate_issued`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from ca.api.serializers import CertificateIssuedOutput
from ca.models import Challenge
from ca.services.challenges import challenge_start, challenge_verify
from ca.services.issuance import IssuedCertificate, certificate_issue
from ca.sms import locmem
from providers.models import Provider
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.api_client import committed

NUMBER = "+33612345678"  # a French mobile number
OTHER_NUMBER = "+33612345679"
CLIENT_IP = "192.0.2.1"  # where a holder built through the services asked from (TEST-NET-1)
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
    """An app holding a number certificate: its key and what ``POST /v1/certificates``
    answered (for a holder made through the services, the same fields in the same forms)."""

    key: ec.EllipticCurvePrivateKey
    issued: dict[str, Any]

    @property
    def serial(self) -> str:
        return str(self.issued["serial"])

    @property
    def x5u(self) -> str:
        """Where the repository serves the certificate: by its id, as the response named it."""
        return str(self.issued["x5u"])

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


def pending_challenge(provider: Provider, number: str = NUMBER) -> Challenge:
    """A challenge started through ``challenge_start``, its SMS sent after the commit."""
    with committed():
        return challenge_start(provider=provider, number=number, client_ip=CLIENT_IP)


def verified_challenge(provider: Provider, number: str = NUMBER) -> Challenge:
    """A challenge answered with the code its SMS carried, through the services."""
    challenge = pending_challenge(provider, number)
    return challenge_verify(
        provider=provider, challenge_id=challenge.id, code=code_sent(locmem.outbox, number)
    )


def certificate_issued(provider: Provider, number: str = NUMBER) -> Holder:
    """A holder of a certificate for ``number`` issued to ``provider``, through the services;
    ``issued`` is what ``POST /v1/certificates`` answers."""
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = verified_challenge(provider, number)
    with committed():  # the log integrates the certificate's entry after the commit
        issued = certificate_issue(provider=provider, challenge_id=challenge.id, csr=csr_pem(key))
    assert isinstance(issued, IssuedCertificate), "the number is locked: a request, held back"
    # Through the endpoint's own serializer: the same JSON, and one place that builds it.
    return Holder(key=key, issued=json.loads(json.dumps(CertificateIssuedOutput(issued).data)))


# --- Several apps, through HTTP: the number lock's flows -----------------------------------------


def signed(key: Any, kid: str, **payload: Any) -> str:
    """A compact JWS by ``key`` naming certificate ``kid``, over ``payload`` with a fresh
    ``iat`` and ``jti`` (a None value drops the claim)."""
    claims = {"iat": int(time.time()), "jti": uuid.uuid4().hex, **payload}
    claims = {name: value for name, value in claims.items() if value is not None}
    return jws_sign({"alg": "ES256", "kid": kid}, canonical_json(claims), key)


def jose(client: Any, path: str, token: str) -> Any:
    return client.post(path, token, content_type="application/jose")


def registered(client: Any, number: str = NUMBER, key: Any = None) -> Any:
    """``POST /v1/certificates`` after a verified challenge, for ``key`` (a new one if none):
    the response, with the key as ``.key``."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    challenge = challenge_verified(client, locmem.outbox, number)
    with committed():
        response = client.post(
            "/v1/certificates", {"challenge": challenge, "csr": csr_pem(key)}, format="json"
        )
    response.key = key
    return response


def holder_of(client: Any, number: str = NUMBER) -> Holder:
    response = registered(client, number)
    assert response.status_code == 201, response.content
    return Holder(key=response.key, issued=response.json())


def locked(client: Any, holder: Holder) -> Any:
    token = signed(holder.key, holder.serial, serial=holder.serial)
    with committed():
        return jose(client, f"/v1/certificates/{holder.serial}/lock", token)


def decide(client: Any, holder: Holder, request_id: str, verb: str, **changes: Any) -> Any:
    """A locked holder's ``approve`` or ``refuse`` (``verb``) of a held request, by its key
    (or ``key=``), with the claims changed as given."""
    key = changes.pop("key", holder.key)
    token = signed(key, holder.serial, **{"request": request_id, **changes})
    with committed():
        return jose(client, f"/v1/certificate-requests/{request_id}/{verb}", token)


def dispute_token(holder: Any, disputed: str, challenge: str, **changes: Any) -> str:
    """A holder's dispute of certificate ``disputed``, with a fresh SMS proof (``challenge``)."""
    claims = {
        "disputed": disputed,
        "challenge": challenge,
        "statement": "not my app: my SIM was swapped on Monday",
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        **changes,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    key = claims.pop("key", holder.key)
    return jws_sign({"alg": "ES256", "kid": holder.serial}, canonical_json(claims), key)


def disputed(client: Any, holder: Any, serial: str, **changes: Any) -> Any:
    """``POST /v1/disputes`` of certificate ``serial`` by ``holder``, after a fresh challenge."""
    challenge = changes.pop("challenge", None) or challenge_verified(client, locmem.outbox)
    with committed():
        return jose(client, "/v1/disputes", dispute_token(holder, serial, challenge, **changes))
