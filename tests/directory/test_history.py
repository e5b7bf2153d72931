"""The holder's history of a number (``POST /v1/numbers/{number}/history``): every log entry
under its label, with the openings of those that commit to their content."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.utils import timezone

from directory.models import HandlerRequest
from resolution.protocol.entries import (
    HandlerRemovedEntry,
    PrivateEntry,
    commitment,
    content_check,
    entry_parse,
)
from tests.api_client import committed
from tests.ca.flow import NUMBER, certificate_issued
from tests.directory import test_external_certificates as external
from tests.directory.flow import JOSE, delete, published, signed
from tests.directory.test_external_certificates import Foreign
from tests.pki import Pki
from tests.problems import assert_problem
from tests.transparency.logdata import sequenced
from transparency.labels import number_label
from transparency.models import Entry
from transparency.services import log_append

pytestmark = pytest.mark.django_db

OTHER_NUMBER = "+33698765432"

# Another CA's hierarchy, trusted for the caller (tests.directory.test_external_certificates).
crl_server = external.crl_server
foreign = external.foreign


@pytest.fixture
def holder(provider: Any) -> Any:
    return certificate_issued(provider)


def history(client: Any, token: str, number: str = NUMBER) -> Any:
    return client.post(f"/v1/numbers/{number}/history", token, content_type=JOSE)


def history_token(holder: Any, **claims: Any) -> str:
    return signed(holder, **({"number": NUMBER} | claims))


def _version_1_removal_logged(label: bytes) -> int:
    """A version-1 entry under ``label``, as the log held before version 2: fields in clear."""
    logged = HandlerRemovedEntry(
        label=label.hex(), provider="acme-chat", service="voice", reason="removed"
    )
    with committed(), transaction.atomic():
        appended = log_append(kind=logged.kind, payload=logged.payload(), version=1)
    return sequenced(appended)


def test_the_holder_gets_every_entry_under_its_label_with_openings_that_verify(
    api_client: Any, holder: Any, provider: Any
) -> None:
    published(api_client, holder)
    assert delete(api_client, signed(holder, number=NUMBER, service="messaging")).status_code == 200
    other = certificate_issued(provider, OTHER_NUMBER)  # under another label: not in the answer
    published(api_client, other, number=OTHER_NUMBER)
    label = number_label(NUMBER).label
    clear = _version_1_removal_logged(label)

    response = history(api_client, history_token(holder))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["number"], body["label"]) == (NUMBER, label.hex())
    under_label = [
        index
        for index, data in Entry.objects.order_by("index").values_list("index", "data")
        if json.loads(bytes(data))["label"] == label.hex()
    ]
    assert [row["index"] for row in body["entries"]] == under_label
    kinds = [json.loads(base64.b64decode(row["entry"]))["kind"] for row in body["entries"]]
    assert kinds == ["certificate", "handler", "handler_removed", "handler_removed"]
    for row in body["entries"]:
        data = base64.b64decode(row["entry"])
        assert data == bytes(Entry.objects.get(index=row["index"]).data)
        entry = entry_parse(data)
        if row["index"] == clear:  # version 1: its fields are public, there is nothing to open
            assert (row["opening"], row["content"]) == (None, None)
            continue
        assert isinstance(entry, PrivateEntry)
        content_check(entry.kind, row["content"])
        opening = base64.b64decode(row["opening"])
        assert commitment(opening, row["content"]).hex() == entry.commitment
        assert row["content"]["number"] == NUMBER
    certificate, handler, removal = (row["content"] for row in body["entries"][:3])
    assert certificate["serial"] == holder.serial and certificate["provider"] == provider.slug
    assert (handler["uri"], handler["certificate"]) == ("sip:alice@chat.example", holder.serial)
    assert (removal["service"], removal["certificate"]) == ("messaging", holder.serial)


# --- Refusals: a 4xx problem, and no jti spent ---------------------------------------------------


def _refused(response: Any, status: int, slug: str) -> None:
    assert_problem(response, status, slug)
    assert not HandlerRequest.objects.exists()


def test_another_providers_certificate_is_refused(
    api_client: Any, holder: Any, client_for: Any
) -> None:
    from providers.services import api_key_create
    from tests.factories import ProviderFactory

    intruder = client_for(api_key_create(provider=ProviderFactory()).secret)
    response = history(intruder, history_token(holder))
    # Unknown to the intruder, as a serial nobody holds is (tests/core/test_oracles.py).
    _refused(response, 403, "signing-certificate-unknown")


def test_a_certificate_for_another_number_is_refused(
    api_client: Any, holder: Any, provider: Any
) -> None:
    other = certificate_issued(provider, OTHER_NUMBER)
    _refused(history(api_client, history_token(other)), 403, "signing-certificate-number-mismatch")


def test_a_revoked_certificate_is_refused(api_client: Any, holder: Any) -> None:
    revoke = signed(holder, serial=holder.serial, jti=None)
    revoked = api_client.post(f"/v1/certificates/{holder.serial}/revoke", revoke, content_type=JOSE)
    assert revoked.status_code == 200
    _refused(history(api_client, history_token(holder)), 403, "signing-certificate-not-valid")


def test_an_expired_certificate_is_refused(api_client: Any, holder: Any) -> None:
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        response = history(api_client, history_token(holder))
    _refused(response, 403, "signing-certificate-not-valid")


@pytest.mark.parametrize(
    ("claims", "slug"),
    [
        ({"number": OTHER_NUMBER}, "jws-payload-mismatch"),
        ({"service": "messaging"}, "jws-payload-mismatch"),
        ({"jti": "short"}, "jws-malformed"),
        ({"iat": None}, "jws-malformed"),
    ],
)
def test_a_bad_payload_is_refused(
    api_client: Any, holder: Any, claims: dict[str, Any], slug: str
) -> None:
    _refused(history(api_client, history_token(holder, **claims)), 400, slug)


def test_a_malformed_jws_is_refused(api_client: Any, holder: Any) -> None:
    _refused(history(api_client, "not.a-jws"), 400, "jws-malformed")
    token = history_token(holder, key=ec.generate_private_key(ec.SECP256R1()))
    _refused(history(api_client, token), 403, "jws-signature-invalid")


def test_a_replayed_jti_is_refused(api_client: Any, holder: Any) -> None:
    token = history_token(holder, jti="history-jti-0001")
    assert history(api_client, token).status_code == 200
    assert_problem(history(api_client, token), 409, "jws-replayed")
    assert HandlerRequest.objects.count() == 1


def test_an_x5c_under_a_root_not_trusted_is_refused(api_client: Any, foreign: Foreign) -> None:
    stranger = Foreign(pki=Pki(label="Stranger"), server=foreign.server).holder()
    token = stranger.token(number=NUMBER)
    _refused(history(api_client, token), 403, "signing-certificate-unknown")


def test_an_x5c_under_a_trusted_root_is_accepted(api_client: Any, foreign: Foreign) -> None:
    response = history(api_client, foreign.holder().token(number=NUMBER))
    assert response.status_code == 200, response.content
    # A certificate issued elsewhere is not in this log: nothing is under the label yet.
    assert response.json() == {
        "number": NUMBER,
        "label": number_label(NUMBER).label.hex(),
        "entries": [],
    }
