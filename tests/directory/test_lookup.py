"""Lookups: what a caller sees, and that it can check every answer against the log."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from directory.models import Handler
from directory.services import handler_tile_proofs_keep
from providers.services import api_key_create
from resolution.protocol.lookup import LookupVerificationError, verify_lookup
from resolution.protocol.merkle import HASH_SIZE
from resolution.protocol.tiles import TILE_WIDTH
from tests.api_client import committed
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import handler_published, lookup
from tests.factories import ProviderFactory
from tests.transparency.logdata import log_integrated
from transparency.keys import log_keys
from transparency.selectors import cache_clear
from transparency.services import log_append

pytestmark = pytest.mark.django_db

OTHER_NUMBER = "+33698765432"
UNUSED_NUMBER = "+33611223344"


def _verify(answer: dict[str, Any]) -> Any:
    keys = log_keys()
    return verify_lookup(answer, keys.note_verifier_key, keys.vrf_public_key)


@pytest.fixture
def holder(provider: Any) -> Any:
    return certificate_issued(provider)


@pytest.fixture
def answer(api_client: Any, provider: Any, holder: Any) -> dict[str, Any]:
    handler_published(provider, holder, service="voice", uri="tel:+33612345678", priority=1)
    handler_published(provider, holder, service="messaging", uri="sip:alice@chat.example")
    log_integrated()
    return lookup(api_client)


def test_an_answer_verifies_offline(answer: dict[str, Any], provider: Any) -> None:
    verified = _verify(answer)
    assert verified.number == NUMBER
    assert not verified.pending
    assert {(h.service, h.uri, h.provider) for h in verified.handlers} == {
        ("voice", "tel:+33612345678", provider.slug),
        ("messaging", "sip:alice@chat.example", provider.slug),
    }


def test_an_answer_with_no_handlers_verifies(api_client: Any, holder: Any) -> None:
    log_integrated()
    verified = _verify(lookup(api_client, UNUSED_NUMBER))
    assert verified.handlers == () and verified.number == UNUSED_NUMBER


def test_a_handler_not_yet_in_a_checkpoint_is_pending(
    api_client: Any, provider: Any, holder: Any, settings: Any
) -> None:
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    # With a broker, entries wait for beat's integration: none runs here.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    handler_published(provider, holder, service="messaging")
    answer = lookup(api_client)
    pending = [h for h in answer["handlers"] if h["log"]["pending"]]
    assert [h["service"] for h in pending] == ["messaging"]
    assert pending[0]["log"]["inclusion_proof"] is None
    verified = _verify(answer)
    assert [h.service for h in verified.handlers] == ["voice"]
    assert [h.service for h in verified.pending] == ["messaging"]
    log_integrated()
    assert not _verify(lookup(api_client)).pending


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _handler(answer: dict[str, Any]) -> dict[str, Any]:
    handler: dict[str, Any] = answer["handlers"][0]
    return handler


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "uri": lambda a: _handler(a).update(uri="sip:mallory@evil.example"),
    "priority": lambda a: _handler(a).update(priority=_handler(a)["priority"] + 1),
    "provider": lambda a: _handler(a).update(provider="someone-else"),
    "expires_at": lambda a: _handler(a).update(expires_at="2099-01-01T00:00:00Z"),
    "certificate": lambda a: _handler(a).update(certificate="f" * 32),
    "opening": lambda a: _handler(a)["log"].update(opening=_flip(_handler(a)["log"]["opening"])),
    "entry": lambda a: _handler(a)["log"].update(entry=_flip(_handler(a)["log"]["entry"])),
    "proof hash": lambda a: _handler(a)["log"]["inclusion_proof"].__setitem__(
        0, _flip(_handler(a)["log"]["inclusion_proof"][0])
    ),
    "index": lambda a: _handler(a)["log"].update(index=_handler(a)["log"]["index"] + 1),
    "checkpoint": lambda a: a.update(checkpoint=a["checkpoint"].replace("\n", "\n\n", 1)),
    "label": lambda a: a.update(label=f"{int(a['label'][:2], 16) ^ 1:02x}" + a["label"][2:]),
    "vrf proof": lambda a: a.update(vrf_proof=_flip(a["vrf_proof"])),
    "number": lambda a: a.update(number=OTHER_NUMBER),
}


@pytest.mark.parametrize("what", TAMPERINGS)
def test_any_altered_field_fails_verification(answer: dict[str, Any], what: str) -> None:
    _verify(answer)
    altered = copy.deepcopy(answer)
    TAMPERINGS[what](altered)
    with pytest.raises(LookupVerificationError):
        _verify(altered)


def test_a_hidden_handler_looks_like_no_handler(
    api_client: Any, holder: Any, client_for: Any, provider: Any
) -> None:
    friend, stranger = ProviderFactory(), ProviderFactory()
    friend_client = client_for(api_key_create(provider=friend).secret)
    stranger_client = client_for(api_key_create(provider=stranger).secret)
    handler_published(provider, holder, visibility=[friend.slug])
    # A number with no handler at all, and a certificate: as far as anyone can tell, the same.
    certificate_issued(provider, OTHER_NUMBER)
    log_integrated()

    assert [h["uri"] for h in lookup(friend_client)["handlers"]] == ["sip:alice@chat.example"]
    assert len(lookup(api_client)["handlers"]) == 1  # the publisher sees its own
    hidden = stranger_client.get(f"/v1/numbers/{NUMBER}")
    empty = stranger_client.get(f"/v1/numbers/{OTHER_NUMBER}")
    assert hidden.status_code == empty.status_code == 200
    assert hidden["Content-Type"] == empty["Content-Type"]
    hidden_body, empty_body = hidden.json(), empty.json()
    assert hidden_body["handlers"] == empty_body["handlers"] == []
    assert set(hidden_body) == set(empty_body)
    assert {k: type(v) for k, v in hidden_body.items()} == {
        k: type(v) for k, v in empty_body.items()
    }
    _verify(hidden_body)


def test_a_lookup_costs_the_same_queries_for_one_handler_or_many(
    api_client: Any, provider: Any, holder: Any
) -> None:
    handler_published(provider, holder, service="messaging")
    log_integrated()
    lookup(api_client)  # warm: the checkpoint is then cached for a moment
    with CaptureQueriesContext(connection) as one:
        lookup(api_client)
    for service, uri in [
        ("voice", "tel:+33612345678"),
        ("video", "sips:alice@chat.example"),
        ("sip", "sip:alice@chat.example"),
        ("web", "https://chat.example/alice"),
    ]:
        handler_published(provider, holder, service=service, uri=uri)
    log_integrated()
    lookup(api_client)
    with CaptureQueriesContext(connection) as five:
        assert len(lookup(api_client)["handlers"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries) <= 6


def _number_forms(number: str) -> list[str]:
    parsed = phonenumbers.parse(number)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    significant = phonenumbers.national_significant_number(parsed)
    return [
        number,  # E.164
        number[1:],  # the bare digits
        national,  # "06 12 34 56 78"
        national.replace(" ", ""),  # "0612345678"
        international,  # "+33 6 12 34 56 78"
        significant,  # "612345678"
    ]


def test_the_log_names_no_number_in_any_form(
    api_client: Any, holder: Any, anonymous_client: Any, provider: Any
) -> None:
    other = certificate_issued(provider, OTHER_NUMBER)
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    handler_published(provider, holder, service="messaging", uri="sip:alice@chat.example")
    handler_published(provider, other, number=OTHER_NUMBER, uri="sip:bob@chat.example")
    log_integrated()
    size = int(anonymous_client.get("/log/checkpoint").content.decode().splitlines()[1])
    bundle = anonymous_client.get(f"/log/tile/entries/000.p/{size}")
    assert bundle.status_code == 200
    data = bundle.content
    assert data.count(b'"kind":"handler"') == 3
    for number in (NUMBER, OTHER_NUMBER):
        for form in _number_forms(number):
            assert form.encode() not in data, form
    for entry in _split_bundle(data):
        json.loads(entry)


def _split_bundle(data: bytes) -> list[bytes]:
    entries, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 2], "big")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


def test_a_numbers_label_is_given_with_its_proof(
    api_client: Any, holder: Any, anonymous_client: Any
) -> None:
    from resolution.protocol import vrf

    body = api_client.get("/v1/log/labels/+33 6 12 34 56 78").json()
    assert body["number"] == NUMBER
    proof = base64.b64decode(body["vrf_proof"])
    assert vrf.verify(log_keys().vrf_public_key, proof, NUMBER.encode()).hex() == body["label"]
    certificate_entry = json.loads(
        base64.b64decode(
            anonymous_client.get("/v1/log/entries", {"start": 0}).json()["entries"][0]["entry"]
        )
    )
    assert certificate_entry["label"] == body["label"]
    assert anonymous_client.get(f"/v1/log/labels/{NUMBER}").status_code == 401
    assert api_client.get("/v1/log/labels/0612345678").status_code == 400


@pytest.mark.parametrize("service", ["telepathy", "VOICE", "x" * 5000, ""])
def test_an_unknown_service_in_a_lookup_is_400(api_client: Any, service: str) -> None:
    from tests.problems import assert_problem

    assert_problem(
        api_client.get(f"/v1/numbers/{NUMBER}", {"service": service}), 400, "service-unknown"
    )


def _fill_tile() -> None:
    """Append unrelated entries until the level-0 tile of every entry so far is full."""
    with committed(), transaction.atomic():
        for n in range(TILE_WIDTH):
            log_append(kind="test", payload={"n": n})
    log_integrated()


def test_kept_in_tile_hashes_give_the_same_verified_answer(
    api_client: Any, provider: Any, holder: Any
) -> None:
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    handler_published(provider, holder, service="messaging")  # re-published below, after the tile
    _fill_tile()
    before = lookup(api_client)

    assert handler_tile_proofs_keep() == 2
    assert handler_tile_proofs_keep() == 0  # kept for good
    cache_clear()
    after = lookup(api_client)
    assert after == before
    _verify(after)

    # The kept hashes are what the lookup uses: spoil one, and the answer no longer verifies.
    Handler.objects.filter(service="voice").update(tile_proof=bytes(8 * HASH_SIZE))
    cache_clear()
    with pytest.raises(LookupVerificationError):
        _verify(lookup(api_client))

    # A re-published handler has a new entry, in a tile not yet full: nothing kept for it.
    handler_published(provider, holder, service="messaging", uri="sip:bob@chat.example")
    log_integrated()
    assert Handler.objects.get(service="messaging").tile_proof is None
    assert handler_tile_proofs_keep() == 0
    cache_clear()
    answer = lookup(api_client)
    messaging = next(h for h in answer["handlers"] if h["service"] == "messaging")
    assert messaging["uri"] == "sip:bob@chat.example" and not messaging["log"]["pending"]


def test_a_lookup_with_kept_hashes_costs_no_more_queries(
    api_client: Any, provider: Any, holder: Any
) -> None:
    handler_published(provider, holder, service="messaging")
    _fill_tile()
    lookup(api_client)
    with CaptureQueriesContext(connection) as read_tile:
        lookup(api_client)
    handler_tile_proofs_keep()
    lookup(api_client)
    with CaptureQueriesContext(connection) as kept:
        lookup(api_client)
    assert len(kept.captured_queries) <= len(read_tile.captured_queries)


def test_a_deactivated_providers_handlers_leave_every_lookup_until_it_is_reactivated(
    holder: Any, client_for: Any, provider: Any
) -> None:
    from providers.services import provider_update

    reader = client_for(api_key_create(provider=ProviderFactory()).secret)
    handler_published(provider, holder, service="messaging", uri="sip:alice@chat.example")
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    log_integrated()
    lookup(reader)  # warm: the checkpoint is then cached for a moment
    with CaptureQueriesContext(connection) as shown:
        assert len(lookup(reader)["handlers"]) == 2

    provider_update(provider=provider, name=provider.name, is_active=False)
    with CaptureQueriesContext(connection) as hidden:
        answer = lookup(reader)
    assert answer["handlers"] == []
    assert lookup(reader, service="voice")["handlers"] == []
    _verify(answer)  # an answer with no handler, as for a number that has none
    # Hidden in the lookup statement itself, not row by row afterwards.
    assert len(hidden.captured_queries) == len(shown.captured_queries)
    assert Handler.objects.filter(provider=provider).count() == 2  # nothing was removed

    provider_update(provider=provider, name=provider.name, is_active=True)
    restored = lookup(reader)
    assert {h["uri"] for h in restored["handlers"]} == {
        "sip:alice@chat.example",
        "tel:+33612345678",
    }
    assert len(_verify(restored).handlers) == 2
