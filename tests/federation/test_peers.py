"""Peers (DESIGN §7.4): each active peer's advertisement is fetched from its well-known path
through the SSRF-safe fetch, verified against the root configured for it, kept only when it
names the peer's own URL and blocks it may claim and is newer than the one kept; whatever is
refused is recorded on the peer, never raised. Overlapping claims are conflicts: reported, and
answered with both services."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from federation.models import Peer, PeerAdvertisement
from federation.selectors import Serving, conflicts, rs_serving
from federation.services import peer_fetch, peers_fetch
from tests.federation.peer_server import PeerServer, peer_server  # noqa: F401  # a fixture
from tests.federation.peers import BLOCK, NUMBER, _pem, _served, _signed
from tests.pki import Pki
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_a_peers_advertisement_is_fetched_verified_and_kept(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
) -> None:
    token = _signed(pki, {BLOCK: peer.url})
    _served(peer_server, token)

    assert peers_fetch() == 1

    kept = PeerAdvertisement.objects.get(peer=peer)
    peer.refresh_from_db()
    assert kept.token == token and kept.ranges == BLOCK
    assert peer.last_error == "" and peer.last_fetch_at is not None
    assert rs_serving(NUMBER)[-1] == Serving(peer.url, token)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad signature", "signature"),
        ("key not covered", "coverage"),
        ("stale", "stale"),
        ("wrong root", "chain"),
        ("outside the allowed blocks", "not allowed"),
        ("another URL", "url"),
    ],
)
def test_a_forged_or_foreign_advertisement_is_refused_and_recorded(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    case: str,
    reason: str,
) -> None:
    if case == "bad signature":
        header, _, signature = _signed(pki, {BLOCK: peer.url}).split(".")
        other = _signed(pki, {"1-33698000000-2000": peer.url})
        token = ".".join((header, other.split(".")[1], signature))
    elif case == "key not covered":
        token = _signed(pki, {BLOCK: peer.url}, ranges=(("33698000000", 10),))
    elif case == "stale":
        token = _signed(pki, {BLOCK: peer.url}, at=timezone.now() - timedelta(days=8))
    elif case == "wrong root":
        token = _signed(Pki(label="Stranger"), {BLOCK: peer.url})
    elif case == "outside the allowed blocks":
        token = _signed(pki, {"1-33698000000-200000": peer.url}, ranges=(("33698000000", 200000),))
    else:
        token = _signed(pki, {BLOCK: "https://elsewhere.example"})
    _served(peer_server, token)

    assert peer_fetch(peer_id=peer.pk) is None  # never raised to the beat

    peer.refresh_from_db()
    assert f"refused ({reason})" in peer.last_error
    assert not PeerAdvertisement.objects.exists()


def test_an_older_advertisement_does_not_replace_the_kept_one(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
) -> None:
    newer = _signed(pki, {BLOCK: peer.url})
    _served(peer_server, newer)
    peer_fetch(peer_id=peer.pk)
    _served(peer_server, _signed(pki, {BLOCK: peer.url}, at=timezone.now() - timedelta(hours=1)))

    kept = peer_fetch(peer_id=peer.pk)

    peer.refresh_from_db()
    assert kept is not None and kept.token == newer
    assert "refused (older)" in peer.last_error


def test_a_peer_that_is_down_keeps_its_last_advertisement_and_says_why(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
) -> None:
    token = _signed(pki, {BLOCK: peer.url})
    _served(peer_server, token)
    peer_fetch(peer_id=peer.pk)
    peer_server.status = 503

    kept = peer_fetch(peer_id=peer.pk)

    peer.refresh_from_db()
    assert kept is not None and kept.token == token
    assert peer.last_error.startswith("fetch failed (status)")
    # Fetched again once it is back: the error is cleared.
    peer_server.status = 200
    peer_fetch(peer_id=peer.pk)
    peer.refresh_from_db()
    assert peer.last_error == ""


def test_a_peer_that_is_not_active_is_not_fetched(peer: Peer) -> None:
    Peer.objects.filter(pk=peer.pk).update(active=False)
    assert peers_fetch() == 0


def test_an_overlap_with_our_own_ranges_is_a_conflict_answered_with_both(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    settings: Any,
    api_client: Any,
) -> None:
    token = _signed(pki, {BLOCK: peer.url})
    _served(peer_server, token)
    peer_fetch(peer_id=peer.pk)
    settings.RS_SERVED_RANGES = ["1-33698000900-200"]

    found = conflicts()

    assert len(found) == 1
    assert {found[0].first.peer, found[0].second.peer} == {None, "rs-b"}
    assert [serving.url for serving in rs_serving("+33698000950")] == [
        settings.RS_PUBLIC_URL,
        peer.url,
    ]
    assert rs_serving(NUMBER) == [Serving(peer.url, token)]
    # A number the peer serves and we do not: the refusal names the peer.
    response = api_client.post("/v1/challenges", {"number": NUMBER}, format="json")
    assert_problem(response, 421, "number-not-served")
    assert response.json()["served_by"] == [peer.url]


def test_two_peers_claiming_the_same_numbers_are_a_conflict(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    admin_client: Any,
    settings: Any,
) -> None:
    settings.RS_SERVED_RANGES = ["2-33612345678"]
    _served(peer_server, _signed(pki, {BLOCK: peer.url}))
    peer_fetch(peer_id=peer.pk)
    other = Peer.objects.create(
        name="rs-c", url="https://rs-c.example", root_pem=peer.root_pem, allowed_ranges=BLOCK
    )
    PeerAdvertisement.objects.create(
        peer=other,
        token="t",
        issued_at=timezone.now(),
        ranges="1-33698000400-10",
        fetched_at=timezone.now(),
    )

    assert [(c.first.peer, c.second.peer) for c in conflicts()] == [("rs-b", "rs-c")]
    assert {s.url for s in rs_serving("+33698000405")} == {peer.url, other.url}

    page = admin_client.get("/admin/federation/peer/conflicts/").content.decode()
    assert "1-33698000000-1000" in page and "1-33698000400-10" in page
    assert "rs-b" in page and "rs-c" in page
    listing = admin_client.get("/admin/federation/peer/").content.decode()
    assert "1 conflicting claims" in listing


def test_a_refusal_is_logged_once_until_it_changes(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    _served(peer_server, _signed(Pki(label="Stranger"), {BLOCK: peer.url}))
    with caplog.at_level(logging.INFO, logger="federation.services"):
        peer_fetch(peer_id=peer.pk)
        peer_fetch(peer_id=peer.pk)
        peer_server.status = 503
        peer_fetch(peer_id=peer.pk)

    logs = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    refusals = [log for log in logs if log["event"] == "peer_advertisement_refused"]
    assert [log["error"].split(" ")[0:2] for log in refusals] == [
        ["refused", "(chain):"],
        ["fetch", "failed"],
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "http://rs-c.example"),
        ("url", "https://rs-c.example/v1"),
        ("root_pem", "not a certificate"),
        ("allowed_ranges", "1-33698000000-1000, 2-33698000001"),
    ],
)
def test_a_peer_is_configured_only_with_a_base_url_a_root_and_blocks(
    pki: Pki, field: str, value: str
) -> None:
    peer = Peer(
        name="rs-c",
        url="https://rs-c.example",
        root_pem=_pem(pki.root),
        allowed_ranges=BLOCK,
    )
    peer.full_clean()
    setattr(peer, field, value)
    with pytest.raises(ValidationError) as raised:
        peer.full_clean()
    assert field in raised.value.message_dict


def test_a_kept_claim_lapses_when_stale_or_no_longer_allowed(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    settings: Any,
) -> None:
    settings.RS_SERVED_RANGES = ["2-33612345678"]
    _served(peer_server, _signed(pki, {BLOCK: peer.url}))
    peer_fetch(peer_id=peer.pk)
    assert [s.url for s in rs_serving(NUMBER)] == [peer.url]

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert rs_serving(NUMBER) == []
    Peer.objects.filter(pk=peer.pk).update(allowed_ranges="1-33698000000-100")
    assert rs_serving(NUMBER) == []


def test_an_operator_fetches_a_peer_at_once_from_the_admin(
    pki: Pki,
    peer: Peer,
    peer_server: PeerServer,  # noqa: F811
    admin_client: Any,
) -> None:
    _served(peer_server, _signed(pki, {BLOCK: peer.url}))

    response = admin_client.post(
        "/admin/federation/peer/",
        {"action": "fetch_now", "_selected_action": [peer.pk]},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["rs-b: advertisement accepted"]
    assert PeerAdvertisement.objects.filter(peer=peer).exists()
    page = admin_client.get(f"/admin/federation/peer/{peer.pk}/change/").content.decode()
    assert BLOCK in page and "PRIVATE" not in page
