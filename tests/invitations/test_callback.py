"""The callback: once the invited number publishes a handler of the service that the inviter's
provider may see, that provider's webhook receives ``invitation.accepted`` with the handler as
a lookup shows it, verified here with the SDK (signature) and against the log (commitment).
A handler hidden from the inviter tells it nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from invitations.choices import InvitationStatus
from invitations.models import Invitation
from resolution.protocol.entries import EntryKind, PrivateEntry, entry_parse, handler_commitment
from tests.ca.flow import holder_of
from tests.directory.flow import published
from tests.invitations.flow import INVITED, SERVICE, invited
from tests.webhooks.flow import told
from tests.webhooks.receiver import Receiver
from transparency.models import Entry

pytestmark = pytest.mark.django_db


def _accepted(receiver: Receiver, app: Any) -> list[dict[str, Any]]:
    return [data for kind, data in told(receiver, app) if kind == "invitation.accepted"]


def test_the_inviter_is_told_when_the_number_publishes_a_handler_it_may_see(
    app: Any, receiver: Receiver
) -> None:
    alice, bob, carol = app("alice"), app("bob"), app("carol")
    inviter = holder_of(alice)
    invitation = invited(alice, inviter)
    invitee = holder_of(bob, INVITED)  # the number installs bob's app, which registers it
    assert _accepted(receiver, alice) == []

    handler = published(
        bob, invitee, number=INVITED, service=SERVICE, uri="sip:invitee@bob.example"
    )

    [data] = _accepted(receiver, alice)
    assert data["invitation_id"] == invitation["id"]
    assert (data["number"], data["inviter"], data["service"]) == (
        INVITED,
        invitation["inviter"],
        SERVICE,
    )
    shown = data["handler"]
    assert shown["provider"] == "bob" and shown["uri"] == "sip:invitee@bob.example"
    assert shown["log"]["index"] is None and shown["log"]["pending"]  # not sequenced yet
    # The handler is checked as a lookup's is: the entry commits to exactly these fields.
    entry = entry_parse(base64.b64decode(shown["log"]["entry"]))
    assert isinstance(entry, PrivateEntry) and entry.kind == EntryKind.HANDLER
    fields = {
        "number": INVITED,
        "provider": shown["provider"],
        "service": shown["service"],
        "uri": shown["uri"],
        "priority": shown["priority"],
        "expires_at": shown["expires_at"],
        "certificate": shown["certificate"],
    }
    opening = base64.b64decode(shown["log"]["opening"])
    assert handler_commitment(opening, fields).hex() == entry.commitment
    assert shown["certificate"] == invitee.serial
    # Only the inviter's provider is told: not the number's holder, nor anyone else.
    assert _accepted(receiver, bob) == [] and receiver.at(carol.path) == []
    polled = alice.get(f"/v1/invitations/{invitation['id']}").json()
    logged = Entry.objects.get(leaf_hash=base64.b64decode(handler["log"]["leaf_hash"]))
    assert polled["status"] == "accepted" and polled["handler_log_index"] == logged.index

    # Accepted once: publishing again tells it nothing more.
    published(bob, invitee, number=INVITED, service=SERVICE, uri="sip:other@bob.example")
    assert len(_accepted(receiver, alice)) == 1


def test_a_hidden_handler_does_not_tell_a_provider_it_is_hidden_from(
    app: Any, receiver: Receiver
) -> None:
    alice, bob, dave = app("alice"), app("bob"), app("dave")
    from tests.ca.flow import OTHER_NUMBER

    first = invited(alice, holder_of(alice))
    second = invited(dave, holder_of(dave, OTHER_NUMBER))
    invitee = holder_of(bob, INVITED)

    # Visible to dave only: alice, from whom it is hidden, is told nothing.
    published(bob, invitee, number=INVITED, service=SERVICE, visibility=["dave"])

    assert _accepted(receiver, alice) == []
    [data] = _accepted(receiver, dave)
    assert data["invitation_id"] == second["id"]
    assert Invitation.objects.get(pk=first["id"]).status == InvitationStatus.OPEN
    assert alice.get(f"/v1/invitations/{first['id']}").json()["status"] == "open"

    # Made visible to every provider later: then alice is told.
    published(bob, invitee, number=INVITED, service=SERVICE)
    [data] = _accepted(receiver, alice)
    assert data["invitation_id"] == first["id"]
    assert len(_accepted(receiver, dave)) == 1


def test_a_handler_of_another_service_accepts_nothing(app: Any, receiver: Receiver) -> None:
    alice, bob = app("alice"), app("bob")
    invitation = invited(alice, holder_of(alice), service="voice")
    invitee = holder_of(bob, INVITED)

    published(bob, invitee, number=INVITED, service="messaging")

    assert _accepted(receiver, alice) == []
    assert alice.get(f"/v1/invitations/{invitation['id']}").json()["status"] == "open"
