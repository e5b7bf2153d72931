"""The pages in a real browser: headless Chromium against a live server with a real log.

The entry page's badge turns green when the browser has checked the inclusion proof and the
checkpoint's signature itself, and red when the proof served is tampered with; the label box
finds a number's entries; the scripts pass the Merkle test vectors; nothing is fetched from
another host; the pages fit a phone's screen.

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them); run with
``pytest -m browser``. With ``RS_SCREENSHOTS_DIR`` set (e.g. ``docs/screenshots``), the
screenshots are written there.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client

from directory.metrics import lookup_counts_flush
from resolution.protocol import merkle
from resolution.protocol.note import generate_signer, sign_note, verifier_key
from tests.ca.flow import NUMBER
from tests.directory.flow import lookup
from tests.web.logbuild import BuiltLog, log_built

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle" / "inclusion"
# Flags for a machine with no display, no sandbox privileges and no network beyond itself:
# without the background ones, Chromium tries to reach Google's services at start.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
WAIT_SECONDS = 15

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver "
        "(apt-get install chromium chromium-driver; .ci/run installs them)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    pytest.importorskip("selenium")
    # Selenium Manager would look for (and download) a driver: naming the system's skips it,
    # and SE_OFFLINE keeps it off the network should it ever run.
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rs-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(1200, 1000)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def log(api_client: Any, sms_outbox: list[Any]) -> BuiltLog:
    return log_built(api_client, sms_outbox)


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``screenshot(driver, name)``: the whole page as a PNG, kept where RS_SCREENSHOTS_DIR says."""
    folder = Path(os.environ.get("RS_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(driver: Any, name: str) -> Path:
        width = driver.get_window_size()["width"]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 600), 3000))
        path = folder / f"{name}.png"
        path.write_bytes(driver.get_screenshot_as_png())
        assert path.stat().st_size > 5000
        return path

    return take


def wait_for(driver: Any, condition: Callable[[Any], Any]) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def settled_badge(driver: Any, container: str = "#verification") -> Any:
    """The badge once the script has decided: valid, partial or invalid."""
    from selenium.webdriver.common.by import By

    def decided(d: Any) -> Any:
        badge = d.find_element(By.CSS_SELECTOR, f"{container} #badge")
        return (
            badge if badge.get_attribute("data-state") in {"valid", "partial", "invalid"} else None
        )

    return wait_for(driver, decided)


def requests_made(driver: Any) -> list[str]:
    """The URLs the page asked for, from Chromium's network log (which this empties), less
    those the Content-Security-Policy blocked before they were sent."""
    urls: dict[str, str] = {}
    blocked: set[str] = set()
    for item in driver.get_log("performance"):
        message = json.loads(item["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for request, url in urls.items() if request not in blocked]


def open_page(driver: Any, url: str) -> None:
    """Load ``url`` with the browser's console and network logs emptied first."""
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)


def assert_only_this_server(driver: Any, live_server: Any) -> None:
    """Everything the page loaded came from the live server (Chromium's own pages aside)."""
    urls = requests_made(driver)
    assert any(u.startswith(live_server.url) for u in urls), urls
    elsewhere = [u for u in urls if not u.startswith((live_server.url, "data:", "blob:"))]
    assert not [u for u in elsewhere if not u.startswith("chrome://")], elsewhere


def assert_no_console_errors(driver: Any, *, blocked: str = "") -> None:
    """No error in the console: a CSP violation would be one. ``blocked``: a URL the page is
    known to try and the policy stops (so it never leaves the machine)."""
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and "favicon.ico" not in entry["message"]
        and not (blocked and f"'{blocked}' violates" in entry["message"])
    ]
    assert errors == [], errors


def test_an_entry_is_verified_in_the_browser(
    browser: Any, live_server: Any, log: BuiltLog, screenshot: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 1000)
    open_page(browser, f"{live_server.url}/explorer/entries/{log.handler_index}")
    badge = settled_badge(browser)

    assert badge.get_attribute("data-state") == "valid", badge.text
    assert badge.text.startswith("Verified in your browser")
    assert "badge-valid" in badge.get_attribute("class")
    assert f"checkpoint of size {log.size}" in badge.text
    checks = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#checks li")]
    assert len(checks) == 3 and all(text.startswith("✓") for text in checks), checks
    assert "Ed25519 signature is valid" in checks[-1]
    # The proof the page now lists is the one the browser fetched and checked.
    shown = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#proof code")]
    api = browser.execute_script(
        "return fetch(arguments[0]).then(r => r.json())",
        f"/v1/log/proofs/inclusion?index={log.handler_index}&size={log.size}",
    )
    assert shown == api["proof"]
    assert_no_console_errors(browser)
    assert_only_this_server(browser, live_server)
    screenshot(browser, "entry-verified")


