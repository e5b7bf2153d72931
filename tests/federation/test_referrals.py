"""Referrals and the map (DESIGN §7.4): a lookup of a number another service serves says so
(``served`` false) and names that service with its advertisement; a number claimed twice is
answered with both; ``verify_lookup`` checks each referral's advertisement against the root
trusted for its URL; ``GET /v1/map`` is every accepted advertisement as one signed document."""

from __future__ import annotations

import gzip
import random
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ca.authority import ca_keys
from federation.keys import advertisement_keys_bootstrap
from federation.models import Peer
from federation.selectors import Claim, ClaimIndex
from federation.services import advertisement_renew, peer_fetch
from resolution.protocol.advertisements import Block, block_parse
from resolution.protocol.lookup import LookupVerificationError, verify_lookup
from resolution.protocol.servicemap import MapError, map_verify
from tests.federation.peer_server import PeerServer
from tests.federation.peers import BLOCK, NUMBER, _pem, _served, _signed
from tests.pki import Pki
from tests.problems import assert_problem
from transparency.keys import log_keys

pytestmark = pytest.mark.django_db

# As tests/federation/test_own_advertisement.py serves (one range certificate for both).
SERVED = ["1-33612000000-1000000", "2-33698765432"]
OWN_NUMBER = "+33612000042"


@pytest.fixture
def served(settings: Any) -> None:
    settings.RS_SERVED_RANGES = SERVED
    advertisement_keys_bootstrap()
    advertisement_renew(force=True)


@pytest.fixture
def accepted(pki: Pki, peer: Peer, peer_server: PeerServer) -> str:
    """The peer's advertisement of BLOCK, fetched and kept."""
    token = _signed(pki, {BLOCK: peer.url})
    _served(peer_server, token)
    peer_fetch(peer_id=peer.pk)
    return token


def _verify(answer: dict[str, Any], **options: Any) -> Any:
    keys = log_keys()
    return verify_lookup(answer, keys.note_verifier_key, keys.vrf_public_key, **options)


@pytest.mark.usefixtures("served")
def test_a_number_a_peer_serves_is_answered_with_a_referral(
    api_client: Any, pki: Pki, peer: Peer, accepted: str
) -> None:
    answer = api_client.get(f"/v1/numbers/{NUMBER}").json()

    assert answer["served"] is False
    assert answer["handlers"] == []
    assert answer["referrals"] == [{"url": peer.url, "advertisement": accepted}]
    verified = _verify(answer, referral_roots={peer.url: [pki.root]})
    assert not verified.served
    (referral,) = verified.referrals
    assert referral.url == peer.url
    assert referral.advertisement is not None
    assert referral.advertisement.url_for(NUMBER) == peer.url
    # Without roots, a referral is read but not vouched for: not to be followed.
    assert _verify(answer).referrals[0].advertisement is None


@pytest.mark.usefixtures("served")
def test_a_number_served_here_has_no_referral(api_client: Any) -> None:
    answer = api_client.get(f"/v1/numbers/{OWN_NUMBER}").json()

    assert answer["served"] is True
    assert answer["referrals"] == []
    assert _verify(answer, referral_roots={}).served


def test_a_service_that_serves_every_number_and_has_no_peers_refers_nowhere(
    api_client: Any,
) -> None:
    answer = api_client.get(f"/v1/numbers/{NUMBER}").json()
    assert (answer["served"], answer["referrals"]) == (True, [])


def test_a_number_claimed_here_and_by_a_peer_is_answered_with_both(
    api_client: Any, settings: Any, pki: Pki, peer: Peer, accepted: str
) -> None:
    settings.RS_SERVED_RANGES = ["1-33698000400-200"]  # inside the peer's BLOCK

    answer = api_client.get(f"/v1/numbers/{NUMBER}").json()

    assert answer["served"] is True
    assert [referral["url"] for referral in answer["referrals"]] == [peer.url]


@pytest.mark.usefixtures("served")
def test_a_referral_that_does_not_verify_is_refused(
    api_client: Any, pki: Pki, peer: Peer, accepted: str
) -> None:
    answer = api_client.get(f"/v1/numbers/{NUMBER}").json()
    other = Pki(label="Another")

    cases = {
        "the root trusted for another URL": {"https://rs-x.example": [pki.root]},
        "another root": {peer.url: [other.root]},
    }
    for roots in cases.values():
        with pytest.raises(LookupVerificationError, match="referral 0"):
            _verify(answer, referral_roots=roots)
    # An advertisement of another block, or of the number under another URL.
    for forged in (
        _signed(pki, {"1-33698000000-100": peer.url}),
        _signed(pki, {BLOCK: "https://rs-x.example"}),
    ):
        tampered = {**answer, "referrals": [{"url": peer.url, "advertisement": forged}]}
        with pytest.raises(LookupVerificationError, match="does not give this URL"):
            _verify(tampered, referral_roots={peer.url: [pki.root]})
    stale = _signed(pki, {BLOCK: peer.url}, at=timezone.now() - timedelta(days=8))
    tampered = {**answer, "referrals": [{"url": peer.url, "advertisement": stale}]}
    with pytest.raises(LookupVerificationError, match="stale"):
        _verify(tampered, referral_roots={peer.url: [pki.root]})
    for malformed in ([{"url": "ftp://x"}], [{"url": peer.url}], "x", [3]):
        with pytest.raises(LookupVerificationError, match="referral"):
            _verify({**answer, "referrals": malformed})


