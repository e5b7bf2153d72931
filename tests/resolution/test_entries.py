"""Tests for resolution.protocol.entries: the one definition of the log's entry format."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolution.protocol.canonical import CanonicalJSONError, canonical_json
from resolution.protocol.entries import (
    COMMITTED_FIELDS,
    CONTENT_FIELDS,
    ENTRY_VERSION,
    FIELDS,
    KIND_NAME,
    REASON_KINDS,
    SHAPES,
    VERSIONS,
    AdvertisementEntry,
    CertificateEntry,
    EntryError,
    EntryKind,
    EntryVersionError,
    HandlerEntry,
    HandlerRemovedEntry,
    KnownEntry,
    OpaqueEntry,
    PrivateEntry,
    PublicEntryKind,
    RevocationEntry,
    commitment,
    content_check,
    entry_encode,
    entry_from_record,
    entry_parse,
    handler_commitment,
    handler_committed,
    handler_fields,
)
from resolution.protocol.tiles import MAX_ENTRY_SIZE

LABEL = "ab" * 64
SHA = "cd" * 32


def certificate(**changes: str) -> CertificateEntry:
    fields = {
        "label": LABEL,
        "serial": "0a1b",
        "certificate_sha256": SHA,
        "public_key_sha256": SHA,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2026-04-01T00:00:00Z",
        "provider": "acme-chat",
    }
    return CertificateEntry(**(fields | changes))


def encoded(entry: KnownEntry | PrivateEntry) -> bytes:
    return entry_encode(kind=entry.kind, payload=entry.payload(), version=entry.version)


# --- The shapes ----------------------------------------------------------------------------------


def test_each_kind_has_the_fields_the_log_has_always_written() -> None:
    assert ENTRY_VERSION == 2
    assert VERSIONS == (1, 2)
    assert {kind: list(fields) for kind, fields in FIELDS.items()} == {
        "certificate": [
            "label",
            "serial",
            "certificate_sha256",
            "public_key_sha256",
            "not_before",
            "not_after",
            "provider",
        ],
        "revocation": ["label", "serial", "revoked_at", "reason", "provider"],
        "handler": ["label", "provider", "service", "commitment"],
        "handler_removed": ["label", "provider", "service", "reason"],
    }
    # The number lock's kinds and invitations exist in version 2 only.
    assert set(EntryKind) - set(FIELDS) == {
        "lock",
        "unlock",
        "request",
        "request_closed",
        "dispute",
        "dispute_closed",
        "invitation",
    }


def test_a_version_1_entry_of_a_kind_only_version_2_defines_is_opaque() -> None:
    data = canonical_json({"v": 1, "kind": "lock", "label": LABEL, "commitment": SHA})
    assert entry_parse(data) == OpaqueEntry(kind="lock", fields={"label": LABEL, "commitment": SHA})


def test_the_bytes_of_each_kind() -> None:
    assert (
        encoded(certificate())
        == (
            f'{{"certificate_sha256":"{SHA}","kind":"certificate","label":"{LABEL}",'
            f'"not_after":"2026-04-01T00:00:00Z","not_before":"2026-01-01T00:00:00Z",'
            f'"provider":"acme-chat","public_key_sha256":"{SHA}","serial":"0a1b","v":1}}'
        ).encode()
    )
    revocation = RevocationEntry(
        label=LABEL,
        serial="0a1b",
        revoked_at="2026-02-01T00:00:00Z",
        reason="keyCompromise",
        provider="acme-chat",
    )
    assert (
        encoded(revocation)
        == (
            f'{{"kind":"revocation","label":"{LABEL}","provider":"acme-chat",'
            f'"reason":"keyCompromise","revoked_at":"2026-02-01T00:00:00Z","serial":"0a1b","v":1}}'
        ).encode()
    )
    handler = HandlerEntry(label=LABEL, provider="acme-chat", service="voice", commitment=SHA)
    assert (
        encoded(handler)
        == (
            f'{{"commitment":"{SHA}","kind":"handler","label":"{LABEL}","provider":"acme-chat",'
            f'"service":"voice","v":1}}'
        ).encode()
    )
    removed = HandlerRemovedEntry(
        label=LABEL, provider="acme-chat", service="voice", reason="removed"
    )
    assert (
        encoded(removed)
        == (
            f'{{"kind":"handler_removed","label":"{LABEL}","provider":"acme-chat",'
            f'"reason":"removed","service":"voice","v":1}}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "AB" * 64}, "label is not 128 lowercase hex"),
        ({"label": "ab" * 32}, "label is not 128 lowercase hex"),
        ({"serial": "0x1"}, "serial is not 1 to 40 lowercase hex"),
        ({"serial": "1" * 41}, "serial is not 1 to 40 lowercase hex"),
        ({"public_key_sha256": SHA[:-2]}, "public_key_sha256 is not 64 lowercase hex"),
        ({"not_after": "2026-04-01"}, "not_after is not an RFC 3339 date-time"),
        ({"provider": ""}, "provider must be a non-empty string, not str"),
        ({"provider": 7}, "provider must be a non-empty string, not int"),
        ({"serial": None}, "serial must be a non-empty string, not null"),
    ],
)
def test_a_typed_entry_refuses_values_the_log_never_writes(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(EntryError, match=message):
        certificate(**changes)


def test_handler_commitment_fields() -> None:
    shown = {
        "provider": "acme-chat",
        "service": "voice",
        "uri": "sip:alice@acme.example",
        "priority": 10,
        "expires_at": "2026-04-01T00:00:00Z",
        "certificate": "0a1b",
        "log": {"index": 3},
    }
    fields = handler_fields("+33612345678", shown)
    assert set(fields) == COMMITTED_FIELDS
    assert fields == handler_committed(
        number="+33612345678",
        provider="acme-chat",
        service="voice",
        uri="sip:alice@acme.example",
        priority=10,
        expires_at="2026-04-01T00:00:00Z",
        certificate="0a1b",
    )


# --- Round trips ---------------------------------------------------------------------------------

hex_digits = "0123456789abcdef"
labels = st.text(hex_digits, min_size=128, max_size=128)
digests = st.text(hex_digits, min_size=64, max_size=64)
serials = st.text(hex_digits, min_size=1, max_size=40)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)

certificates = st.builds(
    CertificateEntry,
    label=labels,
    serial=serials,
    certificate_sha256=digests,
    public_key_sha256=digests,
    not_before=moments,
    not_after=moments,
    provider=names,
)
revocations = st.builds(
    RevocationEntry, label=labels, serial=serials, revoked_at=moments, reason=names, provider=names
)
handlers = st.builds(HandlerEntry, label=labels, provider=names, service=names, commitment=digests)
removals = st.builds(HandlerRemovedEntry, label=labels, provider=names, service=names, reason=names)
known_entries = st.one_of(certificates, revocations, handlers, removals)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | names,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=4),
    max_leaves=12,
)
kind_names = st.from_regex(KIND_NAME, fullmatch=True)
new_kinds = kind_names.filter(lambda kind: kind not in set(EntryKind))
payloads = st.dictionaries(names.filter(lambda key: key not in {"v", "kind"}), json_values)


@given(known_entries)
def test_known_entries_round_trip(entry: KnownEntry) -> None:
    assert entry_parse(encoded(entry)) == entry


@given(new_kinds, payloads)
def test_unknown_kinds_are_kept_as_opaque_entries(kind: str, payload: dict[str, Any]) -> None:
    try:
        data = entry_encode(kind=kind, payload=payload)
    except EntryError:
        return  # too large: nothing to read back
    assert entry_parse(data) == OpaqueEntry(kind=kind, fields=payload)


# --- Encoding refuses what the log has always refused --------------------------------------------


def server_encode_before(kind: str, payload: Mapping[str, Any]) -> bytes | None:
    """What the server's entry encoder did before the format had its own module: the entry,
    or None where it refused."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", kind):
        return None
    if "v" in payload or "kind" in payload:
        return None
    try:
        data = canonical_json({**payload, "v": 1, "kind": kind})
    except CanonicalJSONError:
        return None
    return None if len(data) > 0xFFFF else data


