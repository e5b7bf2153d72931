"""What operators see of webhooks: endpoints (never their secrets), which they deactivate, and
each delivery's history (never the event's body, which names the number)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.ca.flow import NUMBER, holder_of
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("operator", "op@example.net", "pw"))
    return client


@pytest.fixture
def registered(api_client: Any, receiver: Receiver) -> dict[str, Any]:
    response = api_client.post("/v1/webhooks", {"url": receiver.url()}, format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_an_endpoint_is_shown_without_its_secret(operator: Any, registered: Any) -> None:
    endpoint = Endpoint.objects.get()

    for page in ("/admin/webhooks/endpoint/", f"/admin/webhooks/endpoint/{endpoint.pk}/change/"):
        response = operator.get(page)
        assert response.status_code == 200
        content = response.content.decode()
        assert registered["url"] in content
        assert registered["secret"] not in content
        assert endpoint.secret_sealed not in content and "secret_sealed" not in content


def test_the_operator_deactivates_an_endpoint_and_it_is_sent_nothing(
    operator: Any, registered: Any, api_client: Any, receiver: Receiver
) -> None:
    endpoint = Endpoint.objects.get()

    response = operator.post(
        "/admin/webhooks/endpoint/", {"action": "deactivate", "_selected_action": [endpoint.pk]}
    )

    assert response.status_code == 302
    assert Endpoint.objects.get().is_active is False
    assert api_client.get(f"/v1/webhooks/{endpoint.pk}").json()["is_active"] is False
    holder_of(api_client)
    assert receiver.received == [] and not Delivery.objects.exists()

    operator.post(
        "/admin/webhooks/endpoint/", {"action": "activate", "_selected_action": [endpoint.pk]}
    )
    holder_of(api_client, "+33612345679")
    assert len(receiver.received) == 1


def test_deliveries_are_listed_read_only_without_their_body(
    operator: Any, registered: Any, api_client: Any, receiver: Receiver
) -> None:
    holder_of(api_client)
    delivery = Delivery.objects.get()

    listing = operator.get("/admin/webhooks/delivery/")
    page = operator.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        content = response.content.decode()
        assert delivery.event_id in content and "certificate.issued" in content
        assert NUMBER not in content
    assert b'name="_save"' not in page.content  # read only