def test_a_tampered_proof_turns_the_badge_red(
    browser: Any, live_server: Any, log: BuiltLog, settings: Any, screenshot: Any
) -> None:
    from selenium.webdriver.common.by import By

    settings.ROOT_URLCONF = "tests.web.tampered_urls"
    browser.set_window_size(1200, 1000)
    open_page(browser, f"{live_server.url}/explorer/entries/{log.certificate_index}")
    badge = settled_badge(browser)

    assert badge.get_attribute("data-state") == "invalid", badge.text
    assert "badge-invalid" in badge.get_attribute("class")
    assert "FAILED" in badge.text and "does not lead to the checkpoint's root" in badge.text
    failed = browser.find_elements(By.CSS_SELECTOR, "#checks li.failed")
    assert len(failed) == 1
    screenshot(browser, "entry-tampered")


def test_a_wrong_verifier_key_turns_the_badge_red(
    browser: Any, live_server: Any, log: BuiltLog
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, f"{live_server.url}/explorer/entries/{log.handler_index}")
    assert settled_badge(browser).get_attribute("data-state") == "valid"
    other = generate_signer(django_settings.RS_LOG_ORIGIN)
    field = browser.find_element(By.ID, "verifier-key")
    field.clear()
    field.send_keys(verifier_key(other.name, other.public_key))
    browser.find_element(By.CSS_SELECTOR, "#verifier-form button").click()
    wait_for(browser, lambda d: "no signature by this key" in d.find_element(By.ID, "badge").text)
    assert browser.find_element(By.ID, "badge").get_attribute("data-state") == "invalid"


def test_the_explorer_checks_the_checkpoint_and_finds_a_numbers_entries(
    browser: Any, live_server: Any, log: BuiltLog, issued_key: Any, screenshot: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 1000)
    open_page(browser, f"{live_server.url}/explorer/")
    badge = settled_badge(browser, "#checkpoint")
    assert badge.get_attribute("data-state") == "valid", badge.text
    assert badge.text.startswith("Signature verified in your browser")

    browser.find_element(By.ID, "label-api-key").send_keys(issued_key.secret)
    browser.find_element(By.ID, "label-number").send_keys(NUMBER)
    browser.find_element(By.ID, "label-submit").click()
    status = wait_for(
        browser,
        lambda d: (s := d.find_element(By.ID, "label-status")).text.startswith("Read all") and s,
    )
    assert status.text.endswith("2 entries under this number's label.")
    rows = browser.find_elements(By.CSS_SELECTOR, "#label-entries tbody tr")
    found = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    # Version-2 entries name no provider: it is inside the commitment, which the row shows.
    assert [row[:3] for row in found] == [
        [str(log.certificate_index), "certificate", ""],
        [str(log.handler_index), "handler", ""],
    ]
    assert all(row[3].startswith("commitment ") for row in found), found
    # The key was sent only with the label request, and kept nowhere.
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert issued_key.secret not in browser.execute_script("return document.cookie")
    assert_no_console_errors(browser)
    assert_only_this_server(browser, live_server)
    browser.find_element(By.ID, "label-api-key").clear()
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "explorer")


def test_the_label_box_says_when_the_key_is_refused(
    browser: Any, live_server: Any, log: BuiltLog
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, f"{live_server.url}/explorer/")
    browser.find_element(By.ID, "label-api-key").send_keys("rs_not-a-key")
    browser.find_element(By.ID, "label-number").send_keys(NUMBER)
    browser.find_element(By.ID, "label-submit").click()
    status = wait_for(
        browser,
        lambda d: (s := d.find_element(By.ID, "label-status")).text.startswith("Could not") and s,
    )
    assert "401" in status.text
    assert not browser.find_element(By.ID, "label-entries").is_displayed()