any_kinds = st.one_of(kind_names, st.text(max_size=40))
any_payloads = st.dictionaries(
    st.one_of(st.sampled_from(["v", "kind", "label", "n"]), names),
    st.one_of(json_values, st.just(float("nan")), st.just("x" * 70_000)),
    max_size=3,
)


@given(any_kinds, any_payloads)
def test_encode_refuses_exactly_what_the_server_refused(kind: str, payload: dict[str, Any]) -> None:
    want = server_encode_before(kind, payload)
    if want is None:
        with pytest.raises(EntryError):
            entry_encode(kind=kind, payload=payload, version=1)
    else:
        assert entry_encode(kind=kind, payload=payload, version=1) == want


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("Bad Kind", {}, "lowercase"),
        ("", {}, "lowercase"),
        ("a" * 33, {}, "lowercase"),
        ("test", {"v": 2}, "set by the log"),
        ("test", {"kind": "other"}, "set by the log"),
        ("test", {"blob": "x" * 70_000}, f"at most {MAX_ENTRY_SIZE}"),
        ("test", {"x": float("nan")}, "no canonical JSON encoding"),
    ],
)
def test_encode_refusals(kind: str, payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(EntryError, match=reason):
        entry_encode(kind=kind, payload=payload)


# --- Parsing -------------------------------------------------------------------------------------


def record_of(entry: KnownEntry, **changes: Any) -> dict[str, Any]:
    return {"v": 1, "kind": entry.kind.value, **entry.payload(), **changes}


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"v": 3}, "v=3"),
        ({"v": 0}, "v=0"),
        ({"v": True}, "v=true"),
        ({"v": "1"}, 'v="1"'),
        ({"v": 1.0}, "v=1.0"),
    ],
)
def test_parse_refuses_an_unknown_version(changes: dict[str, Any], shown: str) -> None:
    data = canonical_json(record_of(certificate(), **changes))
    with pytest.raises(EntryVersionError, match=f"entry has {shown}, want 1 or 2") as caught:
        entry_parse(data)
    assert caught.value.version == changes["v"]


