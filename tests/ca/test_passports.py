"""PASSporT verification for providers: POST /v1/passports/verify (ca.passports).

PASSporTs signed with real number certificates of this CA (x5u: our own repository, read from
the database), and with certificates of a foreign PKI whose chain a local HTTPS server serves
and whose root a trusted roots file names, its CRL fetched as beat fetches it.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from ca.choices import RevocationReason
from ca.models import Certificate, PassportSeen
from ca.passports import x5u_cache_clear
from ca.services.external import external_crls_refresh
from ca.services.revocation import certificate_revoke
from ca.tasks import passports_seen_prune
from providers.services import api_key_create
from resolution.protocol.jose import b64url_decode, b64url_encode
from resolution.protocol.passport import passport_sign
from tests.api_client import committed
from tests.ca.flow import NUMBER, Holder, certificate_issued
from tests.factories import ProviderFactory
from tests.pki import NUMBER as PKI_NUMBER
from tests.pki import Pki, p256
from tests.problems import assert_problem
from tests.tls import TlsPki, tls_pki_make

pytestmark = pytest.mark.django_db

DEST = "33698765432"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PEM_CHAIN = "application/pem-certificate-chain"


@pytest.fixture(autouse=True)
def chains_forgotten() -> Iterator[None]:
    x5u_cache_clear()
    yield
    x5u_cache_clear()


def verify(client: Any, token: Any, body: bytes | None = None, **fields: Any) -> Any:
    data: dict[str, Any] = {"passport": token, **fields}
    if body is not None:
        data["body"] = base64.b64encode(body).decode()
    return client.post("/v1/passports/verify", data, format="json")


def verdict(client: Any, token: str, body: bytes | None = None) -> dict[str, Any]:
    response = verify(client, token, body)
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    assert (answer["verdict"] == "valid") == (answer["reasons"] == [])
    return answer


def reasons(client: Any, token: str, body: bytes | None = None) -> list[str]:
    return list(verdict(client, token, body)["reasons"])


def sign(holder: Holder, **claims: Any) -> str:
    arguments: dict[str, Any] = {
        "x5u": holder.issued["x5u"],
        "orig": NUMBER.lstrip("+"),
        "dest": [DEST],
        "iat": int(time.time()),
    }
    return passport_sign(holder.key, **{**arguments, **claims})


@pytest.fixture
def holder(provider: Any, crl: Any) -> Holder:
    return certificate_issued(provider)


# --- Certificates of this CA --------------------------------------------------------------------


def test_a_passport_of_our_certificate_is_valid_once(
    api_client: Any, holder: Holder, settings: Any
) -> None:
    # Nothing may be fetched: our repository (http://testserver in tests) is read from the DB.
    settings.RS_X5U_ALLOWED_HOSTS = []
    token = sign(holder)

    answer = verdict(api_client, token)

    assert answer["verdict"] == "valid" and answer["reasons"] == []
    assert answer["passport"] == {
        "orig": NUMBER,
        "dest": [f"+{DEST}"],
        "dest_uri": [],
        "iat": answer["passport"]["iat"],
        "ppt": None,
        "x5u": holder.x5u,
    }
    repository_id = Certificate.objects.get(serial=holder.serial).repository_id
    assert holder.x5u == f"http://testserver/ca/certs/{repository_id}.pem"
    certificate = answer["certificate"]
    assert certificate["serial"] == holder.serial
    assert certificate["issuer"] == holder.certificate.issuer.rfc4514_string()
    assert certificate["not_after"] == holder.issued["not_after"]

    again = verdict(api_client, token)
    assert (again["verdict"], again["reasons"]) == ("invalid", ["replayed"])
    assert again["certificate"]["serial"] == holder.serial
    assert PassportSeen.objects.count() == 1


def test_the_same_claims_with_a_rewritten_signature_are_a_replay(
    api_client: Any, holder: Holder
) -> None:
    token = sign(holder)
    header, payload, signature = token.split(".")
    raw = b64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    # (r, n - s) is a second valid ECDSA signature of the same header and claims.
    twin = f"{header}.{payload}.{b64url_encode(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"

    assert reasons(api_client, token) == []
    assert reasons(api_client, twin) == ["replayed"]


def test_each_provider_may_verify_the_same_passport_once(
    api_client: Any, client_for: Any, holder: Holder
) -> None:
    # A message to a group reaches the providers of several recipients.
    other = client_for(api_key_create(provider=ProviderFactory(), label="other").secret)
    token = sign(holder)

    assert reasons(api_client, token) == []
    assert reasons(other, token) == []
    assert reasons(other, token) == ["replayed"]


def test_a_tampered_passport_is_refused(api_client: Any, holder: Holder) -> None:
    header, payload, signature = sign(holder).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["dest"]["tn"] = ["33611111111"]
    forged = b64url_encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())

    answer = verdict(api_client, f"{header}.{forged}.{signature}")

    assert answer["reasons"] == ["signature"]
    assert answer["passport"]["dest"] == ["+33611111111"]  # shown as read, and refused
    assert not PassportSeen.objects.exists()


def test_a_passport_past_its_freshness_is_stale(api_client: Any, holder: Holder) -> None:
    token = sign(holder)
    with time_machine.travel(timezone.now() + timedelta(seconds=62)):
        assert reasons(api_client, token) == ["stale"]
    assert reasons(api_client, sign(holder, iat=int(time.time()) + 120)) == ["future"]


def test_the_freshness_window_is_a_setting(api_client: Any, holder: Holder, settings: Any) -> None:
    settings.RS_PASSPORT_FRESHNESS_SECONDS = 300
    assert reasons(api_client, sign(holder, iat=int(time.time()) - 200)) == []


def test_a_number_the_certificate_does_not_name_is_refused(api_client: Any, holder: Holder) -> None:
    assert reasons(api_client, sign(holder, orig="33699999999")) == ["number-not-covered"]


def test_a_revoked_certificate_is_refused(api_client: Any, holder: Holder) -> None:
    token = sign(holder)
    with committed():
        certificate_revoke(
            certificate=Certificate.objects.get(serial=holder.serial),
            reason=RevocationReason.KEY_COMPROMISE,
            actor="admin:test",
        )

    answer = verdict(api_client, token)

    assert answer["reasons"] == ["revoked"]
    assert answer["certificate"]["serial"] == holder.serial


def test_a_deactivated_providers_certificate_is_suspended_until_it_is_reactivated(
    client_for: Any, provider: Any, holder: Holder, settings: Any
) -> None:
    from providers.services import provider_update

    settings.RS_X5U_ALLOWED_HOSTS = []
    verifier = client_for(api_key_create(provider=ProviderFactory()).secret)
    provider_update(provider=provider, name=provider.name, is_active=False)

    answer = verdict(verifier, sign(holder))

    assert answer["verdict"] == "invalid" and answer["reasons"] == ["suspended"]
    assert answer["certificate"]["serial"] == holder.serial
    assert Certificate.objects.get(serial=holder.serial).revoked_at is None
    assert PassportSeen.objects.count() == 0  # refused, so not recorded: no replay later

    # Reactivated: the same certificate, never re-issued, signs valid PASSporTs again.
    provider_update(provider=provider, name=provider.name, is_active=True)
    assert verdict(verifier, sign(holder))["verdict"] == "valid"


def test_a_revoked_certificate_of_a_deactivated_provider_is_revoked(
    api_client: Any, provider: Any, holder: Holder
) -> None:
    # Revocation is for good; suspension is not: the verdict names the one that lasts.
    other_holder = certificate_issued(ProviderFactory(), "+33698765432")
    with committed():
        certificate_revoke(
            certificate=Certificate.objects.get(serial=other_holder.serial),
            reason=RevocationReason.KEY_COMPROMISE,
            actor="admin:test",
        )
    other = Certificate.objects.get(serial=other_holder.serial).provider
    other.is_active = False
    other.save()
    token = passport_sign(
        other_holder.key,
        x5u=other_holder.x5u,
        orig="33698765432",
        dest=[DEST],
        iat=int(time.time()),
    )
    assert reasons(api_client, token) == ["revoked"]


def test_an_id_our_repository_does_not_have(api_client: Any, holder: Holder) -> None:
    for unknown in ("0" * 32, "A" * 32, "ZZ", "a/b", ""):
        token = sign(holder, x5u=f"http://testserver/ca/certs/{unknown}.pem")

        answer = verdict(api_client, token)

        assert answer["reasons"] == ["x5u-fetch-failed"]
        assert answer["certificate"] is None


def test_a_passport_naming_its_certificate_by_serial_is_refused(
    api_client: Any, holder: Holder, settings: Any
) -> None:
    # The repository once named certificates by serial; such a URL now opens nothing.
    settings.RS_X5U_ALLOWED_HOSTS = []
    token = sign(holder, x5u=f"http://testserver/ca/certs/{holder.serial}.pem")

    answer = verdict(api_client, token)

    assert answer["reasons"] == ["x5u-fetch-failed"]
    assert answer["certificate"] is None
    assert reasons(api_client, sign(holder)) == []  # by its id, the same certificate verifies


def test_a_string_that_is_no_passport_is_malformed(api_client: Any) -> None:
    answer = verdict(api_client, "not.a.passport")

    assert answer == {
        "verdict": "invalid",
        "reasons": ["malformed"],
        "passport": None,
        "certificate": None,
    }


# --- Messages (ppt "msg") -----------------------------------------------------------------------

BODY = b"Content-Type: text/plain\r\n\r\nSee you at eight."


def test_a_message_passport_is_checked_with_its_body(api_client: Any, holder: Holder) -> None:
    token = sign(holder, ppt="msg", body=BODY)

    assert reasons(api_client, token, b"See you at nine.") == ["msgi-mismatch"]
    assert reasons(api_client, token) == ["body-required"]
    # Refusals are not recorded: the right body is still accepted, once.
    answer = verdict(api_client, token, BODY)
    assert answer["verdict"] == "valid" and answer["passport"]["ppt"] == "msg"
    assert reasons(api_client, token, BODY) == ["replayed"]


def test_a_body_for_a_passport_that_protects_none(api_client: Any, holder: Holder) -> None:
    assert reasons(api_client, sign(holder), BODY) == ["msgi-missing"]


def test_messages_may_arrive_later_than_calls(
    api_client: Any, holder: Holder, settings: Any
) -> None:
    two_hours_ago = int(time.time()) - 2 * 3600

    assert reasons(api_client, sign(holder, iat=two_hours_ago, ppt="msg", body=BODY), BODY) == []
    assert reasons(api_client, sign(holder, iat=two_hours_ago)) == ["stale"]
    settings.RS_PASSPORT_MSG_FRESHNESS_SECONDS = 3600
    token = sign(holder, iat=two_hours_ago, dest=["33600000000"], ppt="msg", body=BODY)
    assert reasons(api_client, token, BODY) == ["stale"]


# --- The replay cache is pruned ----------------------------------------------------------------


def test_stale_passports_are_forgotten(api_client: Any, holder: Holder) -> None:
    assert reasons(api_client, sign(holder)) == []
    assert reasons(api_client, sign(holder, ppt="msg", body=BODY), BODY) == []

    assert passports_seen_prune() == 0  # both could still be replayed
    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        assert passports_seen_prune() == 1  # the call's; the message's is kept for a day
    assert PassportSeen.objects.get().expires_at > timezone.now() + timedelta(hours=23)


# --- Bad requests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no-passport"),
        pytest.param({"passport": None}, id="null"),
        pytest.param({"passport": 12345}, id="number"),
        pytest.param({"passport": ["a.b.c"]}, id="list"),
        pytest.param({"passport": ""}, id="blank"),
        pytest.param({"passport": "a" * 9000}, id="too-long"),
        pytest.param({"passport": "TOKEN", "body": "not base64!"}, id="body-not-base64"),
        pytest.param({"passport": "TOKEN", "body": "QUJD"[:3]}, id="body-unpadded"),
        pytest.param({"passport": "TOKEN", "body": 5}, id="body-number"),
    ],
)
def test_a_malformed_request_is_a_problem_and_changes_nothing(
    api_client: Any, holder: Holder, data: dict[str, Any]
) -> None:
    token = sign(holder)
    data = {name: token if value == "TOKEN" else value for name, value in data.items()}

    body = assert_problem(
        api_client.post("/v1/passports/verify", data, format="json"), 400, "validation-error"
    )

    assert body["errors"][0]["pointer"] in {"#/passport", "#/body"}
    assert not PassportSeen.objects.exists()
    assert reasons(api_client, token) == []  # it was not spent


def test_other_malformed_requests(api_client: Any, anonymous_client: Any) -> None:
    post = api_client.post
    assert_problem(
        post("/v1/passports/verify", "{", content_type="application/json"), 400, "malformed-request"
    )
    assert_problem(post("/v1/passports/verify", ["a.b.c"], format="json"), 400, "validation-error")
    huge = {"passport": "a.b.c", "body": "A" * (70 * 1024)}
    assert_problem(post("/v1/passports/verify", huge, format="json"), 413, "request-too-large")
    assert_problem(verify(anonymous_client, "a.b.c"), 401, "unauthenticated")


# --- Certificates of other CAs, fetched from x5u -----------------------------------------------


@dataclass
class Documents:
    """What a local server serves, by path, and the paths it was asked for."""

    served: dict[str, tuple[str, bytes, dict[str, str]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    documents: Documents


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        documents = self.server.documents
        documents.requests.append(self.path)
        content_type, body, headers = documents.served.get(
            self.path, ("text/plain", b"not here", {"status": "404"})
        )
        self.send_response(int(headers.get("status", "200")))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            if name != "status":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(tls: TlsPki | None = None) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.documents = Documents()
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.chain_file, tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll interval: shutdown() waits for the loop to notice, at the end of every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


@dataclass
class Carrier:
    """A foreign CA trusted by the operator: its chains on an HTTPS repository, its CRL on HTTP."""

    pki: Pki
    repository: _Server
    crl_server: _Server

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.repository.server_address[1]}"

    def url(self, path: str) -> str:
        return f"https://{self.authority}{path}"

    @property
    def requests(self) -> list[str]:
        return self.repository.documents.requests

    def serve(self, path: str, body: bytes, content_type: str = PEM_CHAIN, **headers: str) -> str:
        self.repository.documents.served[path] = (content_type, body, headers)
        return self.url(path)

    def publish_crl(self, revoked: tuple[int, ...] = ()) -> None:
        der = self.pki.crl(revoked).public_bytes(serialization.Encoding.DER)
        self.crl_server.documents.served["/issuing.crl"] = ("application/pkix-crl", der, {})
        assert external_crls_refresh().fetched == 1

    def holder(self, path: str = "/ee.pem", **leaf: Any) -> ForeignHolder:
        key = p256()
        certificate = self.pki.leaf(key.public_key(), **leaf)
        chain = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (certificate, self.pki.issuing)
        )
        return ForeignHolder(key=key, certificate=certificate, x5u=self.serve(path, chain))


@dataclass
class ForeignHolder:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    x5u: str

    def sign(self, **claims: Any) -> str:
        arguments: dict[str, Any] = {
            "x5u": self.x5u,
            "orig": PKI_NUMBER,
            "dest": [DEST],
            "iat": int(time.time()),
        }
        return passport_sign(self.key, **{**arguments, **claims})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsPki:
    return tls_pki_make(tmp_path_factory.mktemp("x5u-tls"))


@pytest.fixture
def carrier(tls: TlsPki, tmp_path: Path, settings: Any, provider: Any) -> Iterator[Carrier]:
    """The carrier's root trusted, its CRL current, its repository allowed and reachable."""
    repository, repository_thread = _serve(tls)
    crl_server, crl_thread = _serve()
    carrier = Carrier(pki=Pki(label="Carrier"), repository=repository, crl_server=crl_server)
    (tmp_path / "root.pem").write_bytes(carrier.pki.root.public_bytes(serialization.Encoding.PEM))
    crl_url = f"http://127.0.0.1:{crl_server.server_address[1]}/issuing.crl"
    (tmp_path / "roots.toml").write_text(
        f'[[root]]\nname = "carrier"\ncertificate = "root.pem"\n'
        f'providers = ["{provider.slug}"]\ncrls = ["{crl_url}"]\n'
    )
    settings.RS_TRUSTED_ROOTS_FILE = str(tmp_path / "roots.toml")
    settings.RS_X5U_ALLOWED_HOSTS = [carrier.authority]
    # The test server is on loopback, with a certificate from a throwaway CA: as an operator
    # would permit an internal PKI host.
    settings.RS_FETCH_PERMITTED_NETWORKS = ["127.0.0.1/32"]
    settings.RS_FETCH_CA_FILE = str(tls.ca_file)
    yield carrier
    for server in (repository, crl_server):
        server.shutdown()
        server.server_close()
    repository_thread.join()
    crl_thread.join()


