"""Tests for resolution.client.audit and ``rs log audit``, against an in-process log on
127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolution.cli import main
from resolution.client.audit import AuditError, AuditQuorumError, AuditReport, audit_log
from resolution.client.store import Store
from resolution.protocol.canonical import canonical_json
from resolution.protocol.checkpoint import Checkpoint, format_checkpoint
from resolution.protocol.cosignature import add_cosignatures, generate_cosigner
from resolution.protocol.merkle import leaf_hash, perfect_subtrees, root_from_leaf_hashes
from resolution.protocol.note import generate_signer, sign_note
from resolution.protocol.tiles import TILE_WIDTH, encode_entry_bundle
from resolution.protocol.witnessed import UNWITNESSED, Witnessing
from tests.resolution.logserver import ORIGIN, LogServer, TiledLog, log_records


@pytest.fixture
def log() -> TiledLog:
    # 600 entries: two full bundles, then a partial one of 88 (crosses the 256 boundary twice).
    return TiledLog().append(log_records(600))


@pytest.fixture
def server(log: TiledLog) -> Iterator[LogServer]:
    with LogServer(log) as running:
        yield running


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "audit-state.json"


def audit(server: LogServer, **kwargs: object) -> AuditReport:
    """Audit what ``server`` serves with its log's key; no retries unless asked for."""
    kwargs.setdefault("retries", 0)
    return audit_log(server.url, server.log.vkey, **kwargs)  # type: ignore[arg-type]


def tiles_in_tree(size: int) -> int:
    """How many hash tiles (full and partial) a tree of ``size`` has (tlog-tiles)."""
    count, width = 0, size
    while width:
        count += -(-width // TILE_WIDTH)
        width //= TILE_WIDTH
    return count


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# --- honest logs ------------------------------------------------------------------------------


def test_honest_log_passes_with_exact_figures(log: TiledLog, server: LogServer) -> None:
    report = audit(server)

    assert report.origin == ORIGIN
    assert report.size == 600
    assert report.root_hash == log.root
    assert report.entries_checked == 600
    assert report.tiles_checked == 4  # 0/000, 0/001, 0/002.p/88, 1/000.p/2
    assert report.kinds == {
        "certificate": 150,
        "handler": 150,
        "handler_removed": 150,
        "revocation": 150,
    }
    assert report.previous_size is None
    assert report.seconds > 0
    assert sorted(server.requested("tile/")) == [
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/88",
        "tile/1/000.p/2",
        "tile/entries/000",
        "tile/entries/001",
        "tile/entries/002.p/88",
    ]


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 511, 512, 513])
def test_every_tree_shape_passes(size: int) -> None:
    log = TiledLog().append(log_records(size))
    with LogServer(log) as server:
        report = audit(server)
    assert (report.size, report.entries_checked) == (size, size)
    assert report.root_hash == root_from_leaf_hashes([leaf_hash(e) for e in log.entries])
    assert report.tiles_checked == tiles_in_tree(size)


def test_unknown_kinds_are_counted_not_rejected() -> None:
    log = TiledLog().append([{"v": 1, "kind": "from_the_future", "x": [1, {"y": None}]}] * 3)
    log.append([{"v": 2, "kind": "from_the_future", "label": 7}])
    with LogServer(log) as server:
        assert audit(server).kinds == {"from_the_future": 4}


def test_a_log_of_version_1_then_version_2_entries_passes(state: Path) -> None:
    log = TiledLog().append(log_records(300))
    with LogServer(log) as server:
        audit(server, state_path=state)
        log.append(log_records(301, 300, version=2))
        report = audit(server, state_path=state)
    assert (report.size, report.entries_checked) == (601, 301)
    assert report.kinds == {
        "certificate": 76,
        "handler": 75,
        "handler_removed": 75,
        "revocation": 75,
    }


def test_progress_reports_every_bundle(server: LogServer) -> None:
    seen: list[tuple[int, int]] = []
    audit(server, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(256, 600), (512, 600), (600, 600)]