def test_parse_refuses_an_entry_without_a_version_even_of_an_unknown_kind() -> None:
    with pytest.raises(EntryVersionError, match="v=missing"):
        entry_parse(canonical_json({"kind": "from_the_future"}))
    with pytest.raises(EntryVersionError, match="v=3"):
        entry_parse(canonical_json({"v": 3, "kind": "from_the_future"}))


def test_encode_refuses_an_unknown_version() -> None:
    with pytest.raises(EntryVersionError, match="v=3"):
        entry_encode(kind="test", payload={}, version=3)


@given(known_entries, st.data())
def test_parse_refuses_a_known_kind_out_of_its_shape(
    entry: KnownEntry, data: st.DataObject
) -> None:
    record = record_of(entry)
    field = data.draw(st.sampled_from(sorted(FIELDS[entry.kind])))
    change = data.draw(st.sampled_from(["drop", "add", "number", "empty"]))
    if change == "drop":
        del record[field]
    elif change == "add":
        record[data.draw(names.filter(lambda key: key not in record))] = "x"
    elif change == "number":
        record[field] = 7
    else:
        record[field] = ""
    with pytest.raises(EntryError):
        entry_parse(canonical_json(record))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"kind":"handler", "v":1}', "not a canonical JSON object"),
        (b'["kind","v"]', "not a canonical JSON object"),
        (canonical_json({"v": 1}), "kind null is not a lowercase identifier"),
        (canonical_json({"v": 1, "kind": "Handler"}), 'kind "Handler" is not a lowercase'),
        (canonical_json({"v": 1, "kind": 7}), "kind 7 is not a lowercase identifier"),
        (b"{" + b" " * MAX_ENTRY_SIZE + b"}", f"the log takes at most {MAX_ENTRY_SIZE}"),
    ],
)
def test_parse_refusals(data: bytes, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        entry_parse(data)


def test_a_reader_may_ask_for_one_kind() -> None:
    record = record_of(certificate())
    assert entry_from_record(record, kind=EntryKind.CERTIFICATE) == certificate()
    with pytest.raises(EntryError, match="entry is of kind \"certificate\", not 'handler'"):
        entry_from_record(record, kind=EntryKind.HANDLER)


# --- Version 2 -----------------------------------------------------------------------------------

CONTENT: dict[EntryKind, dict[str, Any]] = {
    EntryKind.CERTIFICATE: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "serial": "0a1b",
        "certificate_sha256": SHA,
        "public_key_sha256": SHA,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2026-04-01T00:00:00Z",
    },
    EntryKind.REVOCATION: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "serial": "0a1b",
        "revoked_at": "2026-02-01T00:00:00Z",
    },
    EntryKind.HANDLER: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "service": "voice",
        "uri": "sip:alice@acme.example",
        "priority": 10,
        "expires_at": "2026-04-01T00:00:00Z",
        "certificate": "0a1b",
    },
    EntryKind.HANDLER_REMOVED: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "service": "voice",
        "certificate": "0a1b",
    },
    EntryKind.LOCK: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "serial": "0a1b",
        "locked_at": "2026-02-01T00:00:00Z",
    },
    EntryKind.UNLOCK: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "serial": "0a1b",
        "unlocked_at": "2026-02-01T00:00:00Z",
    },
    EntryKind.REQUEST: {
        "number": "+33612345678",
        "provider": "other-chat",
        "request": "0f9b5e1c-8a8e-4f43-9d43-3d0c3f6f1a11",
        "public_key_sha256": SHA,
        "requested_at": "2026-02-01T00:00:00Z",
        "issues_at": "2026-02-08T00:00:00Z",
    },
    EntryKind.REQUEST_CLOSED: {
        "number": "+33612345678",
        "request": "0f9b5e1c-8a8e-4f43-9d43-3d0c3f6f1a11",
        "closed_at": "2026-02-02T00:00:00Z",
    },
    EntryKind.DISPUTE: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "serial": "0a1b",
        "disputed": "0c2d",
        "dispute": "4a0f1a3e-2b4c-4d5e-8f60-718293a4b5c6",
        "opened_at": "2026-02-01T00:00:00Z",
    },
    EntryKind.DISPUTE_CLOSED: {
        "number": "+33612345678",
        "dispute": "4a0f1a3e-2b4c-4d5e-8f60-718293a4b5c6",
        "disputed": "0c2d",
        "closed_at": "2026-02-03T00:00:00Z",
    },
    EntryKind.INVITATION: {
        "number": "+33612345678",
        "provider": "acme-chat",
        "inviter": "+33698765432",
        "serial": "0a1b",
        "service": "messaging",
        "invitation": "5b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "invited_at": "2026-02-01T00:00:00Z",
    },
}


