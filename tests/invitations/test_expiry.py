"""Invitations expire after RS_INVITATION_LIFETIME_DAYS (30): beat closes them, a handler
published later tells no one, and the link leads nowhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from invitations.tasks import invitations_expire
from tests.ca.flow import holder_of
from tests.invitations.flow import INVITED, invited

pytestmark = pytest.mark.django_db


def test_an_invitation_expires_after_30_days(api_client: Any) -> None:
    holder = holder_of(api_client)
    body = invited(api_client, holder)
    path = body["link"].removeprefix("http://testserver")
    start = timezone.now()

    with time_machine.travel(start + timedelta(days=29, hours=23)):
        assert invitations_expire() == 0
        assert Client().get(path).status_code == 200
    with time_machine.travel(start + timedelta(days=30, minutes=1)):
        assert Client().get(path).status_code == 404  # before beat ran, as after
        assert invitations_expire() == 1
        assert invitations_expire() == 0

    polled = api_client.get(f"/v1/invitations/{body['id']}").json()
    assert polled["status"] == "expired" and polled["accepted_at"] is None


def test_an_expired_invitation_is_not_accepted(api_client: Any, client_for: Any) -> None:
    from invitations.models import Invitation
    from invitations.services import invitations_accept

    holder = holder_of(api_client)
    body = invited(api_client, holder)
    Invitation.objects.filter(pk=body["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    from directory.models import Handler
    from tests.directory.flow import published

    invitee = holder_of(api_client, INVITED)
    published(api_client, invitee, number=INVITED)
    handler = Handler.objects.get(number=INVITED)
    assert invitations_accept(handler=handler, provider=handler.provider) == 0
    assert api_client.get(f"/v1/invitations/{body['id']}").json()["status"] == "open"