def test_a_client_passed_in_is_used_and_left_open(server: LogServer) -> None:
    with httpx.Client() as client:
        assert audit(server, client=client, workers=1).size == 600
        assert not client.is_closed


def test_partial_tiles_fall_back_to_full_ones(log: TiledLog) -> None:
    # The checkpoint is at 600, but the server has grown to 768 and dropped its partial tiles
    # (tlog-tiles allows it): the auditor must use the prefix of the full ones.
    grown = TiledLog(log.origin, log.signer).append_raw(log.entries)
    grown.append(log_records(168, 600))
    with LogServer(grown) as server:
        server.overrides["checkpoint"] = log.note
        server.overrides["tile/0/002.p/88"] = 404
        server.overrides["tile/entries/002.p/88"] = 404
        report = audit(server)
        assert "tile/0/002" in server.requested("tile/0/002")
    assert (report.size, report.root_hash) == (600, log.root)


# --- the command line -------------------------------------------------------------------------


def test_cli_prints_a_summary(
    log: TiledLog, server: LogServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "log.vkey"
    key_file.write_text(log.vkey + "\n")

    code = main(["log", "audit", server.url, "--key", f"@{key_file}", "--workers", "3"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"audit OK: {ORIGIN}" in out
    assert "tree size  600" in out
    assert b64(log.root) in out
    assert "600 entries, 4 hash tiles" in out
    assert "certificate 150, handler 150, handler_removed 150, revocation 150" in out
    assert "consistent with previous" not in out


def test_cli_reports_the_previous_checkpoint(
    log: TiledLog, server: LogServer, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log", "audit", server.url, "--key", log.vkey, "--state", str(state)]) == 0
    log.append(log_records(10, 600))
    capsys.readouterr()

    assert main(["log", "audit", server.url, "--key", log.vkey, "--state", str(state)]) == 0

    out = capsys.readouterr().out
    assert "10 entries" in out
    assert "consistent with previous checkpoint of size 600" in out


def test_cli_failure_exits_1(
    log: TiledLog, server: LogServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.overrides["tile/entries/001"] = 500

    assert main(["log", "audit", server.url, "--key", log.vkey]) == 1

    captured = capsys.readouterr()
    assert captured.err.startswith("audit FAILED: GET ")
    assert "tile/entries/001: HTTP 500" in captured.err
    assert captured.out == ""


def test_cli_audits_the_log_of_rs_url_with_the_key_pinned_for_it(
    log: TiledLog,
    server: LogServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = server.url.removesuffix("/log/")
    Store(tmp_path).pin_log(service, log.vkey, b"\x01" * 32)  # as a first lookup pins it
    monkeypatch.setenv("RS_URL", service)
    monkeypatch.setenv("RS_CONFIG_DIR", str(tmp_path))

    assert main(["log", "audit", "--json"]) == 0

    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["url"] == server.url
    assert document["origin"] == ORIGIN and document["size"] == 600
    assert document["root_hash"] == b64(log.root)
    assert document["kinds"] == {
        "certificate": 150,
        "handler": 150,
        "handler_removed": 150,
        "revocation": 150,
    }


def test_cli_without_a_key_given_or_pinned_says_how_to_give_one(
    server: LogServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RS_CONFIG_DIR", str(tmp_path))

    assert main(["log", "audit", server.url]) == 2

    err = capsys.readouterr().err
    assert "no log key pinned for http://127.0.0.1:" in err and "pass --key" in err


def test_cli_without_a_url_or_rs_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RS_URL", raising=False)

    assert main(["log", "audit", "--key", TiledLog().vkey]) == 2
    assert "no log URL" in capsys.readouterr().err


def test_cli_exits_4_when_the_log_cannot_be_reached(
    log: TiledLog, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/log/"

    code = main(["log", "audit", url, "--key", log.vkey, "--timeout", "2", "--json"])

    captured = capsys.readouterr()
    assert code == 4
    assert captured.err.startswith(f"audit FAILED: GET {url}checkpoint failed: ConnectError")
    assert json.loads(captured.out) == {
        "ok": False,
        "url": url,
        "exit_code": 4,
        "error": captured.err.removeprefix("audit FAILED: ").strip(),
    }


@pytest.mark.parametrize(
    "args",
    [
        ["log", "audit", "http://127.0.0.1:1/log/", "--key", "not-a-key"],
        ["log", "audit", "http://127.0.0.1:1/log/", "--key", "@/nonexistent/key"],
        ["log", "audit", "http://127.0.0.1:1/log/", "--key", "K", "--workers", "0"],
        ["log"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


def test_cli_help_still_describes_the_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "transparency log" in out
    assert "log" in out


# --- incremental audits -----------------------------------------------------------------------


def test_incremental_audit_checks_only_new_entries(
    log: TiledLog, server: LogServer, state: Path
) -> None:
    first = audit(server, state_path=state)
    assert (first.entries_checked, first.previous_size) == (600, None)
    saved = json.loads(state.read_text())
    assert (saved["origin"], saved["size"], saved["root_hash"]) == (ORIGIN, 600, b64(log.root))
    assert len(saved["compact"]) == len(perfect_subtrees(0, 600))
    assert saved["checkpoint"] == log.note.decode()

    log.append(log_records(250, 600))
    server.requests.clear()
    second = audit(server, state_path=state)

    assert second.previous_size == 600
    assert (second.size, second.root_hash) == (850, log.root)
    assert second.entries_checked == 250
    assert sum(second.kinds.values()) == 250
    # Bundle 2 holds entries 512-767: the one the audit resumes in.  Nothing before it.
    assert sorted(server.requested("tile/entries/")) == [
        "tile/entries/002",
        "tile/entries/003.p/82",
    ]
    assert json.loads(state.read_text())["size"] == 850

    server.requests.clear()
    third = audit(server, state_path=state)
    assert (third.entries_checked, third.previous_size, third.kinds) == (0, 850, {})
    assert server.requested("tile/entries/") == []


@pytest.mark.parametrize(
    ("old", "new"),
    [(0, 1), (1, 2), (3, 4), (255, 256), (256, 257), (100, 600), (256, 512), (511, 513), (7, 7)],
)
def test_incremental_audit_from_every_boundary(state: Path, old: int, new: int) -> None:
    log = TiledLog().append(log_records(old))
    with LogServer(log) as server:
        assert audit(server, state_path=state).size == old
        log.append(log_records(new - old, old))
        report = audit(server, state_path=state)
    assert (report.previous_size, report.size, report.entries_checked) == (old, new, new - old)
    assert report.root_hash == log.root


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.integers(0, 300), min_size=1, max_size=4))
def test_any_sequence_of_incremental_audits_passes(tmp_path_factory, steps: list[int]) -> None:
    state = tmp_path_factory.mktemp("state") / "state.json"
    log = TiledLog()
    with LogServer(log) as server:
        for step in steps:
            log.append(log_records(step, log.size))
            report = audit(server, state_path=state)
            assert (report.size, report.entries_checked, report.root_hash) == (
                log.size,
                step,
                log.root,
            )


def test_state_for_another_log_is_refused(log: TiledLog, server: LogServer, state: Path) -> None:
    audit(server, state_path=state)
    other = TiledLog("other.example.test/log").append(log_records(5))
    server.log = other
    with pytest.raises(AuditError, match=r"is for log 'log\.example\.test/resolution', not 'other"):
        audit(server, state_path=state)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: "not json",
        lambda s: json.dumps({**json.loads(s), "format": "something else"}),
        lambda s: json.dumps({**json.loads(s), "size": 599}),
        lambda s: json.dumps({**json.loads(s), "compact": json.loads(s)["compact"][::-1]}),
        lambda s: json.dumps({**json.loads(s), "checkpoint": "x\n"}),
    ],
)
def test_damaged_state_file_is_refused(server: LogServer, state: Path, damage) -> None:
    audit(server, state_path=state)
    state.write_text(damage(state.read_text()))
    with pytest.raises(AuditError, match="is not a valid audit state"):
        audit(server, state_path=state)


def test_state_is_replaced_atomically_and_only_on_success(
    log: TiledLog, server: LogServer, state: Path
) -> None:
    audit(server, state_path=state)
    before = state.read_bytes()
    log.append(log_records(5, 600))
    server.overrides["tile/0/002.p/93"] = os.urandom(93 * 32)
    with pytest.raises(AuditError):
        audit(server, state_path=state)
    assert state.read_bytes() == before
    assert os.listdir(state.parent) == [state.name]  # no temporary file left behind


def test_unwritable_state_file_is_an_audit_error(server: LogServer, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=r"^the log passed, but state file .* was not written"):
        audit(server, state_path=tmp_path / "missing-directory" / "state.json")


# --- tampering --------------------------------------------------------------------------------


def test_rewritten_entry_is_caught_by_its_hash_tile(log: TiledLog, server: LogServer) -> None:
    log.entries[300] = canonical_json(log_records(1, 300, tag="forged-")[0])
    with pytest.raises(AuditError, match=r"^hash tile 0/001 does not match .*\(leaf 300 differs"):
        audit(server)


def test_rewritten_entry_with_rebuilt_tiles_is_caught_by_the_root(
    log: TiledLog, server: LogServer
) -> None:
    log.entries[300] = canonical_json(log_records(1, 300, tag="forged-")[0])
    log.rebuild_tiles()  # the log rewrote its tiles too, but cannot re-sign an old checkpoint
    with pytest.raises(AuditError, match=r"^root recomputed from entries differs from the check"):
        audit(server)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        (10, r"hash tile 1/000\.p/2 disagrees with it"),  # in an old, full bundle
        (550, r"entries 512-575 in entry bundle 2 have changed"),  # where the audit resumes
        (599, r"entries 592-599 in entry bundle 2 have changed"),
    ],
)
def test_rewritten_history_is_not_consistent_with_the_state(
    log: TiledLog, server: LogServer, state: Path, changed: int, message: str
) -> None:
    audit(server, state_path=state)
    before = state.read_bytes()
    # A log rewriting history as well as it can: new entry, new tiles, freshly signed.
    log.entries[changed] = canonical_json(log_records(1, changed, tag="forged-")[0])
    log.rebuild_tiles()
    log.append(log_records(100, 600))

    with pytest.raises(AuditError) as exc:
        audit(server, state_path=state)

    assert str(exc.value).startswith(
        f"log is not consistent with the checkpoint in {state}: size 600 root {b64_root(before)} "
        "was rewritten: "
    )
    assert exc.match(message)
    assert state.read_bytes() == before


def b64_root(state_bytes: bytes) -> str:
    return str(json.loads(state_bytes)["root_hash"])


@pytest.mark.parametrize(
    ("a_size", "keep", "b_size"),
    [(300, 0, 500), (256, 0, 400), (512, 100, 700), (300, 299, 301), (600, 599, 70), (1, 0, 2)],
)
def test_forked_log_is_not_consistent(state: Path, a_size: int, keep: int, b_size: int) -> None:
    b_size = max(b_size, a_size + 1)
    a = TiledLog().append(log_records(a_size))
    b = a.fork(keep, log_records(b_size - keep, keep, tag="fork-"))
    assert b.signer == a.signer and b.size > a.size
    with LogServer(a) as server:
        audit(server, state_path=state)
        server.log = b
        with pytest.raises(AuditError, match=r"^log is not consistent with the checkpoint in"):
            audit(server, state_path=state)


def test_fork_at_the_same_size_is_not_consistent(
    log: TiledLog, server: LogServer, state: Path
) -> None:
    audit(server, state_path=state)
    server.log = log.fork(599, log_records(1, 599, tag="fork-"))
    with pytest.raises(AuditError, match=r"not consistent .* size 600 .* now signs root"):
        audit(server, state_path=state)


def test_shrunk_tree_fails(log: TiledLog, server: LogServer, state: Path) -> None:
    audit(server, state_path=state)
    server.log = log.fork(500, [])
    with pytest.raises(AuditError, match=r"^tree shrank from 600 to 500"):
        audit(server, state_path=state)


def test_checkpoint_signed_by_another_key_fails(log: TiledLog, server: LogServer) -> None:
    log.sign(generate_signer(ORIGIN))  # same name, different key
    with pytest.raises(AuditError, match=r"^checkpoint signature does not verify with key log\."):
        audit(server)


def test_checkpoint_with_a_flipped_signature_byte_fails(log: TiledLog, server: LogServer) -> None:
    text, _, sig_line = log.note.decode().rpartition("\u2014 ")
    name, blob = sig_line.split()
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    server.overrides["checkpoint"] = f"{text}\u2014 {name} {b64(bytes(raw))}\n".encode()
    with pytest.raises(AuditError, match=r"^checkpoint signature does not verify with key"):
        audit(server)


def test_checkpoint_with_a_root_that_is_not_the_tree_fails(
    log: TiledLog, server: LogServer
) -> None:
    log.sign(root=bytes(32))
    with pytest.raises(AuditError, match=r"^root recomputed from entries differs"):
        audit(server)


def test_checkpoint_for_another_origin_fails(log: TiledLog, server: LogServer) -> None:
    text = format_checkpoint(Checkpoint("other.example/log", 600, log.root))
    server.overrides["checkpoint"] = sign_note(text, log.signer)
    with pytest.raises(AuditError, match=r"^checkpoint is invalid: .*origin"):
        audit(server)


def test_garbage_checkpoint_fails(server: LogServer) -> None:
    server.overrides["checkpoint"] = b"<html>hello</html>"
    with pytest.raises(AuditError, match=r"^checkpoint note is malformed"):
        audit(server)


def test_wrong_key_for_the_log_fails(server: LogServer) -> None:
    other = generate_signer("someone.else/log").verifier
    with pytest.raises(AuditError, match=r"^checkpoint signature does not verify with key some"):
        audit_log(server.url, other, retries=0)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tile/0/001", r"^hash tile 0/001 does not match the entries \(leaf 256 differs\)"),
        ("tile/0/002.p/88", r"^hash tile 0/002\.p/88 does not match the entries"),
        ("tile/1/000.p/2", r"^hash tile 1/000\.p/2 does not match the entries \(hash 0 differs"),
    ],
)
def test_wrong_hash_tile_is_named(server: LogServer, path: str, message: str) -> None:
    size = int(path.rpartition(".p/")[2]) if ".p/" in path else TILE_WIDTH
    server.overrides[path] = os.urandom(size * 32)
    with pytest.raises(AuditError, match=message):
        audit(server)


def test_hash_tile_of_the_wrong_length_is_named(server: LogServer) -> None:
    server.overrides["tile/0/002.p/88"] = os.urandom(87 * 32)
    with pytest.raises(AuditError, match=r"^hash tile 0/002\.p/88 is 2784 bytes, want 2816"):
        audit(server)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (b'{"kind":"handler", "v":1}', "is not canonical JSON"),
        (b'{"v":1,"kind":"handler"}', "is not canonical JSON"),
        (b'{"kind":"handler","kind":"x","v":1}', "is not canonical JSON"),
        (b'{"kind":"\\u0068andler","v":1}', "is not canonical JSON"),
        (b'["kind","v"]', "is not canonical JSON: JSON value is a list"),
        (b"\xff", "is not canonical JSON"),
        (b"", "is not canonical JSON"),
        (canonical_json({"v": 3, "kind": "handler"}), "has v=3, want 1 or 2"),
        (canonical_json({"v": 0, "kind": "handler"}), "has v=0, want 1 or 2"),
        (canonical_json({"v": 2, "kind": "handler"}), "is malformed: entry has the keys"),
        (canonical_json({"v": 1, "kind": "handler"}), "is malformed: entry has the keys"),
        (
            canonical_json({**log_records(1, version=2)[0], "provider": "acme-chat"}),
            "is malformed: entry has the keys",
        ),
        (
            canonical_json({**log_records(1, version=2)[0], "commitment": "AB" * 32}),
            "is malformed: entry's commitment is not 64 lowercase hex",
        ),
        (
            canonical_json({**log_records(1, 3, version=2)[0], "reason": ""}),
            "is malformed: a handler_removed entry's reason",
        ),
        (
            canonical_json({**log_records(1, 1, version=1)[0], "revoked_at": "now"}),
            "is malformed: entry's revoked_at is not an RFC 3339",
        ),
        (canonical_json({"v": True, "kind": "handler"}), "has v=true"),
        (canonical_json({"v": "1", "kind": "handler"}), 'has v="1"'),
        (canonical_json({"kind": "handler"}), "has v=missing"),
        (canonical_json({"v": 1}), "has no kind"),
        (canonical_json({"v": 1, "kind": ""}), "has no kind"),
        (canonical_json({"v": 1, "kind": 7}), "has no kind"),
    ],
)
def test_bad_entry_is_named_by_index(entry: bytes, message: str) -> None:
    log = TiledLog().append(log_records(257))
    log.append_raw([entry])  # honest tiles and checkpoint over a bad entry
    log.append(log_records(10, 258))
    with LogServer(log) as server, pytest.raises(AuditError, match=f"^entry 257 {message}"):
        audit(server)


def test_bundle_with_too_few_entries_is_named(log: TiledLog, server: LogServer) -> None:
    server.overrides["tile/entries/001"] = encode_entry_bundle(log.entries[256:268])
    with pytest.raises(AuditError, match=r"^entry bundle 1 has 12 entries, want 256"):
        audit(server)


def test_truncated_bundle_is_named(log: TiledLog, server: LogServer) -> None:
    server.overrides["tile/entries/001"] = encode_entry_bundle(log.entries[256:512])[:-1]
    with pytest.raises(AuditError, match=r"^entry bundle 1 is malformed"):
        audit(server)


# --- HTTP failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["checkpoint", "tile/entries/001", "tile/0/002.p/88"])
def test_server_error_names_the_url(server: LogServer, path: str) -> None:
    server.overrides[path] = 500
    with pytest.raises(
        AuditError, match=f"^GET {re.escape(server.url + path)}: HTTP 500 Internal Server"
    ):
        audit(server)


def test_missing_tile_names_the_url(server: LogServer) -> None:
    server.overrides["tile/1/000.p/2"] = 404
    with pytest.raises(AuditError, match=r"tile/1/000\.p/2: HTTP 404"):
        audit(server)


def test_transient_errors_are_retried(server: LogServer) -> None:
    server.fail("tile/entries/001", 503, times=2)
    server.fail("checkpoint", 502)
    assert audit(server, retries=2).size == 600
    assert server.requested("tile/entries/001") == ["tile/entries/001"] * 3


def test_connection_refused_is_an_audit_error(log: TiledLog) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/log/"
    with pytest.raises(AuditError, match=f"^GET {re.escape(url)}checkpoint failed: ConnectError"):
        audit_log(url, log.vkey, retries=1)


def test_timeout_is_an_audit_error(server: LogServer) -> None:
    server.delay = 1.0
    with pytest.raises(AuditError, match="failed: ReadTimeout"):
        audit(server, timeout=0.1)


# --- speed ------------------------------------------------------------------------------------


def test_timing_of_a_larger_audit(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a benchmark (the server shares this process and its GIL): a figure to watch."""
    log = TiledLog().append(log_records(50_000))
    with LogServer(log) as server:
        started = time.perf_counter()
        full = audit(server, state_path=state)
        elapsed = time.perf_counter() - started
        # Growing past 65,536 creates the first level-2 tile: check the incremental path there.
        log.append(log_records(16_000, 50_000))
        more = audit(server, state_path=state)
    assert (full.entries_checked, full.tiles_checked) == (50_000, tiles_in_tree(50_000))
    assert (more.entries_checked, more.size, more.root_hash) == (16_000, 66_000, log.root)
    with capsys.disabled():
        print(
            f"\n[audit timing] {full.entries_checked} entries, {full.tiles_checked} tiles in "
            f"{elapsed:.2f} s ({full.entries_checked / elapsed:,.0f} entries/s, in-process "
            f"server); +{more.entries_checked} incremental in {more.seconds:.2f} s"
        )


# --- witnesses ---------------------------------------------------------------------------------

WITNESSES = {name: generate_cosigner(f"{name}.witness.example") for name in ("a", "b", "c")}


def two_of_three(log: TiledLog) -> str:
    lines = [f"log {log.vkey}"]
    lines += [f"witness {name} {w.verifier.vkey}" for name, w in WITNESSES.items()]
    return "\n".join([*lines, "group two-of-three 2 a b c", "quorum two-of-three"]) + "\n"


def cosign(log: TiledLog, *names: str) -> None:
    """Add the named witnesses' cosignatures to the checkpoint the log serves."""
    text = log.note.decode().split("\n\n", 1)[0] + "\n"
    log.note = add_cosignatures(log.note, [WITNESSES[n].cosign(text).line for n in names])


def test_a_checkpoint_is_held_to_the_policy_the_log_serves(
    log: TiledLog, server: LogServer, state: Path
) -> None:
    assert audit(server).witnessing == UNWITNESSED  # none served: no witnesses
    server.overrides["witness-policy"] = two_of_three(log).encode()
    cosign(log, "a", "c")
    report = audit(server, state_path=state)
    assert report.witnessing == Witnessing("two-of-three", ("a", "c"))
    assert json.loads(state.read_text())["witness_policy"] == two_of_three(log)
    # The next checkpoint is cosigned by one witness only: refused, naming the others.
    log.append(log_records(10, 600))
    cosign(log, "b")
    with pytest.raises(AuditQuorumError, match=r"no valid cosignature from a, c$") as caught:
        audit(server, state_path=state)
    assert caught.value.missing == ("a", "c")


def test_a_policy_changed_since_the_last_audit_is_refused_unless_given(
    log: TiledLog, server: LogServer, state: Path, tmp_path: Path
) -> None:
    server.overrides["witness-policy"] = two_of_three(log).encode()
    cosign(log, "a", "b")
    audit(server, state_path=state)
    # The log drops its witnesses: the recorded policy still holds it.
    del server.overrides["witness-policy"]
    with pytest.raises(AuditError, match=r"WITNESS POLICY HAS CHANGED .* now quorum none"):
        audit(server, state_path=state)
    # An auditor who was told of the new policy gives it, and it is recorded.
    given = tmp_path / "policy.txt"
    given.write_text("quorum none\n")
    assert main(["log", "audit", server.url, "--key", log.vkey, "--state", str(state),
                 "--witness-policy", str(given)]) == 0  # fmt: skip
    assert json.loads(state.read_text())["witness_policy"] == "quorum none\n"
    assert audit(server, state_path=state).witnessing == UNWITNESSED


def test_cli_exit_codes_of_a_missed_quorum_and_a_split_view(
    log: TiledLog,
    server: LogServer,
    state: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["log", "audit", server.url, "--key", log.vkey, "--state", str(state)]
    assert main(args) == 0
    assert "checkpoint unwitnessed: no witness quorum is required" in capsys.readouterr().out
    # The same log key signs a fork: with no witnesses, the state file catches it.
    honest = server.log
    server.log = log.fork(599, log_records(1, 599, tag="fork-"))
    assert main(args) == 7
    assert "audit FAILED: SPLIT VIEW: log is not consistent" in capsys.readouterr().err
    server.log = honest

    policy = tmp_path / "policy.txt"
    policy.write_text(two_of_three(log))
    assert main([*args, "--witness-policy", str(policy)]) == 6
    assert "misses its witness quorum 'two-of-three'" in capsys.readouterr().err
    cosign(log, "a", "b", "c")
    assert main([*args, "--witness-policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "checkpoint witnessed: quorum two-of-three met, cosigned by a, b, c" in out
    # A fork the witnesses never cosigned, shown with the honest checkpoint's cosignatures.
    fork = log.fork(599, log_records(1, 599, tag="fork-"))
    fork.note = add_cosignatures(fork.note, log.note.decode().split("\n\n")[1].splitlines(True)[1:])
    server.log = fork
    assert main([*args, "--witness-policy", str(policy)]) == 6
    assert "no valid cosignature from a, b, c" in capsys.readouterr().err
