"""Handler changes signed with number certificates issued under another trusted root (ca.trust).

A real PKI of its own (tests.pki), its root named in a trusted roots file, and its CRL served
over HTTP by a local server that beat's refresh fetches, as an operator would configure it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection

from ca.models import ExternalCertificate, ExternalCrl
from ca.services.external import CrlsRefreshed, external_crls_refresh
from ca.trust import TrustedRootsError, trusted_roots_read
from directory.models import Handler
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from resolution.protocol.lookup import verify_lookup
from tests.api_client import committed
from tests.ca.flow import NUMBER
from tests.directory.flow import delete, lookup, put
from tests.directory.test_handlers import Unchanged
from tests.factories import ProviderFactory
from tests.pki import NOW, Pki, p256
from tests.problems import assert_problem
from tests.transparency.logdata import entry_opened, log_integrated
from transparency.keys import log_keys
from transparency.models import Entry

pytestmark = pytest.mark.django_db

OTHER_NUMBER = "+33698765432"


class _CrlServer(ThreadingHTTPServer):
    documents: dict[str, bytes]


class _CrlHandler(BaseHTTPRequestHandler):
    server: _CrlServer

    def do_GET(self) -> None:
        body = self.server.documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/pkix-crl")
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def crl_server() -> Iterator[_CrlServer]:
    server = _CrlServer(("127.0.0.1", 0), _CrlHandler)
    server.documents = {}
    # A short poll interval: shutdown() waits for the loop to notice, at the end of every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass
class Foreign:
    """Another CA's hierarchy, trusted for some providers, with its CRL served at ``url``."""

    pki: Pki
    server: _CrlServer
    path: str = "/issuing.crl"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def serve_crl(self, crl: x509.CertificateRevocationList) -> None:
        self.server.documents[self.path] = crl.public_bytes(serialization.Encoding.DER)

    def holder(self, numbers: tuple[str, ...] = (NUMBER,), **leaf: Any) -> ForeignHolder:
        key = p256()
        certificate = self.pki.leaf(
            key.public_key(), numbers=[number.lstrip("+") for number in numbers], **leaf
        )
        return ForeignHolder(key=key, chain=[certificate, self.pki.issuing])


@dataclass
class ForeignHolder:
    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]

    @property
    def serial(self) -> str:
        return f"{self.chain[0].serial_number:x}"

    def token(self, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in self.chain
        ]
        payload = {"iat": int(time.time()), "jti": uuid.uuid4().hex, **claims}
        return jws_sign(header or {"alg": "ES256", "x5c": x5c}, canonical_json(payload), self.key)

    def publish(self, client: Any, *, number: str = NUMBER, **fields: Any) -> Any:
        claims: dict[str, Any] = {
            "number": number,
            "service": "messaging",
            "uri": "sip:a@carrier.example",
        }
        claims |= fields
        return put(client, self.token(**claims), number=number, service=claims["service"])


def crls_refreshed() -> CrlsRefreshed:
    """Beat's refresh of the CRLs, committed: handler removals it logs integrate after it."""
    with committed():
        return external_crls_refresh()


def _trust(tmp_path: Path, settings: Any, pki: Pki, providers: list[str], crl_url: str) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "roots.toml").write_text(
        f'[[root]]\nname = "carrier"\ncertificate = "root.pem"\n'
        f"providers = {json.dumps(providers)}\ncrls = [{json.dumps(crl_url)}]\n"
    )
    settings.RS_TRUSTED_ROOTS_FILE = str(tmp_path / "roots.toml")


@pytest.fixture
def foreign(tmp_path: Path, settings: Any, provider: Any, crl_server: _CrlServer) -> Foreign:
    """A trusted carrier CA speaking for the calling provider, its current CRL fetched."""
    foreign = Foreign(pki=Pki(label="Carrier"), server=crl_server)
    _trust(tmp_path, settings, foreign.pki, [provider.slug], foreign.url)
    foreign.serve_crl(foreign.pki.crl())
    assert crls_refreshed().fetched == 1
    return foreign


