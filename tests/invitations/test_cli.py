"""``rs invite`` and ``rs invitations`` against the real service (the live server), as an app's
operator runs them; the SMS codes and the invitation come through the locmem backend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.ca.flow import NUMBER
from tests.invitations.flow import INVITED
from tests.resolution.test_cli_commands import Rs, register

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rs(
    capsys: Any,
    monkeypatch: Any,
    live_server: Any,
    settings: Any,
    crl: Any,
    issued_key: Any,
    tmp_path: Any,
) -> Rs:
    settings.RS_PUBLIC_URL = live_server.url
    return Rs(capsys, monkeypatch, live_server.url, issued_key.secret, tmp_path / "app")


def test_invite_then_list(rs: Rs, sms_outbox: list[Any]) -> None:
    assert register(rs, sms_outbox).code == 0

    result = rs("invite", INVITED, "messaging", "--from", NUMBER)

    assert result.code == 0, result.err
    assert f"invited {INVITED} to messaging from {NUMBER}" in result.out
    assert sms_outbox[-1].to == INVITED and NUMBER in sms_outbox[-1].body
    listed = rs("invitations")
    assert listed.code == 0 and "1 invitations:" in listed.out and "open until" in listed.out
    document = json.loads(rs("invitations", "--json").out)
    [invitation] = document["invitations"]
    assert invitation["to"] == INVITED and invitation["sms"] == "sent"
    assert rs("invitations", "--status", "accepted").out.strip() == "no accepted invitations"


def test_a_refused_invitation_exits_3_with_its_problem(rs: Rs, sms_outbox: list[Any]) -> None:
    assert register(rs, sms_outbox).code == 0
    assert rs("invite", INVITED, "messaging", "--from", NUMBER).code == 0

    again = rs("invite", INVITED, "messaging", "--from", NUMBER)

    assert again.code == 3
    assert "429" in again.err and "invitation-rate-limited" in again.err
    unknown = rs("invite", INVITED, "messaging", "--from", "+33612345670")
    assert unknown.code != 0 and unknown.err