def test_a_chain_fetched_from_an_allowed_host_is_verified_and_kept(
    api_client: Any, carrier: Carrier
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()

    answer = verdict(api_client, signer.sign())

    assert answer["verdict"] == "valid", answer
    assert answer["certificate"] == {
        "serial": f"{signer.certificate.serial_number:x}",
        "issuer": carrier.pki.issuing.subject.rfc4514_string(),
        "not_after": signer.certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
    }
    assert carrier.requests == ["/ee.pem"]

    # Another PASSporT from the same x5u: the chain is taken from the cache.
    assert reasons(api_client, signer.sign(dest=["33600000001"])) == []
    assert carrier.requests == ["/ee.pem"]


def test_a_chain_the_server_says_not_to_store_is_fetched_each_time(
    api_client: Any, carrier: Carrier
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    chain = carrier.repository.documents.served["/ee.pem"][1]
    signer.x5u = carrier.serve("/no-store.pem", chain, **{"Cache-Control": "no-store"})

    assert reasons(api_client, signer.sign()) == []
    assert reasons(api_client, signer.sign(dest=["33600000001"])) == []
    assert carrier.requests == ["/no-store.pem", "/no-store.pem"]


def test_a_der_certificate_alone_lacks_its_issuer(api_client: Any, carrier: Carrier) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    signer.x5u = carrier.serve("/ee.cer", der, "application/pkix-cert")

    assert reasons(api_client, signer.sign()) == ["chain"]


def test_a_foreign_certificate_its_crl_lists_is_revoked(api_client: Any, carrier: Carrier) -> None:
    signer = carrier.holder()
    carrier.publish_crl(revoked=(signer.certificate.serial_number,))

    assert reasons(api_client, signer.sign()) == ["revoked"]


def test_without_the_issuers_crl_revocation_is_unknown(api_client: Any, carrier: Carrier) -> None:
    assert reasons(api_client, carrier.holder().sign()) == ["crl-missing"]


def test_a_chain_to_a_root_not_trusted_is_refused(
    api_client: Any, carrier: Carrier, settings: Any
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    settings.RS_TRUSTED_ROOTS_FILE = ""

    assert reasons(api_client, signer.sign()) == ["chain"]


@pytest.mark.parametrize(
    ("content_type", "document", "headers", "reason"),
    [
        pytest.param(
            PEM_CHAIN, b"-----BEGIN CERTIFICATE-----\nAAAA\n", {}, "x5u-invalid", id="pem"
        ),
        pytest.param("application/pkix-cert", b"\x30\x03\x02\x01\x01", {}, "x5u-invalid", id="der"),
        pytest.param("text/html", b"<p>hello</p>", {}, "x5u-fetch-failed", id="html"),
        pytest.param(PEM_CHAIN, b"", {"status": "404"}, "x5u-fetch-failed", id="404"),
        pytest.param(PEM_CHAIN, b"x" * (65 * 1024), {}, "x5u-fetch-failed", id="too-large"),
    ],
)
def test_what_is_not_a_chain_is_refused(
    api_client: Any,
    carrier: Carrier,
    content_type: str,
    document: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    signer = carrier.holder()
    signer.x5u = carrier.serve("/odd", document, content_type, **headers)

    answer = verdict(api_client, signer.sign())

    assert answer["reasons"] == [reason]
    assert answer["certificate"] is None and answer["passport"]["x5u"] == signer.x5u


def test_a_host_not_on_the_allow_list_is_never_contacted(
    api_client: Any, carrier: Carrier, settings: Any
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    settings.RS_X5U_ALLOWED_HOSTS = ["certs.example.org"]

    assert reasons(api_client, signer.sign()) == ["x5u-not-allowed"]
    for x5u in (
        signer.x5u.replace("https:", "http:"),  # not HTTPS
        signer.x5u.replace("127.0.0.1", "user:secret@127.0.0.1"),
        "https://certs.example.org:8443/ee.pem",  # a port the entry does not name
    ):
        assert reasons(api_client, signer.sign(x5u=x5u)) == ["x5u-not-allowed"], x5u
    assert carrier.requests == []


def test_loopback_is_refused_although_its_name_is_allowed(
    api_client: Any, carrier: Carrier, settings: Any
) -> None:
    carrier.publish_crl()
    signer = carrier.holder()
    settings.RS_FETCH_PERMITTED_NETWORKS = []  # the default: no private or loopback address

    answer = verdict(api_client, signer.sign())

    assert answer["reasons"] == ["x5u-not-allowed"]
    assert carrier.requests == []