def test_a_certificate_under_a_trusted_root_publishes_and_the_answer_verifies(
    api_client: Any, foreign: Foreign, provider: Any
) -> None:
    holder = foreign.holder()
    response = holder.publish(api_client, uri="sip:alice@carrier.example")
    assert response.status_code == 201, response.content
    assert response.json()["certificate"] == holder.serial
    kept = ExternalCertificate.objects.get()
    assert (kept.root, kept.serial) == ("carrier", holder.serial)

    log_integrated()
    answer = lookup(api_client)
    keys = log_keys()
    verified = verify_lookup(answer, keys.note_verifier_key, keys.vrf_public_key)
    assert [(h.uri, h.certificate) for h in verified.handlers] == [
        ("sip:alice@carrier.example", holder.serial)
    ]
    # The entry names the number by its label, as for our own certificates.
    entry = json.loads(bytes(Entry.objects.latest("index").data))
    assert entry["label"] == answer["label"] and NUMBER.lstrip("+") not in json.dumps(entry)

    # The same certificate again: one row, and a removal signed with it works too.
    token = holder.token(number=NUMBER, service="messaging")
    assert delete(api_client, token).status_code == 200
    assert ExternalCertificate.objects.count() == 1 and not Handler.objects.exists()


def _refused(response: Any, slug: str, before: Unchanged) -> None:
    assert_problem(response, 403, slug)
    before.check()


def test_a_root_not_trusted_is_unknown(api_client: Any, foreign: Foreign) -> None:
    stranger = Foreign(pki=Pki(label="Stranger"), server=foreign.server)
    before = Unchanged()
    _refused(stranger.holder().publish(api_client), "signing-certificate-unknown", before)
    assert not ExternalCertificate.objects.exists()


def test_without_trusted_roots_only_our_certificates_count(
    api_client: Any, foreign: Foreign, settings: Any
) -> None:
    settings.RS_TRUSTED_ROOTS_FILE = ""
    before = Unchanged()
    _refused(foreign.holder().publish(api_client), "signing-certificate-unknown", before)


def test_a_root_speaks_only_for_its_providers(
    client_for: Any, foreign: Foreign, sms_outbox: Any
) -> None:
    from providers.services import api_key_create

    other = ProviderFactory()
    client = client_for(api_key_create(provider=other, label="t").secret)
    before = Unchanged()
    response = foreign.holder().publish(client)
    _refused(response, "signing-certificate-of-another-provider", before)


def test_a_certificate_for_another_number_is_refused(api_client: Any, foreign: Foreign) -> None:
    before = Unchanged()
    response = foreign.holder(numbers=(OTHER_NUMBER,)).publish(api_client)
    _refused(response, "signing-certificate-number-mismatch", before)


def test_an_expired_certificate_is_refused(api_client: Any, foreign: Foreign) -> None:
    expired = foreign.holder(not_before=NOW - timedelta(days=40), not_after=NOW - timedelta(days=1))
    before = Unchanged()
    _refused(expired.publish(api_client), "signing-certificate-not-valid", before)


def test_a_serial_alone_does_not_name_a_certificate_issued_elsewhere(
    api_client: Any, foreign: Foreign
) -> None:
    holder = foreign.holder()
    token = holder.token(
        header={"alg": "ES256", "kid": f"{holder.chain[0].serial_number:032x}"[-32:]},
        number=NUMBER,
        service="messaging",
        uri="sip:a@carrier.example",
    )
    before = Unchanged()
    _refused(put(api_client, token), "signing-certificate-unknown", before)


def test_a_signature_by_another_key_is_refused(api_client: Any, foreign: Foreign) -> None:
    holder = foreign.holder()
    holder.key = p256()
    before = Unchanged()
    assert_problem(holder.publish(api_client), 403, "jws-signature-invalid")
    before.check()


def test_without_a_crl_the_status_is_unknown_and_the_change_refused(
    api_client: Any, foreign: Foreign
) -> None:
    ExternalCrl.objects.all().delete()
    before = Unchanged()
    _refused(foreign.holder().publish(api_client), "signing-certificate-not-valid", before)


