"""The invitations' admin: read only; the link's code and the opted-out numbers never shown."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from invitations.models import DoNotInvite, Invitation
from tests.ca.flow import holder_of
from tests.invitations.flow import INVITED_2, invited

pytestmark = pytest.mark.django_db


def test_the_admin_shows_invitations_without_their_code(api_client: Any, admin_client: Any) -> None:
    body = invited(api_client, holder_of(api_client))
    code = Invitation.objects.get(pk=body["id"]).code

    listing = admin_client.get("/admin/invitations/invitation/")
    page = admin_client.get(f"/admin/invitations/invitation/{body['id']}/change/")

    assert listing.status_code == page.status_code == 200
    assert code not in page.content.decode() and code not in listing.content.decode()
    assert (
        admin_client.post(f"/admin/invitations/invitation/{body['id']}/delete/").status_code == 403
    )


def test_the_do_not_invite_list_shows_digests_only(admin_client: Any) -> None:
    Client().post("/invitations/stop", {"number": INVITED_2})
    row = DoNotInvite.objects.get()

    listing = admin_client.get("/admin/invitations/donotinvite/")
    page = admin_client.get(f"/admin/invitations/donotinvite/{row.pk}/change/")

    for response in (listing, page):
        assert response.status_code == 200
        assert INVITED_2[1:] not in response.content.decode()
        assert INVITED_2[-9:] not in response.content.decode()
    assert admin_client.get("/admin/invitations/refusalcount/").status_code == 200