def test_each_kind_of_version_2_commits_to_its_content_fields() -> None:
    assert {kind: sorted(fields) for kind, fields in CONTENT_FIELDS.items()} == {
        kind: sorted(content) for kind, content in CONTENT.items()
    }
    assert CONTENT_FIELDS[EntryKind.HANDLER] == COMMITTED_FIELDS
    assert {
        EntryKind.REVOCATION,
        EntryKind.HANDLER_REMOVED,
        EntryKind.REQUEST_CLOSED,
        EntryKind.DISPUTE_CLOSED,
    } == REASON_KINDS
    for kind, content in CONTENT.items():
        content_check(kind, content)


def test_the_bytes_of_version_2() -> None:
    handler = PrivateEntry(kind=EntryKind.HANDLER, label=LABEL, commitment=SHA)
    assert (
        encoded(handler)
        == (f'{{"commitment":"{SHA}","kind":"handler","label":"{LABEL}","v":2}}').encode()
    )
    revoked = PrivateEntry(
        kind=EntryKind.REVOCATION, label=LABEL, commitment=SHA, reason="keyCompromise"
    )
    assert (
        encoded(revoked)
        == (
            f'{{"commitment":"{SHA}","kind":"revocation","label":"{LABEL}",'
            f'"reason":"keyCompromise","v":2}}'
        ).encode()
    )


