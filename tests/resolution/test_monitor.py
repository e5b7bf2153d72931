"""The log monitor (``resolution.client.monitor``), over a log served by
``tests.resolution.logserver``."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from resolution.client import (
    Client,
    HistoryEntry,
    NumberHistory,
)
from resolution.client.monitor import (
    MonitorError,
    MonitorState,
    entry_change,
    monitor_log,
)
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import open_checkpoint
from resolution.protocol.entries import commitment
from resolution.protocol.note import parse_verifier_key
from tests.resolution.logserver import LogServer, TiledLog, sample_records

LABEL = hashlib.sha512(b"+33612345678").digest()
OTHER_LABEL = hashlib.sha512(b"+33698765432").digest()
OWN = hashlib.sha256(b"own key").digest()
FOREIGN = hashlib.sha256(b"hijacker's key").digest()


def certificate_record(
    serial: str, key: bytes, label: bytes = LABEL, **extra: Any
) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "certificate",
        "label": label.hex(),
        "serial": serial,
        "certificate_sha256": hashlib.sha256(serial.encode()).hexdigest(),
        "public_key_sha256": key.hex(),
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": extra.pop("not_after", "2099-01-01T00:00:00Z"),
        "provider": extra.pop("provider", "acme-chat"),
    } | extra


def revocation_record(serial: str) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "revocation",
        "label": LABEL.hex(),
        "serial": serial,
        "reason": "keyCompromise",
        "revoked_at": "2026-01-02T00:00:00Z",
        "provider": "acme-chat",
    }


def handler_record(service: str, kind: str = "handler") -> dict[str, Any]:
    record = {"v": 1, "kind": kind, "label": LABEL.hex(), "provider": "acme-chat"}
    content = {"commitment": "00" * 32} if kind == "handler" else {"reason": "removed"}
    return record | {"service": service} | content


@pytest.fixture
def tiled() -> TiledLog:
    return TiledLog()


@pytest.fixture
def served(tiled: TiledLog) -> Iterator[LogServer]:
    with LogServer(tiled) as server:
        yield server


def run(server: LogServer, previous: MonitorState | None = None, **kwargs: Any):
    log = server.log
    verifier = parse_verifier_key(log.vkey)
    checkpoint = open_checkpoint(log.note, verifier, verifier.name)
    with Client(server.url.removesuffix("/log/")) as client:
        return monitor_log(
            checkpoint=checkpoint,
            note=log.note,
            label=LABEL,
            own_keys={OWN},
            fetch=client.log_entry_bundle,
            previous=previous,
            **kwargs,
        )


def test_monitor_reports_changes_and_flags_foreign_keys_until_revoked(tiled, served):
    tiled.append(sample_records(300))
    tiled.append(
        [
            certificate_record("aa01", OWN),
            handler_record("messaging"),
            certificate_record("bb02", OWN, label=OTHER_LABEL),  # another number
            certificate_record("ff03", FOREIGN, provider="hijack-chat"),
        ]
    )
    tiled.append(sample_records(10, start=300))
    first = run(served, workers=3)
    assert (first.previous_size, first.size) == (0, 314)
    assert [(c.index, c.kind, c.serial, c.foreign) for c in first.changes] == [
        (300, "certificate", "aa01", False),
        (301, "handler", None, False),
        (303, "certificate", "ff03", True),
    ]
    assert first.flagged and [f.serial for f in first.outstanding] == ["ff03"]
    assert "FOREIGN KEY" in first.changes[2].describe()
    state = MonitorState.from_json(first.state.to_json())
    assert state == first.state

    # The next run reads only the new entries, and the alarm stays up.
    tiled.append(sample_records(400, start=310))
    served.requests.clear()
    second = run(served, state)
    assert (second.previous_size, second.size, second.changes) == (314, 714, ())
    assert second.flagged and [f.serial for f in second.outstanding] == ["ff03"]
    assert "tile/entries/000.p/" not in " ".join(served.requested("tile/entries/"))
    assert served.requested("tile/entries/001")  # the bundle holding entry 314

    # A revocation of the foreign certificate resolves it.
    tiled.append([revocation_record("ff03"), handler_record("messaging", "handler_removed")])
    third = run(served, second.state)
    assert [c.kind for c in third.changes] == ["revocation", "handler_removed"]
    assert not third.flagged and third.outstanding == ()


def test_monitor_drops_expired_and_accepted_foreign_certificates(tiled, served):
    tiled.append(
        [
            certificate_record("f1", FOREIGN, not_after="2026-02-01T00:00:00Z"),
            certificate_record("f2", FOREIGN),
        ]
    )
    report = run(served, now=datetime(2026, 3, 1, tzinfo=UTC))
    assert [f.serial for f in report.outstanding] == ["f2"]
    assert report.flagged  # f1 was seen in this run, even though it has expired since
    accepted = run(served, report.state, accept=["f2"])
    assert not accepted.flagged and accepted.state.accepted == {"f2"}


@pytest.mark.parametrize("tamper", ["fork", "other-entries", "shrink"])
def test_monitor_refuses_a_log_that_changed_its_history(tiled, served, tamper):
    tiled.append([*sample_records(40), certificate_record("ff03", FOREIGN)])
    state = run(served).state
    if tamper == "fork":  # same key, entries 0-9 kept, the hijacker's certificate gone
        served.log = tiled.fork(10, sample_records(60, tag="x"))
        message = "do not hash to the root"
    elif tamper == "other-entries":  # tiles and checkpoint honest, the bundle it serves is not
        tiled.append(sample_records(5, start=41))
        bundle = tiled.file("tile/entries/000.p/46")
        assert bundle is not None
        served.overrides["tile/entries/000.p/46"] = bundle.replace(b'"seq":43', b'"seq":99')
        message = "do not hash to the root"
    else:
        served.log = tiled.fork(20, [])
        message = "shrank from 41"
    with pytest.raises(MonitorError, match=message):
        run(served, state)


def test_monitor_rejects_a_malformed_entry_under_the_label():
    assert entry_change(0, canonical_json(certificate_record("a", OWN)), OTHER_LABEL, {OWN}) is None
    spaced = json.dumps(certificate_record("a", OWN)).encode()  # not canonical
    with pytest.raises(MonitorError, match="not canonical"):
        entry_change(7, spaced, LABEL, {OWN})
    # A label hidden by \u escapes is not canonical either: the entry is not skipped.
    escaped = canonical_json(certificate_record("a", OWN)).replace(
        b'"label":"', b'"label":"\\u0030', 1
    )
    with pytest.raises(MonitorError):
        entry_change(8, escaped, LABEL, {OWN})
    newer = canonical_json(certificate_record("a", OWN) | {"v": 3})
    with pytest.raises(MonitorError, match="version 3"):
        entry_change(9, newer, LABEL, {OWN})
    # A version-2 entry shows only its label and commitment (and a removal's reason).
    clear = canonical_json(certificate_record("a", OWN) | {"v": 2})
    with pytest.raises(MonitorError, match="malformed: entry has the keys"):
        entry_change(12, clear, LABEL, {OWN})
    # A known kind out of its shape (resolution.protocol.entries) is not read as one.
    keyless = canonical_json(certificate_record("a", OWN, public_key_sha256="not hex"))
    with pytest.raises(MonitorError, match="malformed: entry's public_key_sha256 is not"):
        entry_change(10, keyless, LABEL, {OWN})
    extra = canonical_json(handler_record("messaging") | {"uri": "sip:x@y.example"})
    with pytest.raises(MonitorError, match="malformed: entry has the keys"):
        entry_change(11, extra, LABEL, {OWN})


def test_monitor_state_that_does_not_add_up_is_refused(tiled, served):
    tiled.append(sample_records(5))
    document = json.loads(run(served).state.to_json())
    document["compact"][0] = base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(MonitorError, match="damaged"):
        MonitorState.from_json(json.dumps(document).encode())
    with pytest.raises(MonitorError, match="damaged"):
        MonitorState.from_json(b"not json")


# --- Version-2 entries, read from the holder's history ------------------------------------------

NUMBER = "+33612345678"
OPENING = bytes(range(32))


def certificate_content(serial: str, key: bytes, provider: str = "acme-chat") -> dict[str, Any]:
    return {
        "number": NUMBER,
        "provider": provider,
        "serial": serial,
        "certificate_sha256": hashlib.sha256(serial.encode()).hexdigest(),
        "public_key_sha256": key.hex(),
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2099-01-01T00:00:00Z",
    }


def handler_content(certificate: str, provider: str = "acme-chat") -> dict[str, Any]:
    return {
        "number": NUMBER,
        "provider": provider,
        "service": "messaging",
        "uri": "sip:alice@chat.example",
        "priority": 0,
        "expires_at": "2099-01-01T00:00:00Z",
        "certificate": certificate,
    }


def revocation_content(serial: str) -> dict[str, Any]:
    return {
        "number": NUMBER,
        "provider": "hijack-chat",
        "serial": serial,
        "revoked_at": "2026-01-02T00:00:00Z",
    }


def private_record(kind: str, content: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    record = {
        "v": 2,
        "kind": kind,
        "label": LABEL.hex(),
        "commitment": commitment(OPENING, content).hex(),
    }
    return record | ({"reason": reason} if reason is not None else {})


class Recorded:
    """A log of version-2 entries for the number, and the history the service would give."""

    def __init__(self, tiled: TiledLog) -> None:
        self.tiled = tiled
        self.rows: list[HistoryEntry] = []

    def append(self, kind: str, content: dict[str, Any], reason: str | None = None) -> int:
        record = private_record(kind, content, reason)
        index = self.tiled.size
        self.tiled.append([record])
        self.rows.append(HistoryEntry(index, canonical_json(record), OPENING, content))
        return index

    def history(self) -> NumberHistory:
        return NumberHistory(number=NUMBER, label=LABEL, entries=tuple(self.rows))


def test_version_2_entries_are_read_from_their_openings(tiled, served):
    recorded = Recorded(tiled)
    tiled.append(sample_records(20))
    recorded.append("certificate", certificate_content("aa01", OWN))
    recorded.append("handler", handler_content("aa01"))
    recorded.append(
        "handler_removed",
        {"number": NUMBER, "provider": "acme-chat", "service": "messaging", "certificate": "aa01"},
        reason="removed",
    )
    honest = run(served, number=NUMBER, history=recorded.history)
    assert [(c.kind, c.serial, c.certificate, c.reason) for c in honest.changes] == [
        ("certificate", "aa01", None, None),
        ("handler", None, "aa01", None),
        ("handler_removed", None, "aa01", "removed"),
    ]
    assert not honest.flagged
    assert "your certificate" in honest.changes[1].describe()
    assert honest.state.own_serials == {"aa01"}

    # An intruder's certificate and a handler it authorised: both flagged, in a later run too.
    intruder = recorded.append("certificate", certificate_content("ff03", FOREIGN, "hijack-chat"))
    handler = recorded.append("handler", handler_content("ff03", "hijack-chat"))
    ours = recorded.append("handler", handler_content("aa01"))  # seen in an earlier run: own
    alarm = run(
        served,
        MonitorState.from_json(honest.state.to_json()),
        number=NUMBER,
        history=recorded.history(),
    )
    assert [(c.index, c.foreign, c.intruder) for c in alarm.changes] == [
        (intruder, True, False),
        (handler, False, True),
        (ours, False, False),
    ]
    assert alarm.flagged and [f.serial for f in alarm.outstanding] == ["ff03"]
    assert [(h.index, h.provider, h.certificate) for h in alarm.intruders] == [
        (handler, "hijack-chat", "ff03")
    ]
    assert "NOT YOUR CERTIFICATE" in alarm.changes[1].describe()

    # The intruder's handler stays flagged, run after run, until the log shows it removed.
    state = MonitorState.from_json(alarm.state.to_json())
    assert state == alarm.state
    recorded.append("revocation", revocation_content("ff03"), reason="keyCompromise")
    still = run(served, state, number=NUMBER, history=recorded.history)
    assert not still.outstanding and still.flagged and len(still.intruders) == 1
    removal = {
        "number": NUMBER,
        "provider": "hijack-chat",
        "service": "messaging",
        "certificate": "ff03",
    }
    recorded.append("handler_removed", removal, reason="revoked")
    resolved = run(served, still.state, number=NUMBER, history=recorded.history)
    assert not resolved.flagged and resolved.intruders == ()

    # Accepted, the certificate is the holder's: so are the handlers it authorises.
    accepted = run(served, number=NUMBER, history=recorded.history, accept=["ff03"])
    assert not accepted.flagged and accepted.intruders == ()
    assert not any(c.intruder or c.foreign for c in accepted.changes)


def test_a_state_from_before_version_2_knows_the_stored_certificate_as_the_holders(tiled, served):
    tiled.append([certificate_record("aa01", OWN)])  # version 1, seen by an earlier run
    document = json.loads(run(served).state.to_json())
    del document["own_serials"], document["intruders"]  # as such a run wrote it
    earlier = MonitorState.from_json(json.dumps(document).encode())
    assert earlier.own_serials == frozenset() and earlier.intruders == ()
    recorded = Recorded(tiled)
    recorded.append("handler", handler_content("aa01"))
    unknown = run(served, earlier, number=NUMBER, history=recorded.history)
    assert [c.intruder for c in unknown.changes] == [True]  # the log alone cannot tell
    known = run(served, earlier, number=NUMBER, history=recorded.history, own_serials=["aa01"])
    assert not known.flagged and known.state.own_serials == {"aa01"}


@pytest.mark.parametrize("damage", ["missing", "opening", "content", "number", "bytes", "none"])
def test_a_version_2_entry_without_a_good_opening_is_flagged(tiled, served, damage):
    recorded = Recorded(tiled)
    index = recorded.append("certificate", certificate_content("aa01", OWN))
    row = recorded.rows[0]
    assert row.content is not None  # a version-2 entry of this test's own log
    if damage == "missing":
        recorded.rows.clear()
    elif damage == "opening":
        recorded.rows[0] = HistoryEntry(index, row.entry, bytes(32), row.content)
    elif damage == "content":
        recorded.rows[0] = HistoryEntry(
            index, row.entry, OPENING, {**row.content, "serial": "aa02"}
        )
    elif damage == "number":
        changed = {**row.content, "number": "+33698765432"}
        recorded.rows[0] = HistoryEntry(index, row.entry, OPENING, changed)
    elif damage == "bytes":
        recorded.rows[0] = HistoryEntry(index, row.entry + b" ", OPENING, row.content)
    else:
        recorded.rows[0] = HistoryEntry(index, row.entry, None, None)
    report = run(served, number=NUMBER, history=recorded.history())
    (change,) = report.changes
    assert change.kind == "certificate" and change.unopened is not None
    assert report.flagged and "UNREADABLE" in change.describe()
    # Without any history, every version-2 entry under the label is unreadable.
    blind = run(served)
    assert blind.flagged and blind.changes[0].unopened == "the history has no opening"


def test_a_history_about_another_number_is_refused(tiled, served):
    tiled.append([certificate_record("aa01", OWN)])
    other = NumberHistory(number=NUMBER, label=OTHER_LABEL, entries=())
    with pytest.raises(MonitorError, match="another number"):
        run(served, number=NUMBER, history=other)


REQUEST_ID = "0b0e6f4e-3f4a-4c55-9d7c-1f2e3d4c5b6a"
DISPUTE_ID = "5d1c2b3a-4f5e-4d6c-8b7a-9e0f1a2b3c4d"


def request_content(key: bytes, request: str = REQUEST_ID) -> dict[str, Any]:
    return {
        "number": NUMBER,
        "provider": "hijack-chat",
        "request": request,
        "public_key_sha256": key.hex(),
        "requested_at": "2026-01-03T00:00:00Z",
        "issues_at": "2026-01-10T00:00:00Z",
    }


def test_the_number_locks_entries_are_read_with_their_meaning(tiled, served):
    recorded = Recorded(tiled)
    recorded.append("certificate", certificate_content("aa01", OWN))
    lock = {"number": NUMBER, "provider": "acme-chat", "serial": "aa01"}
    recorded.append("lock", lock | {"locked_at": "2026-01-02T00:00:00Z"})
    first = run(served, number=NUMBER, history=recorded.history)
    assert not first.flagged
    assert "number locked by acme-chat with certificate aa01: a certificate to another key" in (
        first.changes[1].describe()
    )

    # Someone asks for a certificate with another key: pending, run after run, until closed.
    requested = recorded.append("request", request_content(FOREIGN))
    held = run(served, first.state, number=NUMBER, history=recorded.history)
    assert held.flagged and [(r.request, r.index) for r in held.requests] == [
        (REQUEST_ID, requested)
    ]
    assert held.changes[0].foreign
    assert "(FOREIGN KEY), held back by the number's lock: request" in held.changes[0].describe()
    state = MonitorState.from_json(held.state.to_json())
    assert state == held.state
    again = run(served, state, number=NUMBER, history=recorded.history)
    assert again.flagged and again.changes == () and len(again.requests) == 1

    closed = {"number": NUMBER, "request": REQUEST_ID, "closed_at": "2026-01-04T00:00:00Z"}
    recorded.append("request_closed", closed, reason="refused")
    refused = run(served, state, number=NUMBER, history=recorded.history)
    assert not refused.flagged and refused.requests == ()
    assert refused.changes[0].describe() == (
        f"request {REQUEST_ID} refused by a locked holder: no certificate is issued"
    )

    # A request for a key made here (a second app of the holder's) is reported, not flagged.
    own = "1f2e3d4c-5b6a-4c55-9d7c-0b0e6f4e3f4a"
    recorded.append("request", request_content(OWN, own))
    mine = run(served, refused.state, number=NUMBER, history=recorded.history)
    assert not mine.flagged and mine.requests == () and "(own key)" in mine.changes[0].describe()

    # A foreign certificate, disputed by the holder, revoked by the operator; an unlock.
    recorded.append("certificate", certificate_content("ff03", FOREIGN, "hijack-chat"))
    recorded.append(
        "dispute",
        lock | {"disputed": "ff03", "dispute": DISPUTE_ID, "opened_at": "2026-01-05T00:00:00Z"},
    )
    recorded.append(
        "dispute_closed",
        {
            "number": NUMBER,
            "dispute": DISPUTE_ID,
            "disputed": "ff03",
            "closed_at": "2026-01-06T00:00:00Z",
        },
        reason="revoked",
    )
    recorded.append("revocation", revocation_content("ff03"), reason="affiliationChanged")
    recorded.append("unlock", lock | {"unlocked_at": "2026-01-07T00:00:00Z"})
    settled = run(served, mine.state, number=NUMBER, history=recorded.history)
    described = [c.describe() for c in settled.changes]
    assert described[1] == (
        f"certificate ff03 disputed by acme-chat with certificate aa01: dispute {DISPUTE_ID} "
        f"is on the operator's queue"
    )
    assert described[2] == (
        f"dispute {DISPUTE_ID} of certificate ff03 closed: the operator revoked the certificate"
    )
    assert described[4] == "number unlocked by acme-chat: certificate aa01's lock lifted"
    # The foreign certificate was flagged in this run; it is revoked, so nothing stays.
    assert settled.flagged and settled.outstanding == () and settled.requests == ()
    assert not any(c.intruder for c in settled.changes)


def test_a_lock_made_with_a_certificate_not_the_holders_is_flagged(tiled, served):
    recorded = Recorded(tiled)
    recorded.append("certificate", certificate_content("ff03", FOREIGN, "hijack-chat"))
    recorded.append(
        "lock",
        {
            "number": NUMBER,
            "provider": "hijack-chat",
            "serial": "ff03",
            "locked_at": "2026-01-02T00:00:00Z",
        },
    )
    report = run(served, number=NUMBER, history=recorded.history)
    assert [(c.kind, c.intruder) for c in report.changes] == [
        ("certificate", False),
        ("lock", True),
    ]
    assert "(NOT YOUR CERTIFICATE)" in report.changes[1].describe()
