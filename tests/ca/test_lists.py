"""The caller's lists: certificates, challenges and its own handlers of a number, filtered, a
page at a time by cursor (core.pagination), with no row shown twice or skipped while rows are
added."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ca.choices import ChallengeStatus
from ca.models import Challenge
from tests.ca.flow import CLIENT_IP, NUMBER, OTHER_NUMBER, certificate_issued
from tests.directory.flow import handler_published
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _challenges(provider: Any, count: int, number: str = NUMBER) -> set[str]:
    """``count`` challenges in one statement (so one ``created_at``: the id breaks the ties)."""
    now = timezone.now()
    rows = Challenge.objects.bulk_create(
        Challenge(
            id=uuid.uuid4(),
            provider=provider,
            number=number,
            region="FR",
            calling_code=33,
            client_ip=CLIENT_IP,
            code_hmac=b"\0" * 32,
            expires_at=now + timedelta(minutes=10),
        )
        for _ in range(count)
    )
    return {str(row.id) for row in rows}


def _walk(client: Any, url: str, *, between: Any = None) -> list[dict[str, Any]]:
    """Every row of a list, page after page, following ``next`` (and checking Link)."""
    rows: list[dict[str, Any]] = []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        rows += body["results"]
        if body["next"]:
            assert answer["Link"] == f'<{body["next"]}>; rel="next"'
            url = body["next"].removeprefix("http://testserver")
        else:
            assert not answer.has_header("Link")
            url = ""
        if between is not None:
            between()
    return rows


def test_paging_through_thousands_of_challenges_while_more_are_added(
    api_client: Any, provider: Any
) -> None:
    before = _challenges(provider, 2500)
    added: set[str] = set()

    rows = _walk(
        api_client,
        "/v1/challenges?limit=200",
        between=lambda: added.update(_challenges(provider, 7)),
    )

    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))  # none twice
    assert before <= set(ids)  # none of those there at the start skipped
    assert set(ids) - before <= added  # anything else is new
    created = [Challenge.objects.get(pk=i).created_at for i in ids[:: len(ids) // 10]]
    assert created == sorted(created, reverse=True)  # newest first


def test_challenges_are_filtered_and_each_providers_own(
    api_client: Any, provider: Any, client_for: Any
) -> None:
    mine = _challenges(provider, 3)
    elsewhere = _challenges(provider, 2, OTHER_NUMBER)
    _challenges(ProviderFactory(), 4)  # another provider's
    Challenge.objects.filter(pk=next(iter(mine))).update(status=ChallengeStatus.CANCELLED)

    listed = api_client.get("/v1/challenges").json()
    by_number = api_client.get("/v1/challenges", {"number": NUMBER})
    cancelled = api_client.get("/v1/challenges?status=cancelled").json()["results"]

    assert {row["id"] for row in listed["results"]} == mine | elsewhere
    assert listed["next"] is None
    assert {row["id"] for row in by_number.json()["results"]} == mine
    assert [row["id"] for row in cancelled] == [next(iter(mine))]


def test_certificates_are_listed_with_their_state(api_client: Any, provider: Any) -> None:
    first = certificate_issued(provider)
    second = certificate_issued(provider, OTHER_NUMBER)
    certificate_issued(ProviderFactory())  # another provider's

    listed = api_client.get("/v1/certificates").json()["results"]
    for_number = api_client.get(f"/v1/certificates?number={OTHER_NUMBER}").json()["results"]
    expired = api_client.get("/v1/certificates?status=expired").json()["results"]

    assert [row["serial"] for row in listed] == [second.serial, first.serial]
    assert listed[0]["status"] == "valid" and listed[0]["x5u"].startswith("http")
    assert [row["serial"] for row in for_number] == [second.serial]
    assert expired == []


def test_a_providers_own_handlers_of_a_number(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    handler_published(provider, holder, service="voice", uri="tel:+33612345678")
    handler_published(provider, holder, service="messaging", uri="sip:a@chat.example")
    other = ProviderFactory()
    handler_published(other, certificate_issued(other), service="video", uri="sips:b@v.example")

    page = api_client.get(f"/v1/numbers/{NUMBER}/handlers?limit=1").json()
    rows = _walk(api_client, f"/v1/numbers/{NUMBER}/handlers?limit=1")

    assert page["next"] is not None
    assert [(row["service"], row["uri"]) for row in rows] == [
        ("messaging", "sip:a@chat.example"),
        ("voice", "tel:+33612345678"),
    ]
    assert rows[0]["certificate"] == holder.serial and rows[0]["provider"] == provider.slug


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("cursor=nope", "cursor-invalid"),
        ("cursor=WyJ4Il0", "cursor-invalid"),  # a list of one value: this list's key has two
        ("cursor=WyJ4IiwieSJd", "cursor-invalid"),  # two values that are no date and id
        ("limit=0", "validation-error"),
        ("limit=201", "validation-error"),
        ("status=lost", "validation-error"),
        ("number=12", "validation-error"),
    ],
)
def test_a_bad_query_is_a_problem(api_client: Any, query: str, slug: str) -> None:
    assert_problem(api_client.get(f"/v1/challenges?{query}"), 400, slug)
