"""Publishing and removing handlers with a number certificate's key, through the HTTP API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from directory.models import Handler
from directory.services import handlers_expire
from tests.api_client import committed
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import delete, lookup, publish_token, published, put, signed
from tests.problems import assert_problem
from tests.transparency.logdata import entry_of, entry_opened
from transparency.models import Entry, EntryOpening

pytestmark = pytest.mark.django_db

OTHER_NUMBER = "+33698765432"


@pytest.fixture
def holder(provider: Any) -> Any:
    return certificate_issued(provider)


def _removals() -> list[tuple[int | None, str]]:
    """The index and public reason of each handler_removed entry."""
    return [
        (index, json.loads(bytes(data))["reason"])
        for index, data in Entry.objects.filter(kind="handler_removed")
        .order_by("index")
        .values_list("index", "data")
    ]


def _entries() -> list[dict[str, Any]]:
    return [
        json.loads(bytes(data))
        for data in Entry.objects.order_by("index").values_list("data", flat=True)
    ]


def test_the_holder_publishes_a_handler(api_client: Any, holder: Any, provider: Any) -> None:
    body = published(api_client, holder, uri="sip:alice@chat.example", priority=5)
    assert body["number"] == NUMBER
    assert body["provider"] == provider.slug
    assert body["service"] == "messaging"
    assert body["uri"] == "sip:alice@chat.example"
    assert body["priority"] == 5
    assert body["visibility"] == "all"
    assert body["certificate"] == holder.serial
    assert body["expires_at"] == holder.issued["not_after"].replace("+00:00", "Z")
    entry, content = entry_opened(body["log"]["leaf_hash"])
    assert entry["kind"] == "handler"
    assert set(entry) == {"v", "kind", "label", "commitment"}
    assert content == {
        "number": NUMBER,
        "provider": provider.slug,
        "service": "messaging",
        "uri": "sip:alice@chat.example",
        "priority": 5,
        "expires_at": body["expires_at"],
        "certificate": holder.serial,
    }
    # The handler's opening is its entry's, so lookups open it in one statement.
    assert bytes(Handler.objects.get().opening) == bytes(
        EntryOpening.objects.get(entry=entry_of(body["log"]["leaf_hash"])).opening
    )
    handlers = lookup(api_client)["handlers"]
    assert [(h["service"], h["uri"], h["priority"]) for h in handlers] == [
        ("messaging", "sip:alice@chat.example", 5)
    ]


def test_publishing_again_replaces_the_handler(api_client: Any, holder: Any) -> None:
    first = put(api_client, publish_token(holder, uri="sip:old@chat.example"))
    second = put(api_client, publish_token(holder, uri="sip:new@chat.example"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert Handler.objects.count() == 1
    assert [h["uri"] for h in lookup(api_client)["handlers"]] == ["sip:new@chat.example"]
    assert [e["kind"] for e in _entries()][-2:] == ["handler", "handler"]


def test_the_holder_removes_a_handler(api_client: Any, holder: Any, provider: Any) -> None:
    published(api_client, holder)
    response = delete(api_client, signed(holder, number=NUMBER, service="messaging"))
    assert response.status_code == 200, response.content
    assert lookup(api_client)["handlers"] == []
    assert not Handler.objects.exists()
    removed, content = entry_opened(response.json()["log"]["leaf_hash"])
    assert (removed["kind"], removed["reason"]) == ("handler_removed", "removed")
    assert content == {
        "number": NUMBER,
        "provider": provider.slug,
        "service": "messaging",
        "certificate": holder.serial,
    }


def test_removing_a_missing_handler_is_404(api_client: Any, holder: Any) -> None:
    response = delete(api_client, signed(holder, number=NUMBER, service="voice"), service="voice")
    assert_problem(response, 404, "handler-not-found")


def test_services_are_separate_handlers(api_client: Any, holder: Any) -> None:
    published(api_client, holder, service="voice", uri="tel:+33612345678")
    published(api_client, holder, service="messaging", uri="sip:alice@chat.example")
    assert {h["service"] for h in lookup(api_client)["handlers"]} == {"voice", "messaging"}
    assert [h["service"] for h in lookup(api_client, service="voice")["handlers"]] == ["voice"]


# --- Rejections: a 4xx problem, nothing changed, nothing logged ------------------------------


class Unchanged:
    """Snapshot of the handlers and the log, to assert a refused request left both alone."""

    def __init__(self) -> None:
        self.handlers = list(Handler.objects.values_list("number", "service", "uri", "log_entry"))
        self.entries = Entry.objects.count()

    def check(self) -> None:
        assert list(Handler.objects.values_list("number", "service", "uri", "log_entry")) == (
            self.handlers
        )
        assert Entry.objects.count() == self.entries


def _refused(response: Any, status: int, slug: str, before: Unchanged) -> None:
    assert_problem(response, status, slug)
    before.check()


def test_a_signature_by_another_key_is_refused(api_client: Any, holder: Any) -> None:
    before = Unchanged()
    token = publish_token(holder, key=ec.generate_private_key(ec.SECP256R1()))
    _refused(put(api_client, token), 403, "jws-signature-invalid", before)


def test_another_numbers_certificate_is_refused(
    api_client: Any, holder: Any, provider: Any
) -> None:
    other = certificate_issued(provider, OTHER_NUMBER)
    before = Unchanged()
    response = put(api_client, publish_token(other, number=NUMBER))
    _refused(response, 403, "signing-certificate-number-mismatch", before)


def test_another_providers_certificate_is_refused(
    api_client: Any, holder: Any, client_for: Any
) -> None:
    from providers.services import api_key_create
    from tests.factories import ProviderFactory

    intruder = client_for(api_key_create(provider=ProviderFactory()).secret)
    before = Unchanged()
    response = put(intruder, publish_token(holder))
    # Unknown to the intruder, as a serial nobody holds is (tests/core/test_oracles.py).
    _refused(response, 403, "signing-certificate-unknown", before)


def test_an_expired_certificate_is_refused(api_client: Any, holder: Any) -> None:
    published(api_client, holder)
    before = Unchanged()
    later = timezone.now() + timedelta(days=31)
    with time_machine.travel(later, tick=False):
        response = put(api_client, publish_token(holder, uri="sip:late@chat.example"))
    _refused(response, 403, "signing-certificate-not-valid", before)


def test_a_revoked_certificate_is_refused(api_client: Any, holder: Any) -> None:
    revoke = signed(holder, serial=holder.serial, jti=None)
    assert (
        api_client.post(
            f"/v1/certificates/{holder.serial}/revoke", revoke, content_type="application/jose"
        ).status_code
        == 200
    )
    before = Unchanged()
    _refused(put(api_client, publish_token(holder)), 403, "signing-certificate-not-valid", before)


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_stale_iat_is_refused(api_client: Any, holder: Any, skew: int) -> None:
    before = Unchanged()
    token = publish_token(holder, iat=int(timezone.now().timestamp()) + skew)
    _refused(put(api_client, token), 400, "jws-stale", before)


def test_a_jti_used_by_another_jws_is_refused(api_client: Any, holder: Any) -> None:
    assert put(api_client, publish_token(holder, jti="same-jti-0001")).status_code == 201
    before = Unchanged()
    again = publish_token(holder, jti="same-jti-0001", uri="sip:other@chat.example")
    _refused(put(api_client, again), 409, "jws-replayed", before)


def test_the_same_jws_again_gets_the_first_answer_and_changes_nothing(
    api_client: Any, holder: Any
) -> None:
    token = publish_token(holder, jti="same-jti-0002")
    first = put(api_client, token)
    assert first.status_code == 201
    before = Unchanged()

    again = put(api_client, token)

    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    before.check()
    # A second publication (another jti) replaces the handler; the first JWS still answers as
    # it did, and does not bring the first URI back.
    assert put(api_client, publish_token(holder, uri="sip:new@chat.example")).status_code == 200
    assert put(api_client, token).json() == first.json()
    assert Handler.objects.get().uri == "sip:new@chat.example"


def test_the_same_removal_again_gets_the_first_answer(api_client: Any, holder: Any) -> None:
    assert put(api_client, publish_token(holder)).status_code == 201
    token = signed(holder, number=NUMBER, service="messaging", jti="same-jti-0003")
    first = delete(api_client, token)
    assert first.status_code == 200, first.content
    before = Unchanged()

    again = delete(api_client, token)

    assert again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    before.check()


@pytest.mark.parametrize(
    "uri",
    ["ftp://files.example/x", "http://chat.example/alice", "sip:alice@", "x" * 2000, "sip:a b@c"],
)
def test_a_bad_uri_is_refused(api_client: Any, holder: Any, uri: str) -> None:
    before = Unchanged()
    _refused(put(api_client, publish_token(holder, uri=uri)), 400, "uri-invalid", before)


def test_an_unknown_service_is_refused(api_client: Any, holder: Any) -> None:
    before = Unchanged()
    token = publish_token(holder, service="telepathy")
    _refused(put(api_client, token, service="telepathy"), 400, "service-unknown", before)


@pytest.mark.parametrize(
    ("claims", "slug"),
    [
        ({"number": OTHER_NUMBER}, "jws-payload-mismatch"),
        ({"service": "voice"}, "jws-payload-mismatch"),
        ({"extra": 1}, "jws-payload-mismatch"),
        ({"uri": None}, "handler-invalid"),
        ({"priority": -1}, "handler-invalid"),
        ({"priority": 70000}, "handler-invalid"),
        ({"priority": True}, "handler-invalid"),
        ({"visibility": []}, "handler-invalid"),
        ({"visibility": ["not a slug"]}, "handler-invalid"),
        ({"visibility": "some"}, "handler-invalid"),
        ({"jti": "short"}, "jws-malformed"),
        ({"jti": None}, "jws-malformed"),
        ({"iat": None}, "jws-malformed"),
    ],
)
def test_a_bad_payload_is_refused(
    api_client: Any, holder: Any, claims: dict[str, Any], slug: str
) -> None:
    before = Unchanged()
    _refused(put(api_client, publish_token(holder, **claims)), 400, slug, before)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256"},  # names no certificate
        {"alg": "ES256", "kid": "not-a-serial"},
        {"alg": "ES256", "x5c": "not-a-list"},
    ],
)
def test_a_header_that_names_no_certificate_is_refused(
    api_client: Any, holder: Any, header: dict[str, Any]
) -> None:
    before = Unchanged()
    token = signed(holder, header=header, number=NUMBER, service="messaging", uri="sip:a@b.example")
    _refused(put(api_client, token), 400, "jws-malformed", before)


def test_an_unknown_certificate_is_refused(api_client: Any, holder: Any) -> None:
    before = Unchanged()
    header = {"alg": "ES256", "kid": "0" * 32}
    token = signed(holder, header=header, number=NUMBER, service="messaging", uri="sip:a@b.example")
    _refused(put(api_client, token), 403, "signing-certificate-unknown", before)


def test_the_certificate_may_travel_in_x5c(api_client: Any, holder: Any) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    der = holder.certificate.public_bytes(Encoding.DER)
    header = {"alg": "ES256", "x5c": [base64.b64encode(der).decode()]}
    token = signed(holder, header=header, number=NUMBER, service="messaging", uri="sip:a@b.example")
    assert put(api_client, token).status_code == 201


def test_an_oversized_body_is_refused(api_client: Any, holder: Any, settings: Any) -> None:
    before = Unchanged()
    token = publish_token(holder, uri="sip:alice@chat.example")
    padded = token + " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    _refused(put(api_client, padded), 413, "request-too-large", before)


def test_a_json_body_is_the_wrong_media_type(api_client: Any, holder: Any) -> None:
    before = Unchanged()
    response = api_client.put(
        f"/v1/numbers/{NUMBER}/handlers/messaging",
        {"token": publish_token(holder)},
        format="json",
    )
    _refused(response, 415, "unsupported-media-type", before)


@pytest.mark.parametrize("number", ["0612345678", "+3361234567890123", "+1"])
def test_a_malformed_number_in_the_path_is_refused(
    api_client: Any, holder: Any, number: str
) -> None:
    before = Unchanged()
    response = put(api_client, publish_token(holder, number=number), number=number)
    assert response.status_code == 400
    before.check()


# --- The certificate's life ends the handlers' ------------------------------------------------


def test_revoking_the_certificate_removes_its_handlers(
    api_client: Any, holder: Any, provider: Any
) -> None:
    published(api_client, holder, service="voice", uri="tel:+33612345678")
    published(api_client, holder, service="messaging")
    revoke = signed(holder, serial=holder.serial, jti=None)
    response = api_client.post(
        f"/v1/certificates/{holder.serial}/revoke", revoke, content_type="application/jose"
    )
    assert response.status_code == 200
    assert not Handler.objects.exists()
    assert lookup(api_client)["handlers"] == []
    removals = [(entry_opened(index)[1], reason) for index, reason in _removals()]
    assert sorted((content["service"], reason) for content, reason in removals) == [
        ("messaging", "revoked"),
        ("voice", "revoked"),
    ]
    assert {content["certificate"] for content, _ in removals} == {holder.serial}


def test_expired_handlers_disappear_then_are_removed(api_client: Any, holder: Any) -> None:
    published(api_client, holder)
    later = timezone.now() + timedelta(days=31)
    with time_machine.travel(later, tick=False):
        assert lookup(api_client)["handlers"] == []  # hidden at once
        assert Handler.objects.count() == 1
        with committed():  # the removal's entry integrates after the commit
            assert handlers_expire() == 1
    assert not Handler.objects.exists()
    assert _entries()[-1]["kind"] == "handler_removed"
    assert _entries()[-1]["reason"] == "expired"
    assert entry_opened(len(_entries()) - 1)[1]["certificate"] == holder.serial


def test_a_crash_before_the_commit_leaves_neither_handler_nor_entry(
    api_client: Any, holder: Any, monkeypatch: Any
) -> None:
    from directory.models import HandlerRequest

    before = Unchanged()
    openings = EntryOpening.objects.count()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # After log_append_committed, inside the transaction: neither entry nor opening stays.
    monkeypatch.setattr(Handler, "save", crash)
    api_client.raise_request_exception = False
    response = put(api_client, publish_token(holder))
    assert response.status_code == 500
    before.check()
    assert EntryOpening.objects.count() == openings
    assert not HandlerRequest.objects.exists()  # the jti is not spent either


def test_a_revocation_that_commits_during_a_publish_is_seen(
    api_client: Any, holder: Any, monkeypatch: Any
) -> None:
    """The certificate was valid when the request was checked, revoked before its lock."""
    from ca.models import Certificate
    from directory import services

    checked = services._signed_change

    def revoked_meanwhile(**kwargs: Any) -> Any:
        change = checked(**kwargs)
        Certificate.objects.filter(pk=change.certificate.pk).update(
            revoked_at=timezone.now(),
            revocation_reason="keyCompromise",
            revocation_log_entry_id=Certificate.objects.get(pk=change.certificate.pk).log_entry_id,
        )
        return change

    monkeypatch.setattr(services, "_signed_change", revoked_meanwhile)
    before = Unchanged()
    _refused(put(api_client, publish_token(holder)), 403, "signing-certificate-not-valid", before)
