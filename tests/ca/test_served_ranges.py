"""A service that serves some ranges (RS_SERVED_RANGES) refuses challenges and invitations for
other numbers before any SMS, and a malformed setting stops the process from starting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ca.models import Challenge
from core.checks import served_ranges_validate
from core.ranges import serves
from invitations.models import Invitation
from outbox.models import Message
from tests.ca.flow import holder_of
from tests.invitations.flow import invite
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

SERVED = ["1-33612000000-1000000", "2-33698765432"]


@pytest.fixture
def ranges(settings: Any) -> None:
    settings.RS_SERVED_RANGES = SERVED


def test_without_ranges_every_number_is_served(settings: Any) -> None:
    settings.RS_SERVED_RANGES = []
    assert serves("+33612345678") and serves("+447700900123")


@pytest.mark.usefixtures("ranges")
def test_the_served_ranges_are_served_and_no_other_number() -> None:
    assert serves("+33612345678") and serves("+33612999999") and serves("+33698765432")
    assert not serves("+33613000000") and not serves("+33698765433")
    assert not serves("+3361234567")  # another length


@pytest.mark.usefixtures("ranges")
def test_a_challenge_for_a_number_served_elsewhere_is_refused_before_any_sms(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    response = api_client.post("/v1/challenges", {"number": "+33698765499"}, format="json")

    assert_problem(response, 421, "number-not-served")
    assert "+33698765499" not in response.content.decode()
    assert not Challenge.objects.exists() and not Message.objects.exists() and not sms_outbox
    served = api_client.post("/v1/challenges", {"number": "+33612345678"}, format="json")
    assert served.status_code == 201, served.content


@pytest.mark.usefixtures("invitation_key")
def test_an_invitation_to_a_number_served_elsewhere_is_refused(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    holder = holder_of(api_client)
    settings.RS_SERVED_RANGES = SERVED
    sent = len(sms_outbox)

    assert_problem(invite(api_client, holder, "+33698765499"), 421, "number-not-served")
    assert not Invitation.objects.exists() and len(sms_outbox) == sent


@pytest.mark.parametrize(
    "ranges",
    [["1-33612000000-1"], ["2-+33612345678"], ["1-33612000000-1000", "2-33612000500"]],
)
def test_a_malformed_or_overlapping_setting_stops_the_start(settings: Any, ranges: Any) -> None:
    settings.RS_SERVED_RANGES = ranges
    with pytest.raises(ImproperlyConfigured, match="RS_SERVED_RANGES"):
        served_ranges_validate()
