"""``rs log audit`` against the real service: the auditor accepts what the server publishes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from resolution.client.audit import audit_log
from tests.transparency.logdata import append_entries
from transparency.keys import log_keys
from transparency.services import log_integrate

# Real commits: the live server answers from its own thread, on its own database connection.
pytestmark = pytest.mark.django_db(transaction=True)


def rs_log_audit(url: str, key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the ``rs log audit`` command line as an auditor would."""
    return subprocess.run(
        [sys.executable, "-m", "resolution.cli", "log", "audit", url, "--key", key, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def deferred(settings):
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"


def test_auditor_verifies_the_served_log_and_follows_it_incrementally(
    live_server, deferred, tmp_path
):
    append_entries(300)
    log_integrate()
    state = tmp_path / "state.json"
    key = log_keys().note_verifier_key
    first = audit_log(f"{live_server.url}/log/", key, state_path=state)
    assert (first.size, first.entries_checked) == (300, 300)
    assert first.kinds == {"test": 300}

    append_entries(220, start=300)
    log_integrate()
    result = rs_log_audit(f"{live_server.url}/log/", key, "--state", str(state))
    assert result.returncode == 0, result.stderr
    assert "520" in result.stdout and "300" in result.stdout  # new size, and the previous one


def test_auditor_rejects_a_checkpoint_from_another_key(live_server, deferred):
    append_entries(10)
    log_integrate()
    from resolution.protocol.note import generate_signer, verifier_key

    stranger = generate_signer("testserver/log")
    result = rs_log_audit(
        f"{live_server.url}/log/", verifier_key(stranger.name, stranger.public_key)
    )
    assert result.returncode == 1
    assert "audit FAILED" in result.stderr and "signature" in result.stderr
