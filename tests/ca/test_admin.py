"""What operators see: challenges without their codes, certificates, and the country report."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.ca.flow import certificate_issued, code_sent, pending_challenge, verified_challenge
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


def test_challenges_are_listed_without_their_codes(
    operator: Any, provider: Any, sms_outbox: list[Any]
) -> None:
    challenge = pending_challenge(provider)
    code = code_sent(sms_outbox)

    listing = operator.get("/admin/ca/challenge/")
    page = operator.get(f"/admin/ca/challenge/{challenge.pk}/change/")

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        content = response.content.decode()
        assert challenge.number in content  # operators may see numbers
        assert code not in content
        assert bytes(challenge.code_hmac).hex() not in content
        assert "code_hmac" not in content
    assert "accepted" in page.content.decode()  # the delivery status


def test_certificates_are_listed(operator: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    response = operator.get("/admin/ca/certificate/?q=" + holder.serial)
    assert response.status_code == 200
    assert holder.serial in response.content.decode()
    assert operator.get("/admin/ca/crl/").status_code == 200


def test_the_country_report_shows_volume_and_verification_rate(
    operator: Any, provider: Any, settings: Any
) -> None:
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = ""
    verified_challenge(provider, "+33612345600")
    for index in range(1, 4):
        pending_challenge(provider, f"+3361234560{index}")
    pending_challenge(ProviderFactory(), "+4915112345678")

    response = operator.get("/admin/ca/challengevolume/?period=1h")

    assert response.status_code == 200
    rows = [
        (row.region, row.started, row.verified, f"{row.verification_rate:.2f}")
        for row in response.context["rows"]
    ]
    assert rows == [("FR", 4, 1, "0.25"), ("DE", 1, 0, "0.00")]
    content = response.content.decode()
    assert "+33" in content and "25 %" in content


def test_staff_without_permission_cannot_see_challenges(client: Any) -> None:
    staff = User.objects.create_user("helpdesk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/ca/challenge/").status_code == 403
    assert client.get("/admin/ca/challengevolume/").status_code == 403
