"""The landing page and the log explorer: what they show, from a log built as apps build it."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import pytest
from django.db import transaction

from core.middleware import CONTENT_SECURITY_POLICY
from resolution.protocol.checkpoint import open_checkpoint
from resolution.protocol.merkle import leaf_hash, verify_inclusion
from resolution.protocol.note import parse_verifier_key
from tests.api_client import committed
from tests.ca.flow import NUMBER
from tests.transparency.logdata import append_entries, log_integrated, sequenced
from tests.web.logbuild import BuiltLog, log_built_through_services
from transparency.keys import log_keys
from transparency.models import Checkpoint, Entry
from transparency.services import log_append

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(provider: Any) -> BuiltLog:
    return log_built_through_services(provider)


def page(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    return str(response.content.decode())


def data_attribute(content: str, element_id: str, name: str) -> str:
    tag = re.search(rf'<[a-z]+[^>]*\bid="{element_id}"[^>]*>', content, re.S)
    assert tag, f"no element #{element_id}"
    value = re.search(rf'\bdata-{name}="([^"]*)"', tag.group(0))
    assert value, f"#{element_id} has no data-{name}"
    return html.unescape(value.group(1))


def test_landing_page_says_what_the_service_is_and_gives_the_keys(client: Any, log: BuiltLog):
    content = page(client, "/")
    keys = log_keys()
    assert "Resolution Service" in content and "SMS challenge" in content
    assert keys.note_verifier_key in content
    assert base64.b64encode(keys.vrf_public_key).decode() in content
    assert f"<code>{keys.signer.name}</code>" in content
    for link in ('href="/api/docs/"', 'href="/api/redoc/"', 'href="/api/schema/"'):
        assert link in content
    assert 'href="/explorer/"' in content
    assert f"<strong>{log.size}</strong> entries" in content
    assert "rs log audit http://testserver/log/" in content


def test_landing_page_before_anything_is_logged(client: Any, db: Any) -> None:
    assert "no checkpoint yet" in page(client, "/")


def test_explorer_shows_the_latest_checkpoint_with_its_signature(client: Any, log: BuiltLog):
    content = page(client, "/explorer/")
    checkpoint = Checkpoint.objects.get(size=log.size)
    root = base64.b64encode(bytes(checkpoint.root_hash)).decode()
    assert f'<dd id="checkpoint-size">{log.size}</dd>' in content
    assert root in content
    assert checkpoint.created_at.strftime("%Y-%m-%d %H:%M:%S") in content
    verifier = parse_verifier_key(log_keys().note_verifier_key)
    assert f"key ID <code>{verifier.key_id.hex()}</code>" in content
    signature_line = checkpoint.note.rstrip("\n").rsplit("\n", 1)[1]
    assert signature_line.rsplit(" ", 1)[1][8:] in content  # the signature, after the key ID
    # What the script checks is exactly the note served at /log/checkpoint.
    note = base64.b64decode(data_attribute(content, "checkpoint", "note"))
    assert note == client.get("/log/checkpoint").content
    open_checkpoint(note, verifier, log_keys().signer.name)
    assert f'value="{log_keys().note_verifier_key}"' in content
    assert '<script type="module" src="/static/web/explorer.js"></script>' in content


def test_explorer_charts_are_accessible_pictures_with_their_figures(client: Any, log: BuiltLog):
    content = page(client, "/explorer/?period=24h")
    for slug in ("log-growth", "log-kinds"):
        assert f'aria-labelledby="{slug}-title {slug}-desc"' in content
        assert f'<title id="{slug}-title">' in content
    assert content.count('role="img"') >= 2
    assert content.count("<polyline") == 1  # growth
    assert 'class="bar series-' in content  # entries per kind, stacked
    # The table beside the picture holds the figures: every kind, and the size reached.
    assert "certificate" in content and "revocation" in content and "handler" in content
    assert f'<td class="num">{log.size}</td>' in content
    assert "The figures as a table" in content


@pytest.mark.parametrize(("period", "shown"), [("24h", "24h"), ("7d", "7d"), ("bogus", "30d")])
def test_explorer_periods(client: Any, log: BuiltLog, period: str, shown: str) -> None:
    content = page(client, f"/explorer/?period={period}")
    assert f'<strong aria-current="true">{shown}</strong>' in content


def test_explorer_lists_the_newest_entries(client: Any, log: BuiltLog) -> None:
    content = page(client, "/explorer/")
    assert f'href="/explorer/entries/{log.revocation_index}"' in content
    assert "reason keyCompromise" in content  # the revocation's summary


def test_explorer_without_a_log(client: Any, db: Any) -> None:
    content = page(client, "/explorer/")
    assert "no checkpoint yet" in content
    assert "Nothing in this period." in content


def test_entries_are_paged_newest_first(client: Any, db: Any, settings: Any) -> None:
    append_entries(120)
    log_integrated()
    first = page(client, "/explorer/entries/")
    indices = [int(i) for i in re.findall(r'href="/explorer/entries/(\d+)"', first)]
    assert indices == list(range(119, 69, -1))
    assert 'href="?before=70"' in first and "Newer" not in first
    middle = page(client, "/explorer/entries/?before=70")
    assert re.findall(r'href="/explorer/entries/(\d+)"', middle)[0] == "69"
    assert 'href="?before=20"' in middle and 'href="?before=120"' in middle
    last = page(client, "/explorer/entries/?before=20")
    assert [int(i) for i in re.findall(r'href="/explorer/entries/(\d+)"', last)] == list(
        range(19, -1, -1)
    )
    assert "Older" not in last
    # Entries not in a checkpoint yet are not listed; nonsense paging is the first page.
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    append_entries(1, start=120)
    assert "/explorer/entries/120" not in page(client, "/explorer/entries/?before=9999")
    assert 'href="/explorer/entries/119"' in page(client, "/explorer/entries/?before=-3")


def test_jump_to_an_entry(client: Any, log: BuiltLog) -> None:
    response = client.get("/explorer/entries/?index=2")
    assert response.status_code == 302 and response["Location"] == "/explorer/entries/2"


def test_entry_page_shows_the_entry_and_a_proof_that_verifies(client: Any, log: BuiltLog):
    content = page(client, f"/explorer/entries/{log.handler_index}")
    entry = Entry.objects.get(index=log.handler_index)
    data = bytes(entry.data)
    fields = json.loads(data)
    assert "<h1>Entry" in content and "handler" in content
    assert fields["v"] == 2
    for name in ("label", "commitment"):
        assert f"<code>{name}</code>" in content
        assert html.escape(str(fields[name])) in content
    for name in ("provider", "service", "uri"):  # committed to, not shown
        assert f"<code>{name}</code>" not in content
    assert NUMBER not in content  # the log never names a number
    # The entry's bytes for the script, and the proof as the API gives it.
    assert base64.b64decode(data_attribute(content, "verification", "entry")) == data
    assert data_attribute(content, "verification", "proof-url") == "/v1/log/proofs/inclusion"
    assert data_attribute(content, "verification", "checkpoint-url") == "/log/checkpoint"
    assert data_attribute(content, "verification", "index") == str(log.handler_index)
    proof = re.findall(r'<li><code class="hash">([^<]+)</code></li>', content)
    api = client.get(f"/v1/log/proofs/inclusion?index={log.handler_index}").json()
    assert proof == api["proof"] and len(proof) > 1
    checkpoint = Checkpoint.objects.get(size=log.size)
    verify_inclusion(
        leaf_hash(data),
        log.handler_index,
        log.size,
        [base64.b64decode(h) for h in proof],
        bytes(checkpoint.root_hash),
    )
    assert base64.b64encode(leaf_hash(data)).decode() in content
    assert '<script type="module" src="/static/web/entry.js"></script>' in content
    assert 'role="status"' in content  # the badge is announced when it changes


def test_entry_not_in_a_checkpoint_yet(client: Any, log: BuiltLog, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    # Sequenced, not integrated: an entry appended before the sequencer existed (migration
    # transparency 0007 keeps their indices), or beyond a checkpoint the witnesses lag behind.
    data = b'{"kind":"test","n":99,"v":1}'
    Entry.objects.create(index=log.size, kind="test", data=data, leaf_hash=leaf_hash(data))
    content = page(client, f"/explorer/entries/{log.size}")
    assert "not in the latest checkpoint yet" in content
    assert '<li><code class="hash">' not in content


def test_unknown_entry_is_a_404_page(client: Any, log: BuiltLog) -> None:
    content = page(client, f"/explorer/entries/{log.size + 5}", status=404)
    assert f"The log has no entry {log.size + 5}." in content
    page(client, f"/explorer/entries/{2**64}", status=404)  # beyond bigint, still a 404
    assert client.get(f"/explorer/entries/?index={2**63}").status_code == 302


def test_label_box_asks_the_api_it_names_and_the_answers_have_the_shape_it_reads(
    client: Any, api_client: Any, log: BuiltLog
) -> None:
    content = page(client, "/explorer/")
    assert 'id="label-api-key" type="password"' in content
    # No input of the box has a name: without the script, submitting sends nothing anywhere.
    form = re.search(r'<form id="label-form".*?</form>', content, re.S)
    assert form and " name=" not in form.group(0)
    label_url = data_attribute(content, "label-box", "label-url")
    entries_url = data_attribute(content, "label-box", "entries-url")
    assert data_attribute(content, "label-box", "size") == str(log.size)
    assert data_attribute(content, "label-box", "entry-url") == "/explorer/entries/"

    assert client.get(label_url.replace("NUMBER", "%2B33612345678")).status_code == 401
    answer = api_client.get(label_url.replace("NUMBER", "%2B33612345678")).json()
    assert set(answer) >= {"label", "vrf_proof"}
    page_of_entries = client.get(f"{entries_url}?start=0&end={log.size}").json()
    needle = f'"label":"{answer["label"]}"'
    found = [
        (e["index"], e["kind"])
        for e in page_of_entries["entries"]
        if needle in base64.b64decode(e["entry"]).decode()
    ]
    assert found == [(log.certificate_index, "certificate"), (log.handler_index, "handler")]


def test_pages_answer_get_only(client: Any, db: Any) -> None:
    assert client.post("/explorer/").status_code == 405


def test_version_2_entries_show_index_kind_label_commitment_and_reason(client: Any, log: BuiltLog):
    shown = {
        log.certificate_index: ("certificate", {"v", "kind", "label", "commitment"}),
        log.handler_index: ("handler", {"v", "kind", "label", "commitment"}),
        log.revocation_index: ("revocation", {"v", "kind", "label", "commitment", "reason"}),
    }
    for index, (kind, names) in shown.items():
        content = page(client, f"/explorer/entries/{index}")
        fields = json.loads(bytes(Entry.objects.get(index=index).data))
        assert set(fields) == names and fields["kind"] == kind
        assert f"<dt>Index</dt><dd>{index}</dd>" in content
        assert f"<dt>Kind</dt><dd>{kind}</dd>" in content
        for name in names:
            assert f"<code>{name}</code>" in content
            assert html.escape(str(fields[name])) in content
        for name in ("provider", "serial", "service", "number", "not_after", "revoked_at"):
            assert f"<code>{name}</code>" not in content
        assert NUMBER not in content and log.holder.serial not in content
    listed = page(client, "/explorer/entries/")
    revocation = json.loads(bytes(Entry.objects.get(index=log.revocation_index).data))
    assert f"reason keyCompromise, label {revocation['label'][:12]}…, commitment " in listed
    assert "provider " not in listed and "serial " not in listed


def test_version_1_entries_keep_showing_what_they_showed(client: Any, log: BuiltLog):
    v1 = {
        "label": "ab" * 64,
        "serial": "0a1b",
        "revoked_at": "2026-02-01T00:00:00Z",
        "reason": "keyCompromise",
        "provider": "acme-chat",
    }
    with committed(), transaction.atomic():
        appended = log_append(kind="revocation", payload=v1, version=1)
    content = page(client, f"/explorer/entries/{sequenced(appended)}")
    for name, value in v1.items():
        assert f"<code>{name}</code>" in content and value in content
    listed = page(client, "/explorer/entries/")
    assert "provider acme-chat, serial 0a1b, reason keyCompromise, label abababababab…" in listed
