"""What operators see of the outbox: messages and their state, dead letters and why, and a
"retry now"; never a message's payload (a challenge's sealed code)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from ca.choices import DeliveryStatus
from ca.models import Challenge
from ca.sms import SmsPermanentError, locmem
from outbox.choices import MessageState
from outbox.models import Message
from tests.ca.flow import code_sent, pending_challenge

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


def test_dead_letters_are_listed_with_their_reason_never_their_payload(
    operator: Any, provider: Any
) -> None:
    locmem.failures.append(SmsPermanentError("21610", "unsubscribed recipient"))
    challenge = pending_challenge(provider)
    message = Message.objects.get(reference=str(challenge.pk))
    sealed = message.payload["sealed_code"]

    listing = operator.get("/admin/outbox/message/?state__exact=dead")
    page = operator.get(f"/admin/outbox/message/{message.pk}/change/")

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        content = response.content.decode()
        assert str(challenge.pk) in content
        assert "21610: unsubscribed recipient" in content
        assert sealed not in content and "sealed_code" not in content
    assert (
        str(challenge.pk)
        not in operator.get("/admin/outbox/message/?state__exact=sent").content.decode()
    )


def test_retry_now_sends_a_dead_letter(operator: Any, provider: Any, sms_outbox: list[Any]) -> None:
    locmem.failures.append(SmsPermanentError("30007", "carrier filtered"))
    challenge = pending_challenge(provider)
    message = Message.objects.get(reference=str(challenge.pk))
    assert Challenge.objects.get(pk=challenge.pk).delivery_status == DeliveryStatus.FAILED

    response = operator.post(
        "/admin/outbox/message/",
        {"action": "retry_now", "_selected_action": [message.pk]},
    )

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == MessageState.SENT  # sent by the dispatch the retry's commit asked for
    assert code_sent(sms_outbox)
    assert Challenge.objects.get(pk=challenge.pk).delivery_status == DeliveryStatus.ACCEPTED