def test_the_operator_dashboard(
    browser: Any, live_server: Any, log: BuiltLog, api_client: Any, screenshot: Any
) -> None:
    from selenium.webdriver.common.by import By

    for _ in range(5):
        lookup(api_client)
    lookup_counts_flush()
    operator = User.objects.create_user("operator", password="pw", is_staff=True)
    client = Client()
    client.force_login(operator)
    open_page(browser, f"{live_server.url}/admin/login/")
    browser.add_cookie(
        {
            "name": django_settings.SESSION_COOKIE_NAME,
            "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    browser.set_window_size(1200, 1000)
    open_page(browser, f"{live_server.url}/admin/dashboard/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Operator dashboard"
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.plot[role=img]")
    assert len(charts) == 4
    assert all(chart.size["width"] > 300 for chart in charts)
    assert_no_console_errors(browser)
    assert_only_this_server(browser, live_server)
    screenshot(browser, "dashboard")


@pytest.mark.parametrize("path", ["/", "/explorer/", "/explorer/entries/", "entry"])
def test_pages_fit_a_phone_screen(
    browser: Any, live_server: Any, log: BuiltLog, path: str, screenshot: Any
) -> None:
    browser.set_window_size(390, 844)
    url = f"/explorer/entries/{log.handler_index}" if path == "entry" else path
    open_page(browser, live_server.url + url)
    if path == "entry":
        assert settled_badge(browser).get_attribute("data-state") == "valid"
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a phone"
    if path == "/explorer/":
        screenshot(browser, "explorer-phone")
    browser.set_window_size(1200, 1000)


# --- logcheck.js against the pure Python modules ----------------------------------------------


def run_module(browser: Any, live_server: Any, body: str, *args: Any) -> Any:
    """Run ``body`` (async, given ``check`` = logcheck.js and ``args``) in a page of ours."""
    open_page(browser, f"{live_server.url}/explorer/entries/")
    script = (
        "const done = arguments[arguments.length - 1];"
        "const args = Array.from(arguments).slice(0, -1);"
        "import('/static/web/logcheck.js')"
        f".then(async (check) => {{ {body} }})"
        ".then(done, (error) => done({error: String(error)}));"
    )
    browser.set_script_timeout(WAIT_SECONDS * 4)
    return browser.execute_async_script(script, *args)


def test_inclusion_proofs_pass_the_merkle_test_vectors_in_the_browser(
    browser: Any, live_server: Any, db: Any
) -> None:
    vectors = [json.loads(path.read_text()) for path in sorted(VECTORS.rglob("*.json"))]
    assert len(vectors) > 50
    results = run_module(
        browser,
        live_server,
        """
        const out = [];
        for (const v of args[0]) {
          try {
            const root = await check.rootFromInclusionProof(
              check.base64Decode(v.leafHash), BigInt(v.leafIdx), BigInt(v.treeSize),
              (v.proof || []).map((p) => check.base64Decode(p)));
            out.push(check.equalBytes(root, check.base64Decode(v.root)));
          } catch (error) {
            out.push(false);
          }
        }
        return out;
        """,
        vectors,
    )
    assert isinstance(results, list), results
    assert results == [not v["wantErr"] for v in vectors]


def test_inclusion_proofs_match_python_for_every_leaf_of_small_trees(
    browser: Any, live_server: Any, db: Any
) -> None:
    cases = []
    for size in range(1, 34):
        leaves = [merkle.leaf_hash(bytes([i])) for i in range(size)]

        def read(ids: Any, leaves: list[bytes] = leaves) -> list[bytes]:
            return [
                merkle.root_from_leaf_hashes(leaves[i << level : (i + 1) << level])
                for level, i in ids
            ]

        root = merkle.root_from_leaf_hashes(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, read)
            cases.append(
                {
                    "leaf": base64.b64encode(leaves[index]).decode(),
                    "index": index,
                    "size": size,
                    "proof": [base64.b64encode(p).decode() for p in proof],
                    "root": base64.b64encode(root).decode(),
                }
            )
    results = run_module(
        browser,
        live_server,
        """
        const out = [];
        for (const c of args[0]) {
          const root = await check.rootFromInclusionProof(check.base64Decode(c.leaf),
            BigInt(c.index), BigInt(c.size), c.proof.map((p) => check.base64Decode(p)));
          out.push(check.base64Encode(root) === c.root);
        }
        return out;
        """,
        cases,
    )
    assert results == [True] * len(cases)


def test_signed_notes_are_checked_as_resolution_note_signs_them(
    browser: Any, live_server: Any, db: Any
) -> None:
    signer = generate_signer("example.net/log")
    root = base64.b64encode(bytes(range(32))).decode()
    note = sign_note(f"example.net/log\n42\n{root}\n", signer).decode()
    key = verifier_key(signer.name, signer.public_key)
    other = generate_signer("example.net/log")
    results = run_module(
        browser,
        live_server,
        """
        const [note, key, otherKey] = args;
        const outcome = async (text, vkey) => {
          try {
            const r = await check.checkCheckpoint(text, vkey);
            return `${r.signature} ${r.checkpoint.size}`;
          } catch (error) {
            return `error: ${error.message}`;
          }
        };
        return [
          await outcome(note, key),
          await outcome(note.replace("\\n42\\n", "\\n43\\n"), key),
          await outcome(note, otherKey),
          await outcome(note, key.replace("example.net/log", "other.example/log")),
        ];
        """,
        note,
        key,
        verifier_key(other.name, other.public_key),
    )
    assert results[0] == "valid 42"
    assert results[1] == "error: The checkpoint's signature is not valid for this key."
    assert results[2] == "error: The checkpoint carries no signature by this key."
    assert results[3] == "error: The verifier key's ID does not match its name and key."


def test_cosignatures_are_counted_as_resolution_witnessed_counts_them(
    browser: Any, live_server: Any, db: Any
) -> None:
    from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
    from resolution.protocol.cosignature import add_cosignatures, generate_cosigner
    from resolution.protocol.policy import parse_policy
    from resolution.protocol.witnessed import QuorumError, open_witnessed_checkpoint

    log = generate_signer("example.net/log")
    witnesses = {name: generate_cosigner(f"{name}.witness.example") for name in "abc"}
    note = sign_checkpoint(Checkpoint(log.name, 42, bytes(range(32))), log)
    text = note.decode().split("\n\n")[0] + "\n"
    other = sign_checkpoint(Checkpoint(log.name, 43, bytes(32)), log).decode().split("\n\n")[0]
    notes = {
        "two": add_cosignatures(note, [witnesses[n].cosign(text, 1_700_000).line for n in "ac"]),
        "forged": add_cosignatures(
            note, [witnesses["a"].cosign(text).line, witnesses["b"].cosign(other + "\n").line]
        ),
        "none": note,
    }
    policy = "\n".join(
        [f"log {verifier_key(log.name, log.public_key)}"]
        + [f"witness {name} {w.verifier.vkey}" for name, w in witnesses.items()]
        + ["group two-of-three 2 a b c", "quorum two-of-three", ""]
    )
    results = run_module(
        browser,
        live_server,
        """
        const [notes, policy] = args;
        const out = {};
        for (const [name, note] of Object.entries(notes)) {
          const r = await check.checkCosignatures(note, policy);
          out[name] = [r.met, r.witnesses.map((w) => `${w.name} ${w.status}`).join(", ")];
        }
        return out;
        """,
        {name: value.decode() for name, value in notes.items()},
        policy,
    )
    assert results == {
        "two": [True, "a valid, b missing, c valid"],
        "forged": [False, "a valid, b invalid, c missing"],
        "none": [False, "a missing, b missing, c missing"],
    }
    # The same verdicts as the Python client's.
    parsed = parse_policy(policy)
    assert open_witnessed_checkpoint(notes["two"], log.verifier, parsed).witnessing.witnessed
    for name in ("forged", "none"):
        with pytest.raises(QuorumError):
            open_witnessed_checkpoint(notes[name], log.verifier, parsed)


@pytest.mark.parametrize(
    ("url", "rendered", "blocked"),
    [
        ("/api/docs/", "#swagger-ui .information-container", ""),
        # ReDoc's sidebar shows Redocly's logo from their CDN: the policy blocks it (and ReDoc
        # then hides the image), so it is never fetched.
        ("/api/redoc/", ".api-content", "https://cdn.redoc.ly/redoc/logo-mini.svg"),
    ],
)
def test_api_docs_work_under_their_policy(
    browser: Any, live_server: Any, db: Any, url: str, rendered: str, blocked: str
) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1200, 1000)
    open_page(browser, live_server.url + url)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, rendered))
    assert "Resolution Service API" in browser.find_element(By.TAG_NAME, "body").text
    assert_no_console_errors(browser, blocked=blocked)
    assert_only_this_server(browser, live_server)


def test_admin_pages_work_under_the_policy(browser: Any, live_server: Any, log: BuiltLog) -> None:
    from selenium.webdriver.common.by import By

    root = User.objects.create_superuser("root", "root@example.net", "pw")
    client = Client()
    client.force_login(root)
    open_page(browser, f"{live_server.url}/admin/login/")
    browser.add_cookie(
        {
            "name": django_settings.SESSION_COOKIE_NAME,
            "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    open_page(browser, f"{live_server.url}/admin/ca/certificate/")
    # The admin's own scripts run: its action bar counts the selection.
    browser.find_element(By.CSS_SELECTOR, "#action-toggle").click()
    wait_for(
        browser,
        lambda d: "2 of 2 selected" in d.find_element(By.CSS_SELECTOR, ".action-counter").text,
    )
    assert_no_console_errors(browser)
    assert_only_this_server(browser, live_server)