def test_a_commitment_is_hmac_sha256_of_the_canonical_content() -> None:
    opening = bytes(range(32))
    for content in CONTENT.values():
        want = hmac.new(opening, canonical_json(content), hashlib.sha256).digest()
        assert commitment(opening, content) == want
    assert handler_commitment(opening, CONTENT[EntryKind.HANDLER]) == commitment(
        opening, CONTENT[EntryKind.HANDLER]
    )
    with pytest.raises(ValueError, match="32 bytes"):
        commitment(opening[:31], CONTENT[EntryKind.REVOCATION])


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (EntryKind.CERTIFICATE, {"extra": "x"}, "keys"),
        (EntryKind.CERTIFICATE, {"number": "33612345678"}, "number is not an E.164"),
        (EntryKind.CERTIFICATE, {"serial": "0X1"}, "serial is not 1 to 40"),
        (EntryKind.CERTIFICATE, {"public_key_sha256": "ab"}, "public_key_sha256 is not 64"),
        (EntryKind.REVOCATION, {"revoked_at": "yesterday"}, "revoked_at is not an RFC 3339"),
        (EntryKind.HANDLER, {"priority": "10"}, "priority must be an integer"),
        (EntryKind.HANDLER, {"priority": True}, "priority must be an integer"),
        (EntryKind.HANDLER, {"uri": ""}, "uri must be a non-empty string"),
        (EntryKind.HANDLER_REMOVED, {"provider": 7}, "provider must be a non-empty string"),
        (EntryKind.REQUEST, {"request": "not-a-uuid"}, "request is not a lowercase UUID"),
        (EntryKind.DISPUTE, {"disputed": "0X1"}, "disputed is not 1 to 40"),
        (EntryKind.LOCK, {"locked_at": "now"}, "locked_at is not an RFC 3339"),
    ],
)
def test_content_check_refuses_other_content(
    kind: EntryKind, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(EntryError, match=message):
        content_check(kind, CONTENT[kind] | changes)


private_entries = st.builds(
    lambda kind, label, digest, reason: PrivateEntry(
        kind=kind,
        label=label,
        commitment=digest,
        reason=reason if kind in REASON_KINDS else None,
    ),
    st.sampled_from(list(EntryKind)),
    labels,
    digests,
    names,
)


@given(private_entries)
def test_version_2_entries_round_trip(entry: PrivateEntry) -> None:
    data = encoded(entry)
    assert entry_parse(data) == entry
    assert set(json.loads(data)) == {"v", "kind", "label", "commitment"} | (
        {"reason"} if entry.kind in REASON_KINDS else set()
    )


@given(private_entries, st.data())
def test_parse_refuses_a_version_2_entry_out_of_its_shape(
    entry: PrivateEntry, data: st.DataObject
) -> None:
    record = {"v": 2, "kind": entry.kind.value, **entry.payload()}
    field = data.draw(st.sampled_from(sorted(set(record) - {"v", "kind"})))
    change = data.draw(st.sampled_from(["drop", "add", "number", "empty", "v1 field"]))
    if change == "drop":
        del record[field]
    elif change == "add":
        record[data.draw(names.filter(lambda key: key not in record))] = "x"
    elif change == "number":
        record[field] = 7
    elif change == "empty":
        record[field] = ""
    else:
        record["provider"] = "acme-chat"  # a version-1 field, public no more
    with pytest.raises(EntryError):
        entry_parse(canonical_json(record))


@pytest.mark.parametrize(
    ("kind", "reason", "message"),
    [
        (EntryKind.REVOCATION, None, "reason must be a non-empty string"),
        (EntryKind.HANDLER_REMOVED, "", "reason must be a non-empty string"),
        (EntryKind.CERTIFICATE, "removed", "has no reason"),
    ],
)
def test_a_version_2_entry_has_a_reason_exactly_when_its_kind_shows_one(
    kind: EntryKind, reason: str | None, message: str
) -> None:
    with pytest.raises(EntryError, match=message):
        PrivateEntry(kind=kind, label=LABEL, commitment=SHA, reason=reason)


def test_a_version_2_entry_of_an_unknown_kind_is_opaque() -> None:
    data = canonical_json({"v": 2, "kind": "from_the_future", "label": LABEL, "x": 1})
    assert entry_parse(data) == OpaqueEntry(kind="from_the_future", fields={"label": LABEL, "x": 1})


# --- advertisement: public, names ranges and no number -----------------------------------------

ADVERTISEMENT = {
    "advertisement_sha256": "ab" * 32,
    "issued_at": "2026-12-06T03:00:00Z",
    "ranges": "1-33612000000-1000000 2-33698765432",
    "url": "https://rs.example.fr",
}


def test_an_advertisement_entry_is_read_with_its_fields_in_the_clear() -> None:
    data = entry_encode(kind="advertisement", payload=ADVERTISEMENT)
    entry = entry_parse(data)

    assert entry == AdvertisementEntry(**ADVERTISEMENT)
    assert entry.kind == PublicEntryKind.ADVERTISEMENT
    assert isinstance(entry, AdvertisementEntry) and "label" not in entry.payload()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ranges", "1-33612000000-1000000,2-33698765432"),
        ("ranges", ""),
        ("advertisement_sha256", "AB" * 32),
        ("issued_at", "yesterday"),
        ("url", "ftp://rs.example.fr"),
    ],
)
def test_a_malformed_advertisement_entry_is_refused(field: str, value: str) -> None:
    data = entry_encode(kind="advertisement", payload={**ADVERTISEMENT, field: value})
    with pytest.raises(EntryError, match=field):
        entry_parse(data)


def test_the_audit_shape_of_an_advertisement_entry_is_the_parsers() -> None:
    keys, fields = SHAPES[(2, "advertisement")]
    assert keys == {"v", "kind", *ADVERTISEMENT}
    assert all(match(ADVERTISEMENT[name]) for name, match in fields)
    assert not dict(fields)["ranges"]("1-33612000000-1000000  2-1")
