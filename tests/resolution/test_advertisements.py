"""Range advertisements (resolution.protocol.advertisements): the draft's keys, a range
certificate's signature, and every way a forged or stale one is refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.advertisements import (
    AdvertisementError,
    Block,
    advertisement_sign,
    advertisement_verify,
    block_covered,
    block_parse,
    overlaps,
)
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import b64url_decode, b64url_encode, jws_sign
from resolution.protocol.tnauthlist import TNAuthList, decode_tn_auth_list, encode_tn_auth_list
from tests.pki import NOW, Pki, p256

FR = "https://rs.example.fr"
RANGE = "1-33612000000-1000000"
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki(label="Peer")


def signer(pki: Pki, *, ranges=(("33612000000", 1_000_000),), numbers=()):
    key = p256()
    tn = encode_tn_auth_list(list(numbers), list(ranges))
    return key, [pki.leaf(key.public_key(), tn_auth_list=tn), pki.issuing]


def signed(pki: Pki, entries=None, *, at=NOW, **kwargs):
    key, chain = signer(pki, **kwargs)
    return advertisement_sign(entries or {RANGE: FR}, key, chain, issued_at=at)


def verified(pki: Pki, token: str, *, at=NOW, roots=None):
    return advertisement_verify(token, roots or [pki.root], at=at, max_age=DAY)


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "block"),
    [
        ("1-33612000000-1000000", Block(11, 33612000000, 1_000_000)),
        ("2-33698765432", Block(11, 33698765432, 1)),
        ("1-0033-2", Block(4, 33, 2)),
    ],
)
def test_the_drafts_keys_name_blocks_and_are_spelt_back(key, block):
    assert block_parse(key) == block and block.key() == key


@pytest.mark.parametrize(
    "key",
    [
        "3-33612345678",  # an spc is no block of numbers
        "2-+33612345678",
        "1-33612000000-1",  # a range holds two numbers at least
        "1-33612000000-0",
        "1-33612000000-01000",  # one spelling
        "1-99-2",  # past the last 2-digit number
        "2-1234567890123456",  # 16 digits
        "1-336120000001000000",
        "2-",
        "1-336-x",
        "2-٣٣",  # non-ASCII digits
    ],
)
def test_malformed_keys_are_refused(key):
    with pytest.raises(AdvertisementError) as refused:
        block_parse(key)
    assert refused.value.reason == "format"


def test_blocks_contain_numbers_of_their_length_only():
    block = block_parse(RANGE)
    assert block.contains("+33612345678") and block.contains("33612999999")
    assert not block.contains("+33613000000") and not block.contains("+3361234567")


@given(st.integers(0, 10**6), st.integers(1, 10**4), st.integers(0, 10**6), st.integers(1, 10**4))
def test_overlap_is_sharing_a_number(a_start, a_count, b_start, b_count):
    a, b = Block(7, a_start, a_count), Block(7, b_start, b_count)
    shared = set(range(a.start, a.end + 1)) & set(range(b.start, b.end + 1))
    assert overlaps(a, b) == overlaps(b, a) == bool(shared)
    assert not overlaps(a, Block(8, a_start, a_count))


def test_a_range_is_covered_by_a_range_holding_it_or_by_each_number():
    tn = TNAuthList(ranges=(("33612000000", 1_000_000),), numbers=("33698765432", "33698765433"))
    assert block_covered(tn, block_parse("1-33612500000-1000"))
    assert not block_covered(tn, block_parse("1-33612999000-1001"))  # runs past it
    assert block_covered(tn, block_parse("1-33698765432-2"))
    assert not block_covered(tn, block_parse("1-33698765432-3"))


def test_a_range_certificates_tnauthlist_round_trips():
    der = encode_tn_auth_list(["33698765432"], [("33612000000", 1_000_000), ("33", 128)])
    assert decode_tn_auth_list(der) == TNAuthList(
        numbers=("33698765432",), ranges=(("33612000000", 1_000_000), ("33", 128))
    )


# --- signed and verified ------------------------------------------------------------------------


def test_an_advertisement_verifies_and_names_its_rs(pki):
    token = signed(pki, {RANGE: FR + "/", "2-33698765432": FR}, numbers=["33698765432"])

    advertisement = verified(pki, token)

    assert advertisement.url_for("+33612345678") == FR
    assert advertisement.url_for("+33698765432") == FR
    assert advertisement.url_for("+33700000000") is None
    assert advertisement.issued_at == NOW.replace(microsecond=0)
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["typ"] == "rs-advertisement+jwt" and len(header["x5c"]) == 2


def test_a_key_the_certificate_does_not_cover_is_refused(pki):
    token = signed(pki, {RANGE: FR, "1-33700000000-100": FR})
    with pytest.raises(AdvertisementError) as refused:
        verified(pki, token)
    assert refused.value.reason == "coverage"


def test_a_chain_to_another_root_is_refused(pki):
    stranger = Pki(label="Stranger")
    with pytest.raises(AdvertisementError) as refused:
        verified(pki, signed(stranger))
    assert refused.value.reason == "chain"


def test_stale_and_future_advertisements_are_refused(pki):
    token = signed(pki, at=NOW - DAY - timedelta(seconds=1))
    with pytest.raises(AdvertisementError) as stale:
        verified(pki, token)
    assert stale.value.reason == "stale"
    with pytest.raises(AdvertisementError) as future:
        verified(pki, signed(pki, at=NOW + timedelta(minutes=6)))
    assert future.value.reason == "future"


def test_a_changed_payload_or_another_key_fails_the_signature(pki):
    header, payload, signature = signed(pki).split(".")
    changed = json.loads(b64url_decode(payload)) | {RANGE: "https://evil.example"}
    forged = f"{header}.{b64url_encode(canonical_json(changed))}.{signature}"
    with pytest.raises(AdvertisementError) as refused:
        verified(pki, forged)
    assert refused.value.reason == "signature"
    _, chain = signer(pki)
    other = advertisement_sign({RANGE: FR}, p256(), chain, issued_at=NOW)
    with pytest.raises(AdvertisementError, match="signature"):
        verified(pki, other)


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        ({RANGE: "http://rs.example.fr"}, "https"),
        ({RANGE: "https://user:pw@rs.example.fr"}, "credentials"),
        ({RANGE: "https://rs.example.fr/?q=1"}, "base URL"),
        ({RANGE: 7}, "not a string"),
        ({RANGE: FR, "1-33612500000-10": FR}, "overlap"),
        ({}, "at least one"),
    ],
)
def test_malformed_payloads_are_refused(pki, entries, why):
    key, chain = signer(pki)
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain]
    header = {"alg": "ES256", "typ": "rs-advertisement+jwt", "x5c": x5c}
    token = jws_sign(header, canonical_json({"iat": int(NOW.timestamp()), **entries}), key)
    with pytest.raises(AdvertisementError, match=why) as refused:
        verified(pki, token)
    assert refused.value.reason == "format"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256", "typ": "JWT"},
        {"alg": "ES256", "typ": "rs-advertisement+jwt"},
        {"alg": "ES256", "typ": "rs-advertisement+jwt", "x5c": "not a list"},
        {"alg": "ES256", "typ": "rs-advertisement+jwt", "x5c": ["bm90IGEgY2VydA=="]},
        {"alg": "ES256", "typ": "rs-advertisement+jwt", "x5c": []},
    ],
)
def test_a_header_without_a_certificate_chain_is_refused(pki, header):
    token = jws_sign(header, canonical_json({RANGE: FR, "iat": int(NOW.timestamp())}), p256())
    with pytest.raises(AdvertisementError) as refused:
        verified(pki, token)
    assert refused.value.reason == "format"


def test_plain_http_base_urls_only_where_allowed(pki):
    key, chain = signer(pki)
    loopback = {RANGE: "http://127.0.0.1:8001"}
    with pytest.raises(AdvertisementError, match="https"):
        advertisement_sign(loopback, key, chain, issued_at=NOW)
    token = advertisement_sign(loopback, key, chain, issued_at=NOW, https_only=False)
    with pytest.raises(AdvertisementError, match="https"):
        verified(pki, token)
    allowed = advertisement_verify(token, [pki.root], at=NOW, max_age=DAY, https_only=False)
    assert allowed.url_for("+33612345678") == "http://127.0.0.1:8001"
