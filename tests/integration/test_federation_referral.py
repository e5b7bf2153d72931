"""A number registered at one service, looked up through the other (DESIGN §7.4), with ``rs``
as two apps would run it: two config folders, two services (``rs_pair``).

App B registers and publishes its number at B. App A, whose home service is A, looks it up:
A refers the lookup to B, ``rs`` checks the referral's advertisement against B's root (pinned
from A's signed map), asks B with the key A's vendor holds at B (``rs login``; A's key is
never sent to B), and verifies B's answer against B's own log keys, pinned on first use. With
the map kept (``rs map sync``), the next lookup goes straight to B.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resolution.client.store import Store
from tests.integration.federation_pair import ResolutionService, RsPair

pytestmark = pytest.mark.integration

B_NUMBER = "+12015550177"  # in B's block
URI = "sip:bob@b.example"


class App:
    """``rs`` run as a subprocess for one app: its config folder, its home service and key."""

    def __init__(self, folder: Path, home: ResolutionService, api_key: str, ca_file: Path):
        self.folder, self.home, self.api_key = folder, home, api_key
        self.env = {
            **os.environ,
            "RS_URL": home.url,
            "RS_API_KEY": api_key,
            "RS_CONFIG_DIR": str(folder),
            "SSL_CERT_FILE": str(ca_file),  # the pair's throwaway TLS CA
        }

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "resolution.cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def json(self, *args: str, **env: str) -> Any:
        done = self(*args, "--json", **env)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


def app_logged_in(rs_pair: RsPair, folder: Path, slug: str) -> App:
    """An app whose home service is A, holding a key at B too (provider ``slug`` there)."""
    a, b = rs_pair.a, rs_pair.b
    app_a = App(folder, a, a.api_key, rs_pair.tls.ca_file)
    key_at_b = b.manage("provider_create", slug, "--name", slug).stdout.strip()
    assert app_a("login", "--url", b.url, "--api-key", key_at_b).returncode == 0
    return app_a


@pytest.fixture(scope="module")
def registered(rs_pair: RsPair, tmp_path_factory: pytest.TempPathFactory) -> App:
    """App B's number, registered and published at B."""
    b = rs_pair.b
    app_b = App(tmp_path_factory.mktemp("app-b"), b, b.api_key, rs_pair.tls.ca_file)
    started = app_b.json("register", B_NUMBER)
    code = b.sms_code(started["challenge"])
    app_b.json("register", B_NUMBER, "--code", code)
    app_b.json("publish", B_NUMBER, "messaging", URI)
    return app_b


def test_a_lookup_through_a_is_referred_to_b_and_verified_against_bs_log(
    rs_pair: RsPair, registered: App, tmp_path: Path
) -> None:
    a, b = rs_pair.a, rs_pair.b
    app_a = App(tmp_path / "app-a", a, a.api_key, rs_pair.tls.ca_file)

    # Without a key at B, nothing is sent there (A's key never is).
    refused = app_a("lookup", B_NUMBER)
    assert refused.returncode == 3, refused.stderr
    assert f"no API key kept for {b.url}: run 'rs login'" in refused.stderr
    store = Store(app_a.folder)
    assert store.api_key(b.url) is None
    # Learning B's root fetched A's map, and kept it: drop it, to follow the referral below.
    shutil.rmtree(app_a.folder / "maps")

    # A's vendor holds a key at B too: kept for B, checked with B first.
    key_at_b = b.manage("provider_create", "app-a", "--name", "App A at B").stdout.strip()
    login = app_a("login", "--url", b.url, "--api-key", key_at_b)
    assert login.returncode == 0, login.stderr
    assert store.api_key(b.url) == key_at_b

    found = app_a.json("lookup", B_NUMBER)

    assert found["verified"] is True
    assert (found["served_by"], found["referred_by"], found["via_map"]) == (b.url, a.url, False)
    assert [(h["service"], h["uri"]) for h in found["handlers"] + found["pending"]] == [
        ("messaging", URI)
    ]
    assert found["checkpoint"]["origin"] != ""
    # Each service's log keys pinned for it, B's root pinned from A's map.
    assert store.pinned_log(a.url) is not None and store.pinned_log(b.url) is not None
    assert store.pinned_log(a.url) != store.pinned_log(b.url)
    assert store.pinned_root(b.url) is not None

    # The text says where the answer came from.
    shown = app_a("lookup", B_NUMBER)
    assert shown.returncode == 0, shown.stderr
    assert URI in shown.stdout and f"served by {b.url}" in shown.stdout


def test_with_the_map_kept_the_lookup_goes_straight_to_b(
    rs_pair: RsPair, registered: App, tmp_path: Path
) -> None:
    a, b = rs_pair.a, rs_pair.b
    app_a = app_logged_in(rs_pair, tmp_path / "app-a", "app-a-map")

    synced = app_a.json("map", "sync")

    assert [service["url"] for service in synced["services"]] == [a.url, b.url]
    assert synced["services"][1]["blocks"] == [b.ranges]
    found = app_a.json("lookup", B_NUMBER)
    assert (found["served_by"], found["referred_by"], found["via_map"]) == (b.url, None, True)
    assert [h["uri"] for h in found["handlers"] + found["pending"]] == [URI]


def test_bs_answer_must_verify_against_bs_pinned_keys(
    rs_pair: RsPair, registered: App, tmp_path: Path
) -> None:
    """B's log keys pinned as A's: B's answer no longer verifies, and is refused."""
    a, b = rs_pair.a, rs_pair.b
    app_a = app_logged_in(rs_pair, tmp_path / "app-a", "app-a-pin")
    assert app_a.json("lookup", "+33612000001")["served_by"] == a.url  # A's keys pinned
    store = Store(app_a.folder)
    note_key, vrf_key = store.pinned_log(a.url) or ("", b"")
    store.pin_log(b.url, note_key, vrf_key)  # the impostor's keys, as if pinned earlier

    refused = app_a("lookup", B_NUMBER)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "does not verify" in refused.stderr or "HAVE CHANGED" in refused.stderr
