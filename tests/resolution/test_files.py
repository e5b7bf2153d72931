"""``resolution.client.files.atomic_write``: the one way the SDK writes a file (keys,
certificates, pins, the monitor's and the auditor's states)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resolution.client.files import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_file_is_written_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        atomic_write(tmp_path / "key.pem", b"secret")
        (tmp_path / "open.json").write_bytes(b"{}")
        (tmp_path / "open.json").chmod(0o666)
        atomic_write(tmp_path / "open.json", b'{"a": 1}')
    finally:
        os.umask(old)
    assert (tmp_path / "key.pem").read_bytes() == b"secret"
    assert _mode(tmp_path / "key.pem") == 0o600
    assert _mode(tmp_path / "open.json") == 0o600  # a replaced file takes the new mode
    atomic_write(tmp_path / "public.pem", b"root", mode=0o644)
    assert _mode(tmp_path / "public.pem") == 0o644
    assert sorted(os.listdir(tmp_path)) == ["key.pem", "open.json", "public.pem"]


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    atomic_write(state, b"old state")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(state, b"new state, half written")
    assert state.read_bytes() == b"old state"
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_write_that_cannot_replace_its_target_leaves_no_file(tmp_path):
    folder = tmp_path / "is-a-folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(folder, b"data")
    assert os.listdir(tmp_path) == ["is-a-folder"] and os.listdir(folder) == []
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "state.json", b"data")


def test_a_link_in_place_of_the_file_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"untouched")
    link = tmp_path / "known_logs"
    link.symlink_to(target)
    atomic_write(link, b"pins")
    assert not link.is_symlink() and link.read_bytes() == b"pins"
    assert target.read_bytes() == b"untouched"
