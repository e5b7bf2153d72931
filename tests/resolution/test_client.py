"""``resolution.client.Client`` against the real service, and its request signing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from providers.choices import Scope
from providers.services import api_key_create
from resolution.client import (
    ApiError,
    CertificateRequest,
    Client,
    IssuedCertificate,
    NetworkError,
    ResponseError,
    approve_token,
    csr_pem,
    dispute_token,
    handler_delete_token,
    handler_put_token,
    history_token,
    lock_token,
    refuse_token,
    revoke_token,
    unlock_token,
)
from resolution.client.store import public_key_sha256
from resolution.client.verify import certificate_log_check, promise_check
from resolution.protocol import vrf
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import open_checkpoint
from resolution.protocol.jose import jws_parse, jws_payload_json, jws_verify
from resolution.protocol.merkle import leaf_hash, verify_inclusion
from resolution.protocol.note import parse_verifier_key
from resolution.protocol.passport import passport_sign
from tests.ca.flow import NUMBER, code_sent
from tests.factories import ProviderFactory

live = pytest.mark.django_db(transaction=True)


# --- Client against the service -----------------------------------------------------------------


@pytest.fixture
def client(live_server: Any, issued_key: Any, crl: Any) -> Iterator[Client]:
    with Client(live_server.url, issued_key.secret, timeout=30) as running:
        yield running


@live
def test_client_drives_the_whole_api_with_typed_answers(client, provider, sms_outbox):
    me = client.me()
    assert (me.provider, me.scope) == (provider.slug, "admin")

    challenge = client.challenge_start(NUMBER)
    assert (challenge.number, challenge.status, challenge.attempts_left) == (NUMBER, "pending", 5)
    assert client.challenge_get(challenge.id).delivery == "accepted"
    assert client.challenge_get(challenge.id).delivery_error == ""
    assert client.challenge_verify(challenge.id, code_sent(sms_outbox)).status == "verified"
    key = ec.generate_private_key(ec.SECP256R1())
    issued = client.certificate_issue(challenge.id, csr_pem(key))
    assert isinstance(issued, IssuedCertificate)  # 201: the number is not locked
    assert issued.x509().public_key() == key.public_key()
    assert issued.not_after - issued.not_before > timedelta(days=29)
    # The repository names the certificate by the id in its x5u, never by its serial.
    certificate_id = issued.x5u.rsplit("/", 1)[-1].removesuffix(".pem")
    assert client.ca_chain(certificate_id)[0].serial_number == int(issued.serial, 16)
    assert client.ca_root().subject == client.ca_chain(certificate_id)[-1].issuer
    with pytest.raises(ApiError) as by_serial:
        client.ca_chain(issued.serial)
    assert (by_serial.value.status, by_serial.value.slug) == (404, "certificate-not-found")
    state = client.certificate_get(issued.serial)
    assert (state.status, state.x5u) == ("valid", issued.x5u)

    # The certificate's log entry: served, included in the signed checkpoint, labelled.
    keys = client.log_key()
    verifier = parse_verifier_key(keys.note_verifier_key)
    note = client.log_checkpoint()
    assert note is not None
    checkpoint = open_checkpoint(note, verifier, keys.origin)
    promise = promise_check(issued.log, keys)  # the log's word, by its promise key
    assert promise.leaf_hash == issued.log.leaf_hash and promise.bound_seconds == 10
    proof = client.log_inclusion_proof(leaf_hash=issued.log.leaf_hash, size=checkpoint.size)
    (entry,) = client.log_entries(proof.index, proof.index + 1).entries
    assert entry.kind == "certificate" and leaf_hash(entry.entry) == issued.log.leaf_hash
    verify_inclusion(
        proof.leaf_hash, proof.index, checkpoint.size, proof.proof, checkpoint.root_hash
    )
    label = client.log_label(NUMBER)
    assert vrf.verify(keys.vrf_public_key, label.vrf_proof, NUMBER.encode()) == label.label
    assert json.loads(entry.entry)["label"] == label.label.hex()

    token = handler_put_token(
        key, issued.serial, number=NUMBER, service="messaging", uri="sip:a@chat.example"
    )
    handler = client.handler_put(NUMBER, "messaging", token)
    assert (handler.uri, handler.visibility, handler.certificate) == (
        "sip:a@chat.example",
        "all",
        issued.serial,
    )
    verified = client.number_lookup(NUMBER).verify(keys)
    assert [h.uri for h in verified.handlers] == ["sip:a@chat.example"]
    # The holder's history: every entry under the label, the log's own bytes.
    history = client.number_history(NUMBER, history_token(key, issued.serial, number=NUMBER))
    assert (history.number, history.label) == (NUMBER, label.label)
    assert len(history.entries) == 2
    assert leaf_hash(history.entries[1].entry) == handler.log.leaf_hash
    assert history.entries[0].entry == entry.entry
    assert client.log_consistency_proof(checkpoint.size).old == checkpoint.size

    passport = passport_sign(
        key, x5u=issued.x5u, orig=NUMBER[1:], dest=["33698765432"], iat=int(time.time())
    )
    verdict = client.passport_verify(passport)
    assert verdict.valid and verdict.reasons == ()
    assert verdict.passport is not None and verdict.passport.orig == NUMBER
    assert verdict.certificate is not None and verdict.certificate.serial == issued.serial

    removed = client.handler_delete(
        NUMBER,
        "messaging",
        handler_delete_token(key, issued.serial, number=NUMBER, service="messaging"),
    )
    assert removed.log.leaf_hash != handler.log.leaf_hash
    assert promise_check(removed.log, keys).leaf_hash == removed.log.leaf_hash
    revoked = client.certificate_revoke(
        issued.serial, revoke_token(key, issued.serial, reason="superseded")
    )
    assert (revoked.status, revoked.revocation_reason) == ("revoked", "superseded")
    assert client.ca_crl().get_revoked_certificate_by_serial_number(int(issued.serial, 16))


@live
def test_a_failed_delivery_says_why(client, sms_outbox):
    from ca.sms import SmsPermanentError, locmem

    locmem.failures.append(SmsPermanentError("21610", "Twilio answered HTTP 400, error 21610"))
    challenge = client.challenge_start(NUMBER)
    seen = client.challenge_get(challenge.id)
    assert (seen.delivery, seen.delivery_error) == (
        "failed",
        "21610: Twilio answered HTTP 400, error 21610",
    )
    assert sms_outbox == []


@live
def test_problems_become_api_errors_with_their_members(client, live_server, provider, sms_outbox):
    challenge = client.challenge_start(NUMBER)
    with pytest.raises(ApiError) as wrong:
        client.challenge_verify(
            challenge.id, "000000" if code_sent(sms_outbox) != "000000" else "1" * 6
        )
    error = wrong.value
    assert (error.status, error.slug, error.extensions["attempts_left"]) == (
        400,
        "challenge-code-wrong",
        4,
    )
    assert error.type.endswith("/problems/challenge-code-wrong") and error.title
    assert "(4 attempts left)" in str(error)

    with Client(live_server.url, "rs_not-a-key") as stranger, pytest.raises(ApiError) as denied:
        stranger.number_lookup(NUMBER)
    assert (denied.value.status, denied.value.slug) == (401, "invalid-credentials")
    with pytest.raises(ApiError) as missing:
        client.certificate_get("00" * 16)
    assert missing.value.slug == "certificate-not-found"

    reader_key = api_key_create(provider=provider, scope=Scope.LOOKUP).secret
    with Client(live_server.url, reader_key) as reader:
        assert reader.me().scope == "lookup"
        with pytest.raises(ApiError) as narrow:
            reader.challenge_start(NUMBER)
    assert (narrow.value.status, narrow.value.slug) == (403, "scope-insufficient")
    assert narrow.value.extensions["required_scope"] == "directory"


def test_an_unreachable_service_is_a_network_error():
    with (
        Client("http://127.0.0.1:9", "k", timeout=2, retries=0) as client,
        pytest.raises(NetworkError, match=r"GET http://127\.0\.0\.1:9/log/key"),
    ):
        client.log_key()


def _mock(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_reads_and_keyed_writes_are_retried(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    calls: list[str] = []

    def overloaded(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, json={"type": "x/service-unavailable", "title": "Busy"})

    client = Client("http://rs.test", "k", http=_mock(overloaded), retries=2)
    with pytest.raises(ApiError):
        client.me()
    assert calls == ["GET", "GET", "GET"]
    calls.clear()
    with pytest.raises(ApiError) as refused:
        client.challenge_start(NUMBER)
    # The SDK's POSTs carry an Idempotency-Key: repeated, they cannot do their work twice.
    assert calls == ["POST", "POST", "POST"]
    assert (refused.value.status, refused.value.slug) == (503, "service-unavailable")


def test_answers_the_api_does_not_document_are_response_errors():
    def odd(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/me":
            return httpx.Response(200, json={"provider": "p", "name": 7, "key_prefix": "x"})
        if request.url.path == "/log/key":
            return httpx.Response(200, text="<html>")
        return httpx.Response(502, text="<html><body>Bad   gateway</body></html>")

    client = Client("http://rs.test", "k", http=_mock(odd), retries=0)
    with pytest.raises(ResponseError, match="'name' that is not a str"):
        client.me()
    with pytest.raises(ResponseError, match="not JSON"):
        client.log_key()
    with pytest.raises(ApiError) as gateway:
        client.log_entries(0)
    assert (gateway.value.type, gateway.value.detail) == (
        "about:blank",
        "<html><body>Bad gateway</body></html>",
    )


def test_numbers_travel_in_paths_with_their_plus_and_requests_carry_the_key():
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"type": "t/not-found", "title": "Not found"})

    client = Client("http://rs.test/", "rs_secret", http=_mock(record))
    with pytest.raises(ApiError):
        client.number_lookup("+33612345678", "messaging")
    assert seen[0].url.raw_path == b"/v1/numbers/+33612345678?service=messaging"
    assert seen[0].headers["authorization"] == "Bearer rs_secret"
    with pytest.raises(ApiError):
        client.handler_put("+33612345678", "a/b", "x.y.z")
    assert seen[1].url.raw_path == b"/v1/numbers/+33612345678/handlers/a%2Fb"
    assert seen[1].headers["content-type"] == "application/jose"


def test_signed_request_tokens_carry_the_documented_payloads():
    key = ec.generate_private_key(ec.SECP256R1())
    token = handler_put_token(
        key,
        "ab" * 16,
        number=NUMBER,
        service="voice",
        uri="tel:+33612345678",
        priority=5,
        visibility=["acme"],
    )
    parsed = jws_parse(token)
    jws_verify(parsed, key.public_key())
    payload = jws_payload_json(parsed)
    assert parsed.header == {"alg": "ES256", "kid": "ab" * 16}
    assert parsed.payload == canonical_json(payload)
    assert set(payload) == {"number", "service", "uri", "priority", "visibility", "iat", "jti"}
    assert payload["visibility"] == ["acme"] and abs(payload["iat"] - time.time()) < 5
    other = jws_payload_json(
        jws_parse(handler_put_token(key, "s", number=NUMBER, service="v", uri="u"))
    )
    assert other["jti"] != payload["jti"] and other["visibility"] == "all"
    removal = jws_payload_json(
        jws_parse(handler_delete_token(key, "s", number=NUMBER, service="v"))
    )
    assert set(removal) == {"number", "service", "iat", "jti"}
    assert set(jws_payload_json(jws_parse(revoke_token(key, "s")))) == {"serial", "iat"}
    asked = jws_payload_json(jws_parse(history_token(key, "s", number=NUMBER, jti="j" * 8)))
    assert (set(asked), asked["number"], asked["jti"]) == (
        {"number", "iat", "jti"},
        NUMBER,
        "j" * 8,
    )
    for made in (lock_token(key, "s"), unlock_token(key, "s")):
        assert set(jws_payload_json(jws_parse(made))) == {"serial", "iat", "jti"}
    for made in (approve_token(key, "s", request="r"), refuse_token(key, "s", request="r")):
        answer = jws_payload_json(jws_parse(made))
        assert (set(answer), answer["request"]) == ({"request", "iat", "jti"}, "r")
    bare = jws_payload_json(jws_parse(dispute_token(key, "s", disputed="ff", challenge="c")))
    assert set(bare) == {"disputed", "challenge", "iat", "jti"}
    said = dispute_token(key, "s", disputed="ff", challenge="c", statement="SIM swapped")
    assert jws_payload_json(jws_parse(said))["statement"] == "SIM swapped"
    csr = x509.load_pem_x509_csr(csr_pem(key).encode())
    assert csr.is_signature_valid and csr.public_key() == key.public_key()


# --- The number lock ------------------------------------------------------------------------------


def _issued(client: Client, outbox: list[Any], key: ec.EllipticCurvePrivateKey) -> Any:
    challenge = client.challenge_start(NUMBER)
    client.challenge_verify(challenge.id, code_sent(outbox))
    return client.certificate_issue(challenge.id, csr_pem(key))


@live
def test_client_drives_the_number_lock(client, live_server, sms_outbox):
    key = ec.generate_private_key(ec.SECP256R1())
    mine = _issued(client, sms_outbox, key)
    assert isinstance(mine, IssuedCertificate)
    locked = client.certificate_lock(mine.serial, lock_token(key, mine.serial))
    assert locked.locked and locked.locked_at is not None and locked.lock_log_index is not None
    assert client.certificate_get(mine.serial).lock_log_index == locked.lock_log_index
    # Each write answers its entry and the log's promise; a read has none.
    keys = client.log_key()
    assert locked.log is not None and promise_check(locked.log, keys)
    assert client.certificate_get(mine.serial).log is None

    other_key = api_key_create(provider=ProviderFactory(slug="hijack-chat")).secret
    with Client(live_server.url, other_key, timeout=30) as other:
        # The intruder's registration waits as a request; the holder sees it, and refuses it.
        intruder_key = ec.generate_private_key(ec.SECP256R1())
        held = _issued(other, sms_outbox, intruder_key)
        assert isinstance(held, CertificateRequest)
        assert (held.number, held.requester, held.status, held.certificate) == (
            NUMBER,
            "hijack-chat",
            "pending",
            None,
        )
        assert held.pending and not held.issued
        assert held.public_key_sha256 == public_key_sha256(intruder_key)
        assert held.issues_at > held.created_at
        assert [r.id for r in client.certificate_requests("pending")] == [held.id]
        refused = client.certificate_request_refuse(
            held.id, refuse_token(key, mine.serial, request=held.id)
        )
        assert (refused.status, refused.closed_log_index is not None) == ("refused", True)
        assert held.log is not None and refused.log is not None and held.log != refused.log
        assert promise_check(refused.log, keys).leaf_hash == refused.log.leaf_hash
        assert other.certificate_request_get(held.id).status == "refused"
        assert client.certificate_requests("pending") == ()

        # A second app of the holder's is approved: its certificate is issued at once, and
        # comes to it as one issued at once does, its log entry's opening included.
        second_key = ec.generate_private_key(ec.SECP256R1())
        second = _issued(other, sms_outbox, second_key)
        assert isinstance(second, CertificateRequest)
        approved = client.certificate_request_approve(
            second.id, approve_token(key, mine.serial, request=second.id)
        )
        assert approved.status == "approved" and approved.certificate is None  # not the requester
        assert approved.log is not None and promise_check(approved.log, keys)
        collected = other.certificate_request_get(second.id)
        assert collected.issued and collected.certificate is not None
        assert collected.certificate.x509().public_key() == second_key.public_key()
        issued = collected.certificate
        assert issued.content["serial"] == issued.serial and issued.content["number"] == NUMBER
        certificate_log_check(other, issued, number=NUMBER, key=second_key, keys=client.log_key())

        # The holder disputes it with a fresh SMS proof: on the operator's queue.
        challenge = client.challenge_start(NUMBER)
        client.challenge_verify(challenge.id, code_sent(sms_outbox))
        token = dispute_token(
            key,
            mine.serial,
            disputed=collected.certificate.serial,
            challenge=challenge.id,
            statement="not my app",
        )
        dispute = client.dispute_open(token)
        assert (dispute.number, dispute.disputed, dispute.certificate, dispute.status) == (
            NUMBER,
            collected.certificate.serial,
            mine.serial,
            "open",
        )
        assert dispute.log is not None and promise_check(dispute.log, keys)
        assert client.dispute_get(dispute.id) == replace(dispute, log=None)

    unlocked = client.certificate_unlock(mine.serial, unlock_token(key, mine.serial))
    assert not unlocked.locked and unlocked.lock_log_index is None
    assert unlocked.log is not None and promise_check(unlocked.log, keys)
    # Unlocked, the holder answers no request; a jti is accepted once.
    with pytest.raises(ApiError) as replayed:
        client.certificate_lock(mine.serial, lock_token(key, mine.serial, jti="j" * 16))
        client.certificate_lock(mine.serial, lock_token(key, mine.serial, jti="j" * 16))
    assert (replayed.value.status, replayed.value.slug) == (409, "jws-replayed")
    with pytest.raises(ApiError) as unknown:
        client.certificate_request_get(str(uuid.uuid4()))
    assert (unknown.value.status, unknown.value.slug) == (404, "certificate-request-not-found")
