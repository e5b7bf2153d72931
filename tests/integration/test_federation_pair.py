"""Two resolution services on loopback, each a peer of the other (DESIGN §7.4): two gunicorn
processes over HTTPS, two databases, two logs, two CAs, each trusting the other's root for the
other's block (``rs_pair``, tests/integration/federation_pair.py).

Each accepts the other's advertisement through a real fetch; a challenge for the other's number
is refused with 421 naming the other, before any SMS; advertisements forged in every way a peer
fetch checks are refused and recorded, changing nothing; and a third service claiming numbers
already claimed is reported as a conflict, with both claims standing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from resolution.protocol.advertisements import advertisement_sign, advertisement_verify
from resolution.protocol.tnauthlist import encode_tn_auth_list
from tests.integration.federation_pair import (
    AdvertisementServer,
    ResolutionService,
    RsPair,
)
from tests.pki import Pki, p256

pytestmark = pytest.mark.integration

B_NUMBER = "+12015550142"  # in B's block
THIRD_START = "447400123000"
THIRD_BLOCK = f"1-{THIRD_START}-1000"  # UK mobile numbers, served by neither
THIRD_NUMBER = "+447400123456"
THIRD = "rs-third"  # the third peers' names at A start with it


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert str(body["type"]).endswith(f"/problems/{slug}")
    return body


def _served_by(service: ResolutionService, number: str) -> object:
    """The services a 421 of ``service`` names for ``number`` (one it does not serve)."""
    response = service.client.post("/v1/challenges", json={"number": number})
    return _problem(response, 421, "number-not-served")["served_by"]


def _referred(service: ResolutionService, number: str) -> list[str]:
    """The services a lookup of ``number`` at ``service`` refers to (it does not serve it)."""
    response = service.client.get(f"/v1/numbers/{number}")
    assert response.status_code == 200, response.text
    assert response.json()["served"] is False
    return [referral["url"] for referral in response.json()["referrals"]]


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _signed(
    pki: Pki,
    entries: dict[str, str],
    *,
    covered: tuple[tuple[str, int], ...],
    at: datetime | None = None,
) -> str:
    """An advertisement signed under ``pki`` by a range certificate covering ``covered``."""
    key = p256()
    leaf = pki.leaf(key.public_key(), tn_auth_list=encode_tn_auth_list([], covered))
    issued_at = at or datetime.now(UTC).replace(microsecond=0)
    return advertisement_sign(entries, key, [leaf, pki.issuing], issued_at=issued_at)


def _peer_add(service: ResolutionService, name: str, url: str, root_pem: str, ranges: str) -> None:
    root = service.folder / f"{name}-root.pem"
    root.write_text(root_pem)
    service.manage("peer_add", name, url, "--root", str(root), "--ranges", ranges)


@pytest.fixture
def third_server(rs_pair: RsPair) -> Iterator[Callable[[], AdvertisementServer]]:
    """``third_server()``: a third service's HTTPS server, which a test configures at A as a
    peer named ``rs-third…``; those peers are removed from A afterwards."""
    with contextlib.ExitStack() as servers:
        yield lambda: servers.enter_context(AdvertisementServer(rs_pair.tls))
    rs_pair.a.query(
        "DELETE FROM federation_peeradvertisement WHERE peer_id IN "
        "(SELECT id FROM federation_peer WHERE name LIKE %s)",
        f"{THIRD}%",
    )
    rs_pair.a.query("DELETE FROM federation_peer WHERE name LIKE %s", f"{THIRD}%")


def test_each_service_accepts_the_others_advertisement(rs_pair: RsPair) -> None:
    a, b = rs_pair.a, rs_pair.b
    for service, other in ((a, b), (b, a)):
        token = other.client.get("/.well-known/rs-advertisement")
        assert token.status_code == 200 and token.headers["Content-Type"] == "application/jose"
        root = x509.load_pem_x509_certificate(other.root_pem.encode())
        verified = advertisement_verify(
            token.text.strip(), [root], at=datetime.now(UTC), max_age=timedelta(days=7)
        )
        assert {block.key(): url for block, url in verified.entries.items()} == {
            other.ranges: other.url
        }
        # The first fetch accepted it, and the peer's database keeps that very token.
        name = f"rs-{other.label}"
        assert f"{name} ({other.url}): accepted the advertisement of " in service.peers_fetched
        assert service.query(
            "SELECT p.url, p.active, p.last_error, a.ranges, a.token FROM federation_peer p "
            "JOIN federation_peeradvertisement a ON a.peer_id = p.id WHERE p.name = %s",
            name,
        ) == [(other.url, True, "", other.ranges, token.text.strip())]
    # Two CAs; root_print prints the root /ca/root.pem serves, which the other trusts.
    assert a.root_pem != b.root_pem
    assert a.manage("root_print").stdout == a.root_pem


def test_a_challenge_for_the_others_number_is_refused_naming_it_and_sends_no_sms(
    rs_pair: RsPair,
) -> None:
    a, b = rs_pair.a, rs_pair.b

    assert _served_by(a, B_NUMBER) == [b.url]

    assert a.query("SELECT count(*) FROM ca_challenge") == [(0,)]
    assert a.query("SELECT count(*) FROM outbox_message") == [(0,)]
    assert B_NUMBER not in a.console()
    # A lookup at A refers to B; at B, which serves it, the challenge sends its SMS (printed
    # by B's console backend).
    assert _referred(a, B_NUMBER) == [b.url]
    challenge = b.client.post("/v1/challenges", json={"number": B_NUMBER})
    assert challenge.status_code == 201, challenge.text
    assert b.sms_code(challenge.json()["id"]).isdigit()


# Each forged advertisement, served by a peer of its own, and the check that refuses it.
FORGED = {
    f"{THIRD}-signature": "signature",  # another payload under a signature
    f"{THIRD}-coverage": "coverage",  # a key its certificate's TNAuthList does not cover
    f"{THIRD}-stale": "stale",  # signed eight days ago: older than a week
    f"{THIRD}-chain": "chain",  # B's advertisement, for a peer whose root is A's
    f"{THIRD}-url": "url",  # B's advertisement, under B's root, served by another service
}


def test_forged_advertisements_are_refused_by_a_real_fetch_and_recorded(
    rs_pair: RsPair, third_server: Callable[[], AdvertisementServer]
) -> None:
    a, b = rs_pair.a, rs_pair.b
    pki = Pki(label="Third")
    b_token = b.client.get("/.well-known/rs-advertisement").text
    covered = ((THIRD_START, 1000),)
    configured = []
    for name, reason in FORGED.items():
        server = third_server()
        entries = {THIRD_BLOCK: server.url}
        root, ranges = _pem(pki.root), THIRD_BLOCK
        if reason == "signature":
            header, _, signature = _signed(pki, entries, covered=covered).split(".")
            other = _signed(pki, {f"1-{THIRD_START}-100": server.url}, covered=covered)
            server.body = ".".join((header, other.split(".")[1], signature))
        elif reason == "coverage":
            server.body = _signed(pki, entries, covered=((THIRD_START, 10),))
        elif reason == "stale":
            at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
            server.body = _signed(pki, entries, covered=covered, at=at)
        else:
            server.body = b_token
            root, ranges = (a.root_pem if reason == "chain" else b.root_pem), b.ranges
        (a.folder / f"{name}-root.pem").write_text(root)
        configured.append((name, server.url, str(a.folder / f"{name}-root.pem"), ranges))
    # peer_add for each, in one process (the fixture ran it as a command already).
    a.shell(
        "from django.core.management import call_command\n"
        f"for name, url, root, ranges in {configured!r}:\n"
        "    call_command('peer_add', name, url, '--root', root, '--ranges', ranges)"
    )

    fetched = a.manage("peers_fetch", *FORGED, check=False)

    assert fetched.returncode == 1
    assert f"{len(FORGED)} of {len(FORGED)} peers' advertisements not accepted" in fetched.stderr
    said = dict(line.split(": ", 1) for line in fetched.stdout.splitlines())
    for name, url, _, _ in configured:
        assert said[f"{name} ({url})"].startswith(f"refused ({FORGED[name]}): ")
    # Recorded on each peer's row, and none of them kept.
    assert a.query(
        "SELECT p.name, p.last_error, a.peer_id FROM federation_peer p LEFT JOIN "
        "federation_peeradvertisement a ON a.peer_id = p.id WHERE p.name LIKE %s ORDER BY p.name",
        f"{THIRD}%",
    ) == sorted((name, said[f"{name} ({url})"], None) for name, url, _, _ in configured)
    # What A says of those numbers is unchanged: the third block is no one's, B's is B's alone.
    for number, serving in ((THIRD_NUMBER, []), (B_NUMBER, [b.url])):
        assert _served_by(a, number) == serving
        assert _referred(a, number) == serving


def test_a_third_service_claiming_claimed_numbers_is_a_conflict_not_resolved(
    rs_pair: RsPair, third_server: Callable[[], AdvertisementServer], tmp_path: Path
) -> None:
    a, b = rs_pair.a, rs_pair.b
    third = third_server()
    pki = Pki(label="Third")
    # Ten of B's numbers and a hundred of A's own, certified and allowed by A's operator.
    of_b, of_a = "1-12015550150-10", "1-33612000000-100"
    claimed = f"{of_b},{of_a}"
    third.body = _signed(
        pki,
        {of_b: third.url, of_a: third.url},
        covered=(("12015550150", 10), ("33612000000", 100)),
    )
    _peer_add(a, THIRD, third.url, _pem(pki.root), claimed)
    accepted = a.manage("peers_fetch").stdout
    assert f"{THIRD} ({third.url}): accepted the advertisement of " in accepted
    assert f"rs-b ({b.url}): kept (unchanged)" in accepted

    found = a.shell(
        "import json; from federation.selectors import conflicts; print(json.dumps(["
        "[c.first.peer, c.first.block.key(), c.second.peer, c.second.block.key()] "
        "for c in conflicts()]))"
    )

    assert sorted(map(tuple, json.loads(found)), key=repr) == [
        ("rs-b", b.ranges, THIRD, of_b),  # B's claim and the third's
        (None, a.ranges, THIRD, of_a),  # A's own served block and the third's
    ]
    # Both claims stand: the 421 and the lookup name both services, B's first.
    assert _served_by(a, "+12015550155") == [b.url, third.url]
    assert _referred(a, "+12015550155") == [b.url, third.url]
    assert _served_by(a, B_NUMBER) == [b.url]

    # Its operator trusts another root for it now: the advertisement kept, checked against
    # the former one, is forgotten at once, and its claims with it.
    root = tmp_path / "other-root.pem"
    root.write_text(_pem(Pki(label="Other").root))
    changed = a.manage("peer_add", THIRD, third.url, "--root", str(root)).stdout
    assert "Its kept advertisement was checked against its former URL or root" in changed
    assert _served_by(a, "+12015550155") == [b.url]