@pytest.mark.usefixtures("served")
def test_the_map_names_every_accepted_advertisement_and_verifies_under_the_root(
    anonymous_client: Any, settings: Any, pki: Pki, peer: Peer, accepted: str
) -> None:
    response = anonymous_client.get("/v1/map")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    found = map_verify(response.content.decode(), [ca_keys().root])
    assert found.url == settings.RS_PUBLIC_URL
    assert [service.url for service in found.services] == [settings.RS_PUBLIC_URL, peer.url]
    assert [s.url for s in found.serving(NUMBER)] == [peer.url]
    assert [s.url for s in found.serving(OWN_NUMBER)] == [settings.RS_PUBLIC_URL]
    assert found.services[1].root == pki.root
    assert found.services[1].blocks == (block_parse(BLOCK),)
    with pytest.raises(MapError, match="signing certificate"):
        map_verify(response.content.decode(), [pki.root])


@pytest.mark.usefixtures("served")
def test_the_map_lists_only_the_blocks_a_peer_may_claim(
    anonymous_client: Any, pki: Pki, peer: Peer, peer_server: PeerServer
) -> None:
    _served(peer_server, _signed(pki, {BLOCK: peer.url, "1-33698005000-1000": peer.url}))
    peer_fetch(peer_id=peer.pk)
    Peer.objects.filter(pk=peer.pk).update(allowed_ranges=BLOCK)

    found = map_verify(anonymous_client.get("/v1/map").content.decode(), [ca_keys().root])

    assert found.services[1].blocks == (block_parse(BLOCK),)
    assert found.serving("+33698005000") == []


def test_a_service_that_serves_every_number_has_no_map(anonymous_client: Any) -> None:
    assert_problem(anonymous_client.get("/v1/map"), 404, "map-not-found")


def test_the_claim_index_finds_what_a_scan_finds() -> None:
    """Bisection over claims, overlapping ones (conflicts) included, against a plain scan."""
    rng = random.Random(7)
    claims = []
    for position in range(400):
        start = rng.randrange(33600000000, 33600100000)
        block = Block(length=11, start=start, count=rng.choice([1, 2, 10, 500, 5000]))
        claims.append(Claim(block, f"https://rs{position % 9}.example", "", f"p{position}"))
    claims.append(Claim(Block(length=12, start=447700900000, count=100), "https://uk", "", "uk"))
    index = ClaimIndex(claims)

    for _ in range(2000):
        number = f"+{rng.randrange(33599990000, 33600110000)}"
        scanned = {claim for claim in claims if claim.block.contains(number)}
        assert set(index.claiming(number)) == scanned
    assert [c.url for c in index.claiming("+447700900050")] == ["https://uk"]
    assert index.claiming("+4477009") == [] and index.claiming("+33x00000000") == []


@pytest.mark.usefixtures("served")
def test_the_advertisement_and_the_map_are_served_to_who_asks_for_jose(
    anonymous_client: Any,
) -> None:
    """Peers fetch the advertisement, and rs the map, with Accept: application/jose."""
    for path in ("/.well-known/rs-advertisement", "/v1/map"):
        response = anonymous_client.get(path, HTTP_ACCEPT="application/jose")
        assert response.status_code == 200, path
        assert response["Content-Type"] == "application/jose"
    missing = anonymous_client.get("/nothing/here", HTTP_ACCEPT="application/jose")
    assert missing.status_code == 404


@pytest.mark.usefixtures("served")
def test_a_peer_whose_root_changed_since_its_fetch_is_left_out_of_the_map(
    anonymous_client: Any, peer: Peer, accepted: str
) -> None:
    Peer.objects.filter(pk=peer.pk).update(root_pem=_pem(Pki(label="New root").root))

    found = map_verify(anonymous_client.get("/v1/map").content.decode(), [ca_keys().root])

    assert [service.url for service in found.services] == [found.url]


@pytest.mark.usefixtures("served")
def test_the_map_is_sent_compressed_to_who_accepts_it(anonymous_client: Any) -> None:
    plain = anonymous_client.get("/v1/map")
    packed = anonymous_client.get("/v1/map", HTTP_ACCEPT_ENCODING="gzip")

    assert packed["Content-Encoding"] == "gzip"
    assert map_verify(gzip.decompress(packed.content).decode(), [ca_keys().root])
    assert "Content-Encoding" not in plain