def test_a_stale_crl_refuses_the_change(api_client: Any, foreign: Foreign) -> None:
    ExternalCrl.objects.update(next_update=NOW - timedelta(minutes=1))  # what the row says
    stale = foreign.pki.crl(
        last_update=NOW - timedelta(days=2), next_update=NOW - timedelta(days=1)
    )
    ExternalCrl.objects.update(der=stale.public_bytes(serialization.Encoding.DER))
    before = Unchanged()
    _refused(foreign.holder().publish(api_client), "signing-certificate-not-valid", before)


def test_a_crl_not_signed_by_the_issuing_ca_is_not_trusted(
    api_client: Any, foreign: Foreign
) -> None:
    forged = foreign.pki.crl(key=p256())
    ExternalCrl.objects.update(der=forged.public_bytes(serialization.Encoding.DER))
    before = Unchanged()
    _refused(foreign.holder().publish(api_client), "signing-certificate-not-valid", before)


def test_a_certificate_the_crl_lists_is_refused(api_client: Any, foreign: Foreign) -> None:
    holder = foreign.holder()
    listed = foreign.pki.crl(
        [holder.chain[0].serial_number], last_update=NOW - timedelta(minutes=1)
    )
    foreign.serve_crl(listed)
    assert crls_refreshed().fetched == 1
    before = Unchanged()
    _refused(holder.publish(api_client), "signing-certificate-not-valid", before)
    assert not ExternalCertificate.objects.exists()


def test_a_crl_that_later_lists_a_certificate_removes_its_handlers(
    api_client: Any, foreign: Foreign, provider: Any
) -> None:
    holder, bystander = foreign.holder(), foreign.holder(numbers=(OTHER_NUMBER,))
    assert holder.publish(api_client, service="voice", uri="tel:+33612345678").status_code == 201
    assert holder.publish(api_client).status_code == 201
    assert bystander.publish(api_client, number=OTHER_NUMBER).status_code == 201

    foreign.serve_crl(
        foreign.pki.crl([holder.chain[0].serial_number], last_update=NOW - timedelta(minutes=1))
    )
    refreshed = crls_refreshed()
    assert (refreshed.fetched, refreshed.revoked) == (1, 1)

    assert list(Handler.objects.values_list("number", flat=True)) == [OTHER_NUMBER]
    removals = [
        (entry_opened(index)[1]["service"], json.loads(bytes(data))["reason"])
        for index, data in Entry.objects.filter(kind="handler_removed").values_list("index", "data")
    ]
    assert sorted(removals) == [("messaging", "revoked"), ("voice", "revoked")]
    log_integrated()
    assert lookup(api_client)["handlers"] == []
    before = Unchanged()
    _refused(holder.publish(api_client), "signing-certificate-not-valid", before)


def test_a_crl_with_a_bad_signature_does_not_replace_a_verified_one(
    api_client: Any, foreign: Foreign
) -> None:
    holder = foreign.holder()
    assert holder.publish(api_client).status_code == 201  # its issuing CA is known from now on
    foreign.serve_crl(foreign.pki.crl(last_update=NOW - timedelta(minutes=1)))
    crls_refreshed()
    kept = ExternalCrl.objects.get()
    assert kept.verified
    forged = foreign.pki.crl([holder.chain[0].serial_number], key=p256(), last_update=NOW)
    foreign.serve_crl(forged)
    assert crls_refreshed().failed == 1
    assert bytes(ExternalCrl.objects.get().der) == bytes(kept.der)
    assert Handler.objects.filter(external_certificate__isnull=False).count() == 1


def test_until_an_issuing_ca_is_known_its_crl_is_checked_at_each_use(
    api_client: Any, foreign: Foreign
) -> None:
    assert not ExternalCrl.objects.get().verified
    foreign.serve_crl(foreign.pki.crl(key=p256(), last_update=NOW))  # forged, newer
    assert crls_refreshed().fetched == 1
    before = Unchanged()
    _refused(foreign.holder().publish(api_client), "signing-certificate-not-valid", before)


def test_an_unreachable_crl_keeps_the_one_we_have(foreign: Foreign) -> None:
    kept = bytes(ExternalCrl.objects.get().der)
    foreign.server.documents.clear()
    refreshed = crls_refreshed()
    assert (refreshed.fetched, refreshed.failed) == (0, 1)
    assert bytes(ExternalCrl.objects.get().der) == kept


