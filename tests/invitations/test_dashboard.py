"""The operator dashboard's invitation figures: sent, accepted, refused by a limit, refused as
not invitable, opt-outs, and their SMS cost; counts only, no number."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.ca.flow import holder_of
from tests.invitations.flow import INVITED, INVITED_2, invite, invited

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_invitations(api_client: Any, settings: Any) -> None:
    settings.RS_SMS_COST_ESTIMATE = 0.25
    holder = holder_of(api_client)
    invited(api_client, holder, INVITED)
    invite(api_client, holder, INVITED)  # refused: the pair's limit
    invite(api_client, holder, INVITED)
    Client().post("/invitations/stop", {"number": INVITED_2})
    invite(api_client, holder, INVITED_2)  # refused: opted out

    operator = Client()
    operator.force_login(User.objects.create_user("operator", password="pw", is_staff=True))
    page = operator.get("/admin/dashboard/")

    assert page.status_code == 200
    figures = page.context["invitations"]
    assert (figures.sent, figures.accepted) == (1, 0)
    assert (figures.refused_by_limit, figures.refused_not_invitable) == (2, 1)
    assert figures.opt_outs == 1 and figures.sms_cost == 0.25
    text = page.content.decode()
    assert "invitations sent" in text and "0.25 EUR" in text
    assert INVITED not in text and INVITED_2 not in text
