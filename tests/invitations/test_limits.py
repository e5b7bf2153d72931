"""Every limit on invitations: a refusal is a 429 problem naming its scope, with Retry-After,
that sends no SMS and writes nothing but the hour's count of refusals. The provider's and the
country's SMS budgets are shared with challenges, both ways."""

from __future__ import annotations

from typing import Any

import pytest

from invitations.models import Invitation, RefusalCount
from tests.ca.flow import NUMBER, OTHER_NUMBER, challenge_started, holder_of
from tests.invitations.flow import INVITED, INVITED_2, invite, invited
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

THIRD_NUMBER = "+33612345670"
INVITED_3 = "+33698765434"


def _refused(response: Any, scope: str, sms_outbox: list[Any]) -> dict[str, Any]:
    body = assert_problem(response, 429, "invitation-rate-limited")
    assert body["scope"] == scope
    assert int(response["Retry-After"]) == body["retry_after"] > 0
    assert sms_outbox == []
    assert RefusalCount.objects.get(reason=scope).count >= 1
    return body


def test_one_invitation_per_inviter_and_number_in_30_days(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    holder = holder_of(api_client)
    invited(api_client, holder)
    sms_outbox.clear()

    body = _refused(invite(api_client, holder), "pair", sms_outbox)

    assert body["retry_after"] > 29 * 86400
    assert Invitation.objects.count() == 1


def test_a_few_invitations_per_number_a_day_from_all_inviters(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    settings.RS_INVITATION_LIMIT_TARGET = "2/1d"
    holders = [holder_of(api_client, number) for number in (NUMBER, OTHER_NUMBER, THIRD_NUMBER)]
    invited(api_client, holders[0])
    invited(api_client, holders[1])
    sms_outbox.clear()

    _refused(invite(api_client, holders[2]), "target", sms_outbox)

    assert invited(api_client, holders[2], INVITED_2)["to"] == INVITED_2  # another number: fine


def test_invitations_per_inviting_number(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    settings.RS_INVITATION_LIMIT_INVITER = "2/1d"
    holder = holder_of(api_client)
    invited(api_client, holder, INVITED)
    invited(api_client, holder, INVITED_2)
    sms_outbox.clear()

    _refused(invite(api_client, holder, INVITED_3), "inviter", sms_outbox)


def test_invitations_per_provider(api_client: Any, sms_outbox: list[Any], settings: Any) -> None:
    settings.RS_INVITATION_LIMIT_PROVIDER = "2/1h"
    first, second = holder_of(api_client), holder_of(api_client, OTHER_NUMBER)
    invited(api_client, first, INVITED)
    invited(api_client, second, INVITED_2)
    sms_outbox.clear()

    _refused(invite(api_client, first, INVITED_3), "provider_invitations", sms_outbox)


def test_the_providers_sms_budget_is_shared_with_challenges(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    holder = holder_of(api_client)  # one challenge
    settings.RS_CHALLENGE_LIMIT_PROVIDER = "3/1h"
    invited(api_client, holder, INVITED)
    invited(api_client, holder, INVITED_2)  # three SMS: the budget is spent
    sms_outbox.clear()

    _refused(invite(api_client, holder, INVITED_3), "provider", sms_outbox)
    # and a challenge finds the budget spent by invitations too
    refused = api_client.post("/v1/challenges", {"number": THIRD_NUMBER}, format="json")
    assert assert_problem(refused, 429, "challenge-rate-limited")["scope"] == "provider"
    assert sms_outbox == []


def test_the_countrys_sms_budget_is_shared_with_challenges(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    holder = holder_of(api_client)  # one challenge to +33
    settings.RS_CHALLENGE_LIMIT_COUNTRY = "2/1h"
    invited(api_client, holder, INVITED)
    sms_outbox.clear()

    _refused(invite(api_client, holder, INVITED_2), "country_budget", sms_outbox)
    refused = api_client.post("/v1/challenges", {"number": THIRD_NUMBER}, format="json")
    assert assert_problem(refused, 429, "challenge-rate-limited")["scope"] == "country"


def test_a_challenge_budget_left_is_an_invitation_budget(
    api_client: Any, settings: Any, sms_outbox: list[Any]
) -> None:
    settings.RS_CHALLENGE_LIMIT_PROVIDER = "3/1h"
    holder = holder_of(api_client)
    challenge_started(api_client, OTHER_NUMBER)
    invited(api_client, holder)
    sms_outbox.clear()
    _refused(invite(api_client, holder, INVITED_2), "provider", sms_outbox)


def test_refusals_are_counted_by_reason_for_the_dashboard(api_client: Any, settings: Any) -> None:
    holder = holder_of(api_client)
    invited(api_client, holder)
    for _ in range(3):
        invite(api_client, holder)
    assert RefusalCount.objects.get(reason="pair").count == 3
    holder_of(api_client, INVITED_2)
    invite(api_client, holder, INVITED_2)
    assert RefusalCount.objects.get(reason="not_invitable").count == 1
