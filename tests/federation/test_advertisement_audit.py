"""An auditor reads this service's advertisement entries as a known kind: checked, counted."""

from __future__ import annotations

from typing import Any

import pytest

from federation.keys import advertisement_keys_bootstrap
from federation.services import advertisement_renew
from resolution.client.audit import audit_log
from transparency.keys import log_keys
from transparency.services import log_integrate

# Real commits: the live server answers from its own thread, on its own database connection.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_auditor_checks_and_counts_advertisement_entries(
    live_server: Any, settings: Any, tmp_path: Any
) -> None:
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    settings.RS_SERVED_RANGES = ["1-33612000000-1000000", "2-33698765432"]
    advertisement_keys_bootstrap()
    advertisement_renew()
    log_integrate()

    report = audit_log(
        f"{live_server.url}/log/", log_keys().note_verifier_key, state_path=tmp_path / "s.json"
    )

    assert report.kinds == {"advertisement": 1}
