"""An outsider with no API key reads everything public and learns no number (issue: private log).

The log below holds what a real one does: certificates of several providers, handlers (one
hidden from everyone but its publisher and one other provider), a removal and a revocation.
The outsider reads every public byte (the C2SP tiles and entry bundles, the JSON view of the
log, the explorer's pages, the CA's root and CRL, the landing page and the log's keys), then
tries every serial, identifier and hash it found against every public URL that takes one.
Nothing it gets back names a number in any spelling, or the provider, service or URI of the
hidden handler.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cryptography import x509

from ca.choices import RevocationReason
from ca.models import Certificate
from ca.services.revocation import certificate_revoke
from directory.services import handler_delete
from resolution.protocol.tiles import TILE_WIDTH, decode_entry_bundle, entries_path, tile_path
from tests.api_client import committed
from tests.ca.flow import certificate_issued
from tests.directory.flow import handler_published, signed
from tests.factories import ProviderFactory
from transparency.services import log_integrate

pytestmark = pytest.mark.django_db

NUMBERS = ("+33612345678", "+33698765432", "+4915112345678")
HIDDEN_URI = "xmpp:secret-contact@hidden.example"
PUBLIC_PAGES = ("/", "/log/checkpoint", "/log/key", "/v1/log/checkpoint", "/ca/root.pem", "/ca/crl")
PUBLIC_KEYS = {"v", "kind", "label", "commitment", "reason"}
# What a serial, a hash or a repository id looks like in anything the outsider reads: hex, or
# base64url of 32 characters (as repository ids are).
TOKEN = re.compile(rb"(?<![0-9a-f])[0-9a-f]{16,}(?![0-9a-f])|(?<![\w-])[A-Za-z0-9_-]{32}(?![\w-])")


def spellings(number: str) -> list[bytes]:
    """Every way a page or a body could spell ``number``."""
    digits = number[1:]
    return [
        number.encode(),
        digits.encode(),
        b"%2B" + digits.encode(),
        b"%2b" + digits.encode(),
        # Grouped as a person writes it: "+33 6 12 34 56 78".
        (number[:3] + " " + " ".join(digits[2:][i : i + 2] for i in range(0, 9, 2))).encode(),
    ]


@pytest.fixture
def log(crl: Any) -> dict[str, Any]:
    """A log with certificates, handlers (one hidden), a removal and a revocation."""
    alice, bob, hidden_vendor, onlooker = (
        ProviderFactory(slug=slug, name=slug.title())
        for slug in ("alpha-chat", "bravo-talk", "quietvendor-zulu", "onlooker-yankee")
    )
    holders = [
        certificate_issued(alice, NUMBERS[0]),
        certificate_issued(bob, NUMBERS[1]),
        certificate_issued(hidden_vendor, NUMBERS[2]),
    ]
    handler_published(alice, holders[0], number=NUMBERS[0], uri="sip:alice@chat.example")
    handler_published(bob, holders[1], number=NUMBERS[1], service="voice", uri="tel:+33698765432")
    handler_published(
        hidden_vendor,
        holders[2],
        number=NUMBERS[2],
        service="xmpp",
        uri=HIDDEN_URI,
        visibility=[onlooker.slug],
    )
    with committed():
        handler_delete(
            provider=alice,
            number=NUMBERS[0],
            service="messaging",
            token=signed(holders[0], number=NUMBERS[0], service="messaging"),
        )
        certificate_revoke(
            certificate=Certificate.objects.get(serial=holders[1].serial),
            reason=RevocationReason.KEY_COMPROMISE,
            actor="holder",
        )
    log_integrate()
    return {"holders": holders, "hidden_vendor": hidden_vendor.slug}


def read(client: Any, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return bytes(response.content)


def public_bytes(client: Any) -> dict[str, bytes]:
    """Everything an outsider can read without a key, by URL."""
    pages: dict[str, bytes] = {}
    for url in (
        "/",
        "/log/checkpoint",
        "/log/key",
        "/v1/log/checkpoint",
        "/ca/root.pem",
        "/ca/crl",
    ):
        pages[url] = read(client, url)
    size = client.get("/v1/log/checkpoint").json()["size"]
    pages["/v1/log/entries"] = read(client, f"/v1/log/entries?start=0&end={size}")
    for start in range(0, size, TILE_WIDTH):
        index, width = start // TILE_WIDTH, min(TILE_WIDTH, size - start)
        partial = width if width < TILE_WIDTH else None
        pages[f"/log/{entries_path(index, partial)}"] = read(
            client, f"/log/{entries_path(index, partial)}"
        )
        pages[f"/log/{tile_path(0, index, partial)}"] = read(
            client, f"/log/{tile_path(0, index, partial)}"
        )
    for url in ("/explorer/", "/explorer/entries/"):
        pages[url] = read(client, url)
    for index in range(size):
        pages[f"/explorer/entries/{index}"] = read(client, f"/explorer/entries/{index}")
    return pages


def log_entries(pages: dict[str, bytes]) -> list[dict[str, Any]]:
    entries = []
    for url, body in pages.items():
        if url.startswith("/log/tile/entries/"):
            entries += [json.loads(entry) for entry in decode_entry_bundle(body)]
    return entries


def probes(client: Any, tokens: set[bytes]) -> dict[str, bytes]:
    """What every public URL that takes an identifier answers for every token found."""
    answers = {}
    for token in sorted(tokens):
        text = token.decode()
        for url in (f"/ca/certs/{text}.pem", f"/explorer/entries/{text}"):
            response = client.get(url)
            answers[url] = bytes(response.content)
            assert response.status_code in (200, 404), (url, response.status_code)
    return answers


def test_an_outsider_learns_no_number_and_nothing_of_a_hidden_handler(
    anonymous_client: Any, log: dict[str, Any]
) -> None:
    pages = public_bytes(anonymous_client)
    entries = log_entries(pages)
    kinds = sorted({entry["kind"] for entry in entries})
    assert kinds == ["certificate", "handler", "handler_removed", "revocation"], kinds

    # Entries hold a label, a commitment and (for removals) a reason: nothing else.
    for entry in entries:
        assert set(entry) <= PUBLIC_KEYS, entry
        assert entry["v"] == 2

    tokens = {token for body in pages.values() for token in TOKEN.findall(body)}
    tokens |= {holder.serial.encode() for holder in log["holders"]}  # as the CRL lists them
    # Every label and commitment of the log is among what the outsider tries.
    assert {entry["commitment"].encode() for entry in entries} <= tokens
    assert {entry["label"].encode() for entry in entries} <= tokens
    answers = probes(anonymous_client, tokens)

    everything = b"\n".join([*pages.values(), *answers.values()])
    for number in NUMBERS:
        for spelling in spellings(number):
            assert spelling not in everything, (number, spelling)
    # The hidden handler: its provider, service and URI appear nowhere an outsider can read.
    assert log["hidden_vendor"].encode() not in everything
    assert HIDDEN_URI.encode() not in everything
    assert b"xmpp" not in b"\n".join(
        body for url, body in pages.items() if url.startswith(("/log/", "/v1/log/"))
    )
    # A serial, which the CRL lists, opens no certificate; neither does any other token.
    for holder in log["holders"]:
        assert not any(
            b"BEGIN CERTIFICATE" in answers[f"/ca/certs/{token.decode()}.pem"] for token in tokens
        ), holder.serial


def test_the_crl_lists_serials_that_open_nothing(
    anonymous_client: Any, log: dict[str, Any]
) -> None:
    crl = x509.load_der_x509_crl(read(anonymous_client, "/ca/crl"))
    serials = [format(revoked.serial_number, "032x") for revoked in crl]
    assert log["holders"][1].serial in serials
    for serial in serials:
        for url in (f"/ca/certs/{serial}.pem", f"/ca/certs/{serial.upper()}.pem"):
            response = anonymous_client.get(url)
            assert response.status_code == 404
            assert b"BEGIN CERTIFICATE" not in response.content
