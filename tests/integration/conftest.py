"""Fixtures of the integration suite: real processes against the machine's services."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.celery_app import app
from tests.integration.federation_pair import rs_pair  # noqa: F401  (a fixture)
from tests.subprocesses import child_env

ROOT = Path(__file__).resolve().parents[2]

Worker = subprocess.Popen[str]


@pytest.fixture
def start_worker(transactional_db: None) -> Iterator[Callable[..., Worker]]:
    """``start_worker(*options, **env)``: a `celery worker` process on the test database and
    the configured broker, with extra command-line options (``"--beat", "--schedule", path``)
    and environment variables; stopped after the test."""
    started: list[Worker] = []

    def start(*options: str, **env: str) -> Worker:
        app.control.purge()  # a previous run's leftovers must not satisfy this test
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                *options,
            ],
            cwd=ROOT,
            env=child_env() | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def worker(start_worker: Callable[..., Worker]) -> Worker:
    """A worker with the test settings as they are."""
    return start_worker()


@pytest.fixture
def beat(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A `celery beat` process on the configured broker; its output goes to a file."""
    output = tmp_path / "beat.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield process, output
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
