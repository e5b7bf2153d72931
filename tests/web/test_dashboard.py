"""The operator dashboard: staff only, and the figures an operator runs the service by."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from ca.choices import RevocationReason
from ca.models import Certificate
from ca.services.revocation import certificate_revoke
from ca.sms import SmsPermanentError, locmem
from core.middleware import CONTENT_SECURITY_POLICY
from directory.metrics import lookup_counts_flush
from providers.services import api_key_create
from tests.ca.flow import certificate_issued, pending_challenge
from tests.directory.flow import lookup
from tests.factories import ProviderFactory
from tests.web.logbuild import log_built_through_services

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_user("operator", password="pw", is_staff=True))
    return client


def test_anonymous_visitors_are_sent_to_the_login(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={URL}"


def test_users_who_are_not_staff_are_sent_to_the_login(client: Any) -> None:
    client.force_login(User.objects.create_user("someone", password="pw"))
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_to_the_dashboard(operator: Any) -> None:
    assert f'href="{URL}"' in operator.get("/admin/").content.decode()


def test_the_dashboard_shows_challenges_certificates_lookups_and_the_log(
    operator: Any,
    api_client: Any,
    provider: Any,
    client_for: Any,
    settings: Any,
    django_assert_num_queries: Any,
) -> None:
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = ""
    log_built_through_services(provider)  # 2 challenges verified, 2 certificates, 1 revoked
    locmem.failures.append(SmsPermanentError("21211", "invalid 'To' number"))
    pending_challenge(provider, "+4915112345678")  # its SMS fails for good
    pending_challenge(provider, "+33612345670")  # sent, not answered
    other = ProviderFactory(slug="zeta-talk")
    other_client = client_for(api_key_create(provider=other).secret)
    for _ in range(3):
        lookup(api_client)
    lookup(other_client)
    lookup_counts_flush()

    # session, user, permissions (2), 7 figures, disputes, certificates ending, 3 of invitations
    with django_assert_num_queries(16):
        response = operator.get(URL + "?period=7d")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    figures = response.context["figures"]
    assert (figures.challenges_started, figures.challenges_verified) == (4, 2)
    assert figures.delivery_failed == 1
    assert [(c.region, c.started, c.verified) for c in figures.countries] == [
        ("FR", 3, 2),
        ("DE", 1, 0),
    ]
    assert [(e.error, e.challenges) for e in figures.errors] == [("21211: invalid 'To' number", 1)]
    assert (figures.certificates_issued, figures.certificates_revoked) == (2, 1)
    assert response.context["certificates_ending"] == 0  # 30 days ahead
    lookups = {row.provider: row.lookups for row in figures.lookups_by_provider}
    assert lookups["zeta-talk"] == 1 and sum(lookups.values()) == 4
    assert figures.backlog.entries == 0
    assert figures.merge_delay_worst is not None and 0 <= figures.merge_delay_worst < 10
    content = response.content.decode()
    for title in (
        "SMS challenges per hour",
        "Certificates issued and revoked per hour",
        "Lookups per hour, by provider",
        "Merge delay (seconds)",
    ):
        assert title in content
    assert content.count('role="img"') == 4
    assert "zeta-talk" in content and "+49" in content
    assert "invalid &#x27;To&#x27; number" in content
    # Counts only: no number, no code.
    assert "+33612345678" not in content and "+4915112345678" not in content
    assert re.search(r"\b\d{6}\b", re.sub(r"<[^>]+>", " ", content)) is None


def test_the_dashboard_alarms_when_entries_wait_too_long(
    operator: Any, settings: Any, db: Any
) -> None:
    from django.db import connection

    from resolution.protocol.merkle import leaf_hash

    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO transparency_entry ("index", kind, data, leaf_hash, created_at) '
            "VALUES (0, 'test', %s, %s, now() - interval '30 seconds')",
            [b'{"kind":"test","v":1}', leaf_hash(b'{"kind":"test","v":1}')],
        )
    content = operator.get(URL).content.decode()
    assert 'role="alert"' in content and "is the integrator" in content


def test_the_dashboard_counts_the_certificates_that_end_within_7_days(
    operator: Any, provider: Any
) -> None:
    certificate_issued(provider)  # 30 days
    revoked = certificate_issued(provider, "+33612345670")
    certificate_revoke(
        certificate=Certificate.objects.get(serial=revoked.serial),
        reason=RevocationReason.UNSPECIFIED,
        actor="holder",
    )

    staff = User.objects.get(is_staff=True)
    with time_machine.travel(timezone.now() + timedelta(days=24)):
        operator.force_login(staff)  # the session of 24 days ago has expired
        soon = operator.get(URL).context["certificates_ending"]
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        operator.force_login(staff)
        ended = operator.get(URL).context["certificates_ending"]

    assert (soon, ended) == (1, 0)  # the valid one, not the revoked one; none once ended