def test_one_certificate_used_twice_is_kept_once(api_client: Any, foreign: Foreign) -> None:
    holder = foreign.holder()
    assert holder.publish(api_client).status_code == 201
    assert holder.publish(api_client, service="voice", uri="tel:+33612345678").status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ca_externalcertificate")
        assert cursor.fetchone() == (1,)


# --- The trusted roots file ---------------------------------------------------------------------


def _roots_file(tmp_path: Path, text: str, root: x509.Certificate | None = None) -> Path:
    if root is not None:
        (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    path = tmp_path / "roots.toml"
    path.write_text(text)
    return path


GOOD = (
    'name = "c"\ncertificate = "root.pem"\nproviders = ["p"]\ncrls = ["http://pki.example/c.crl"]\n'
)


def test_a_trusted_roots_file_is_read(tmp_path: Path) -> None:
    pki = Pki()
    (root,) = trusted_roots_read(_roots_file(tmp_path, "[[root]]\n" + GOOD, pki.root))
    assert (root.name, root.certificate, root.providers) == ("c", pki.root, frozenset({"p"}))
    assert root.crl_urls == ("http://pki.example/c.crl",)
    assert trusted_roots_read(_roots_file(tmp_path, "")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[root]]\n" + GOOD.replace('providers = ["p"]', "providers = []"), "at least one"),
        ("[[root]]\n" + GOOD.replace('crls = ["http://pki.example/c.crl"]', "crls = []"), "CRL"),
        ("[[root]]\n" + GOOD.replace("http://", "ftp://"), "not http"),
        ("[[root]]\n" + GOOD + "extra = 1\n", "unknown keys"),
        ("[[roots]]\n" + GOOD, "unknown keys"),
        ("[[root]]\n" + GOOD.replace('name = "c"', 'name = ""'), "'name'"),
        ("[[root]]\n" + GOOD + "[[root]]\n" + GOOD, "same name"),
        ("[[root]\n", "RS_TRUSTED_ROOTS_FILE"),
    ],
)
def test_a_bad_trusted_roots_file_stops_the_service(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _roots_file(tmp_path, text, Pki().root)
    with pytest.raises(TrustedRootsError, match=message):
        trusted_roots_read(path)


def test_a_trusted_root_must_be_a_self_signed_ca(tmp_path: Path) -> None:
    pki = Pki()
    path = _roots_file(tmp_path, "[[root]]\n" + GOOD, pki.issuing)
    with pytest.raises(TrustedRootsError, match="not self-signed"):
        trusted_roots_read(path)
    path = _roots_file(tmp_path, "[[root]]\n" + GOOD, pki.leaf())
    with pytest.raises(TrustedRootsError, match="not a CA"):
        trusted_roots_read(path)
    (tmp_path / "root.pem").write_text("not a certificate")
    with pytest.raises(TrustedRootsError, match="cannot read"):
        trusted_roots_read(path)


# --- CAs that share a name: a CRL is its signer's, whatever name it gives -----------------------


@dataclass
class TwoRoots:
    """Two trusted roots whose roots, and issuing CAs, have the same names but their own keys."""

    a: Foreign
    b: Foreign


@pytest.fixture
def two_roots(tmp_path: Path, settings: Any, provider: Any, crl_server: _CrlServer) -> TwoRoots:
    roots = TwoRoots(
        a=Foreign(pki=Pki(label="Carrier"), server=crl_server, path="/a.crl"),
        b=Foreign(pki=Pki(label="Carrier"), server=crl_server, path="/b.crl"),
    )
    assert roots.a.pki.issuing.subject == roots.b.pki.issuing.subject
    assert roots.a.pki.root.subject == roots.b.pki.root.subject
    text = ""
    for name, foreign in (("a", roots.a), ("b", roots.b)):
        pem = foreign.pki.root.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{name}.pem").write_bytes(pem)
        text += (
            f'[[root]]\nname = "{name}"\ncertificate = "{name}.pem"\n'
            f'providers = ["{provider.slug}"]\ncrls = ["{foreign.url}"]\n'
        )
        foreign.serve_crl(foreign.pki.crl())
    (tmp_path / "roots.toml").write_text(text)
    settings.RS_TRUSTED_ROOTS_FILE = str(tmp_path / "roots.toml")
    assert crls_refreshed().fetched == 2
    return roots


def test_a_crl_never_revokes_a_certificate_of_another_ca_of_the_same_name(
    api_client: Any, two_roots: TwoRoots
) -> None:
    holder_a, holder_b = two_roots.a.holder(), two_roots.b.holder(numbers=(OTHER_NUMBER,))
    assert holder_a.publish(api_client).status_code == 201
    assert holder_b.publish(api_client, number=OTHER_NUMBER).status_code == 201  # both CAs known

    # B's issuing CA lists A's certificate (and its own), in a CRL newer than A's.
    listed = [holder_a.chain[0].serial_number, holder_b.chain[0].serial_number]
    two_roots.b.serve_crl(two_roots.b.pki.crl(listed, last_update=NOW - timedelta(minutes=1)))
    refreshed = crls_refreshed()
    assert (refreshed.fetched, refreshed.revoked) == (2, 1)

    # B's own certificate is revoked; A's is not, and A's own CRL still vouches for it.
    assert list(Handler.objects.values_list("number", flat=True)) == [NUMBER]
    kept = {row.certificate_sha256: row.revoked_at for row in ExternalCertificate.objects.all()}
    assert sorted(revoked is None for revoked in kept.values()) == [False, True]
    response = holder_a.publish(api_client, service="voice", uri="tel:+33612345678")
    assert response.status_code == 201, response.content
    before = Unchanged()
    _refused(
        holder_b.publish(api_client, number=OTHER_NUMBER), "signing-certificate-not-valid", before
    )


def test_a_root_of_the_same_name_cannot_revoke_what_another_root_signed(
    api_client: Any, two_roots: TwoRoots
) -> None:
    # Certificates issued by the roots themselves; each root signs its own CRL.
    holders = {}
    for name, foreign in (("a", two_roots.a), ("b", two_roots.b)):
        key = p256()
        leaf = foreign.pki.leaf(
            key.public_key(),
            numbers=[NUMBER.lstrip("+")],
            issuer=foreign.pki.root,
            issuer_key=foreign.pki.root_key,
        )
        holders[name] = ForeignHolder(key=key, chain=[leaf])
        root_crl = foreign.pki.crl(
            issuer_name=foreign.pki.root.subject,
            key=foreign.pki.root_key,
            last_update=NOW - timedelta(minutes=2),  # newer than the issuing CA's
        )
        foreign.serve_crl(root_crl)
    assert crls_refreshed().fetched == 2
    assert holders["a"].publish(api_client).status_code == 201

    # Root B, newer, lists A's certificate: it is not B's to revoke, and A's CRL stays.
    b = two_roots.b.pki
    two_roots.b.serve_crl(
        b.crl(
            [holders["a"].chain[0].serial_number],
            issuer_name=b.root.subject,
            key=b.root_key,
            last_update=NOW - timedelta(minutes=1),
        )
    )
    assert crls_refreshed().revoked == 0
    assert ExternalCertificate.objects.get().revoked_at is None
    assert Handler.objects.count() == 1
    response = holders["a"].publish(api_client, service="voice", uri="tel:+33612345678")
    assert response.status_code == 201, response.content


def test_before_its_ca_is_known_a_certificate_is_checked_with_its_own_cas_crl(
    api_client: Any, two_roots: TwoRoots
) -> None:
    # Neither issuing CA has been seen: both CRLs are kept unverified. B's is newer and lists
    # A's certificate; A's certificate is checked against the CRL its own CA's key signed.
    holder_a = two_roots.a.holder()
    two_roots.b.serve_crl(two_roots.b.pki.crl([holder_a.chain[0].serial_number], last_update=NOW))
    assert crls_refreshed().fetched == 2
    assert not any(crl.verified for crl in ExternalCrl.objects.all())
    response = holder_a.publish(api_client)
    assert response.status_code == 201, response.content
