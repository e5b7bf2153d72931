"""SMS challenges through the HTTP API: the code, its answer, and every way it can fail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from ca.choices import ChallengeStatus, DeliveryStatus
from ca.models import Challenge
from providers.services import api_key_create
from tests.ca.flow import NUMBER, challenge_started, code_sent
from tests.factories import ProviderFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_a_challenge_sends_a_code_by_sms(
    api_client: Any, sms_outbox: list[Any], provider: Any
) -> None:
    body = challenge_started(api_client)

    assert body["number"] == NUMBER
    assert body["status"] == "pending"
    assert body["attempts_left"] == 5
    assert body["delivery"] == "queued"  # sent once the challenge has committed
    assert len(sms_outbox) == 1
    message = sms_outbox[0]
    assert message.to == NUMBER
    code = code_sent(sms_outbox)
    assert len(code) == 6
    # The text names the service and the provider, and ends with the WebOTP line.
    assert message.body.startswith(f"Resolution Service: {code} is your code")
    assert provider.name in message.body
    assert message.body.endswith(f"\n\n@testserver #{code}")
    # The code is nowhere but in the SMS: not in the response, not in the row.
    assert code not in str(body)
    challenge = Challenge.objects.get(pk=body["id"])
    assert challenge.delivery_status == DeliveryStatus.ACCEPTED
    assert challenge.message_id.startswith("locmem-")
    assert code.encode() not in bytes(challenge.code_hmac)
    assert len(bytes(challenge.code_hmac)) == 32
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)


def test_the_right_code_verifies_the_challenge(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)

    response = api_client.post(
        f"/v1/challenges/{challenge['id']}/verify", {"code": code_sent(sms_outbox)}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "verified"
    assert Challenge.objects.get(pk=challenge["id"]).verified_at is not None


def test_codes_are_random(api_client: Any, sms_outbox: list[Any], settings: Any) -> None:
    settings.RS_CHALLENGE_LIMIT_NUMBER = ""
    settings.RS_CHALLENGE_LIMIT_NUMBER_TOTAL = ""
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = ""
    for _ in range(8):
        challenge_started(api_client)
    codes = {code_sent([message]) for message in sms_outbox}
    assert len(codes) == 8


def test_codes_can_be_longer(api_client: Any, sms_outbox: list[Any], settings: Any) -> None:
    settings.RS_CHALLENGE_CODE_DIGITS = 8
    challenge_started(api_client)
    assert len(code_sent(sms_outbox)) == 8


def _verify(client: Any, challenge_id: Any, code: str) -> Any:
    return client.post(f"/v1/challenges/{challenge_id}/verify", {"code": code}, format="json")


def _wrong(code: str) -> str:
    return str((int(code) + 1) % 10**6).zfill(6)


def test_a_wrong_code_counts_an_attempt(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)

    body = assert_problem(
        _verify(api_client, challenge["id"], _wrong(code_sent(sms_outbox))),
        400,
        "challenge-code-wrong",
    )

    assert body["attempts_left"] == 4
    stored = Challenge.objects.get(pk=challenge["id"])
    assert stored.attempts == 1
    assert stored.status == ChallengeStatus.PENDING


def test_five_wrong_codes_end_the_challenge(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)
    code = code_sent(sms_outbox)
    for left in (4, 3, 2, 1, 0):
        body = assert_problem(
            _verify(api_client, challenge["id"], _wrong(code)), 400, "challenge-code-wrong"
        )
        assert body["attempts_left"] == left

    # Even the right code is refused now.
    assert_problem(_verify(api_client, challenge["id"], code), 409, "challenge-failed")
    assert Challenge.objects.get(pk=challenge["id"]).status == ChallengeStatus.FAILED


def test_an_expired_challenge_cannot_be_answered(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        assert_problem(
            _verify(api_client, challenge["id"], code_sent(sms_outbox)), 410, "challenge-expired"
        )
    assert Challenge.objects.get(pk=challenge["id"]).status == ChallengeStatus.PENDING


def test_a_verified_challenge_is_not_verified_twice(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)
    code = code_sent(sms_outbox)
    assert _verify(api_client, challenge["id"], code).status_code == 200
    assert_problem(_verify(api_client, challenge["id"], code), 409, "challenge-already-verified")


def test_another_providers_challenge_is_refused(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    challenge = challenge_started(api_client)
    other = client_for(api_key_create(provider=ProviderFactory()).secret)

    # Not found, as an unknown challenge is: the answer does not say it exists.
    assert_problem(
        _verify(other, challenge["id"], code_sent(sms_outbox)), 404, "challenge-not-found"
    )
    stored = Challenge.objects.get(pk=challenge["id"])
    assert (stored.status, stored.attempts) == (ChallengeStatus.PENDING, 0)
    assert_problem(other.get(f"/v1/challenges/{challenge['id']}"), 404, "challenge-not-found")


def test_an_unknown_challenge_is_not_found(api_client: Any) -> None:
    assert_problem(_verify(api_client, uuid.uuid4(), "123456"), 404, "challenge-not-found")


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"  # what a phone keyboard may type


@pytest.mark.parametrize("code", ["12345", "12a456", "", FULL_WIDTH_DIGITS, "1" * 11])
def test_a_code_that_is_not_digits_is_refused_without_counting(
    api_client: Any, sms_outbox: list[Any], code: str
) -> None:
    challenge = challenge_started(api_client)
    assert_problem(_verify(api_client, challenge["id"], code), 400, "validation-error")
    assert Challenge.objects.get(pk=challenge["id"]).attempts == 0


def test_a_challenge_can_be_read_back(api_client: Any) -> None:
    challenge = challenge_started(api_client)
    response = api_client.get(f"/v1/challenges/{challenge['id']}")
    assert response.status_code == 200
    assert response.json() == challenge | {"delivery": "accepted"}


# --- Numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "slug"),
    [
        ("0612345678", "number-malformed"),  # national form: which country?
        ("33612345678", "number-malformed"),  # no "+"
        ("+33 6 12 34 56 78 90 12 34 56 78 90 12", "validation-error"),  # over-long input
        ("+" + "9" * 40, "validation-error"),
        ("+abc", "number-malformed"),
        ("+1911", "number-invalid"),  # a short code
        ("+33612", "number-invalid"),
        ("+33123456789", "number-not-mobile"),  # a Paris landline
        ("+18005550199", "number-not-mobile"),  # toll-free
    ],
)
def test_numbers_that_cannot_receive_a_challenge(
    api_client: Any, sms_outbox: list[Any], number: str, slug: str
) -> None:
    assert_problem(api_client.post("/v1/challenges", {"number": number}, format="json"), 400, slug)
    assert not Challenge.objects.exists()
    assert sms_outbox == []


@pytest.mark.parametrize("body", [{}, {"number": 33612345678}, {"number": None}, []])
def test_a_malformed_body_is_refused(api_client: Any, body: Any) -> None:
    response = api_client.post("/v1/challenges", body, format="json")
    assert response.status_code == 400
    assert not Challenge.objects.exists()


def test_numbers_are_normalised(api_client: Any, sms_outbox: list[Any]) -> None:
    body = challenge_started(api_client, " +33 6 12-34-56-78 ")
    assert body["number"] == NUMBER
    assert sms_outbox[0].to == NUMBER


def test_countries_outside_the_allow_list_are_refused(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    assert_problem(
        api_client.post("/v1/challenges", {"number": "+61491570156"}, format="json"),
        403,
        "country-not-allowed",
    )
    settings.RS_CHALLENGE_COUNTRIES = ["AU"]
    assert_problem(
        api_client.post("/v1/challenges", {"number": NUMBER}, format="json"),
        403,
        "country-not-allowed",
    )
    assert not Challenge.objects.exists()
    assert sms_outbox == []
    assert challenge_started(api_client, "+61491570156")["number"] == "+61491570156"


def test_challenges_need_an_api_key(anonymous_client: Any) -> None:
    assert_problem(
        anonymous_client.post("/v1/challenges", {"number": NUMBER}, format="json"),
        401,
        "unauthenticated",
    )


# --- Rate limits --------------------------------------------------------------------------------


def _refused(client: Any, number: str = NUMBER, **extra: Any) -> dict[str, Any]:
    before = Challenge.objects.count()
    response = client.post("/v1/challenges", {"number": number}, format="json", **extra)
    body = assert_problem(response, 429, "challenge-rate-limited")
    assert int(response["Retry-After"]) == body["retry_after"] > 0
    assert Challenge.objects.count() == before
    return body


def test_three_challenges_per_number_per_ten_minutes(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            challenge_started(api_client)
            clock.shift(timedelta(seconds=10))
        body = _refused(api_client)
        assert body["scope"] == "number"
        assert 570 < body["retry_after"] <= 581  # when the first of the three is 10 min old
        assert len(sms_outbox) == 3
        # Another number is not affected.
        challenge_started(api_client, "+33612345679")
        clock.shift(timedelta(seconds=body["retry_after"]))
        challenge_started(api_client)


def test_ten_challenges_per_number_per_day(api_client: Any, settings: Any) -> None:
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = ""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(10):
            challenge_started(api_client)
            clock.shift(timedelta(minutes=11))
        assert _refused(api_client)["scope"] == "number"
        clock.move_to(start + timedelta(days=1, seconds=1))
        challenge_started(api_client)


def test_challenges_per_provider(api_client: Any, client_for: Any, settings: Any) -> None:
    settings.RS_CHALLENGE_LIMIT_PROVIDER = "2/1h"
    challenge_started(api_client, "+33612345601")
    challenge_started(api_client, "+33612345602")
    assert _refused(api_client, "+33612345603")["scope"] == "provider"
    other = client_for(api_key_create(provider=ProviderFactory()).secret)
    challenge_started(other, "+33612345603")


def test_challenges_per_client_ip(
    api_client: Any, client_for: Any, issued_key: Any, settings: Any
) -> None:
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = "2/1h"
    for index in range(2):
        response = api_client.post(
            "/v1/challenges",
            {"number": f"+3361234560{index}"},
            format="json",
            REMOTE_ADDR="192.0.2.7",
        )
        assert response.status_code == 201
    # Another provider's key does not help from the same address.
    other = client_for(api_key_create(provider=ProviderFactory()).secret)
    assert _refused(other, "+33612345609", REMOTE_ADDR="192.0.2.7")["scope"] == "client_ip"
    response = other.post(
        "/v1/challenges", {"number": "+33612345609"}, format="json", REMOTE_ADDR="192.0.2.8"
    )
    assert response.status_code == 201


def test_an_ipv6_client_is_its_slash_64(api_client: Any, settings: Any) -> None:
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = "2/1h"
    for index, address in enumerate(["2001:db8:1:2::7", "2001:db8:1:2:ffff::8"]):
        challenge_started_from(api_client, f"+3361234560{index}", REMOTE_ADDR=address)
    # A third address of the same /64 is the same client; the next /64 is another one.
    body = _refused(api_client, "+33612345609", REMOTE_ADDR="2001:db8:1:2:abcd::1")
    assert body["scope"] == "client_ip"
    challenge_started_from(api_client, "+33612345609", REMOTE_ADDR="2001:db8:1:3::1")
    assert Challenge.objects.get(number="+33612345609").client_ip == "2001:db8:1:3::1"


@pytest.mark.parametrize(
    ("forwarded", "recorded"),
    [
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("garbage", "10.0.0.2"),  # not an address: the proxy's own counts
        ("", "10.0.0.2"),
    ],
)
def test_a_forwarded_address_with_a_port_or_none_starts_a_challenge(
    api_client: Any, settings: Any, forwarded: str, recorded: str
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    challenge = challenge_started_from(
        api_client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert Challenge.objects.get(pk=challenge["id"]).client_ip == recorded


def test_one_provider_at_its_limit_for_a_number_does_not_block_another(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    for _ in range(3):  # 3 per 10 minutes: this provider's maximum for the number
        challenge_started(api_client)
    assert _refused(api_client)["scope"] == "number"
    other = client_for(api_key_create(provider=ProviderFactory()).secret)
    challenge_started(other)
    assert len(sms_outbox) == 4


def test_all_providers_together_are_capped_but_never_refused_a_first_challenge(
    api_client: Any, client_for: Any, settings: Any, sms_outbox: list[Any]
) -> None:
    settings.RS_CHALLENGE_LIMIT_NUMBER_TOTAL = "4/1h"
    second, third = (
        client_for(api_key_create(provider=ProviderFactory()).secret) for _ in range(2)
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            challenge_started(api_client)
        challenge_started(second)  # the fourth of the hour, all providers together
        body = _refused(second)
        assert body["scope"] == "number_total"
        assert 3590 < body["retry_after"] <= 3601
        # A provider that has sent nothing to the number in the hour still gets its first.
        challenge_started(third)
        # The first provider's own limit (3 per 10 minutes) has room again, the total has not.
        clock.shift(timedelta(minutes=11))
        assert _refused(api_client)["scope"] == "number_total"
        assert _refused(third)["scope"] == "number_total"
        # The hour over, the number can be challenged again.
        clock.shift(timedelta(minutes=50))
        challenge_started(second)
    # At most the total plus one first challenge per provider: 4 + 1 in the first hour.
    assert len(sms_outbox) == 6


def test_challenges_per_country_calling_code(api_client: Any, settings: Any) -> None:
    settings.RS_CHALLENGE_LIMIT_COUNTRY = "2/1h"
    settings.RS_CHALLENGE_LIMIT_CLIENT_IP = ""
    challenge_started(api_client, "+33612345601")
    challenge_started(api_client, "+33612345602")
    assert _refused(api_client, "+33612345603")["scope"] == "country"
    challenge_started(api_client, "+4915112345678")  # Germany still gets its SMS


def challenge_started_from(client: Any, number: str = NUMBER, **extra: Any) -> dict[str, Any]:
    """``challenge_started`` with request META (REMOTE_ADDR, X-Forwarded-For)."""
    response = client.post("/v1/challenges", {"number": number}, format="json", **extra)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_limits_are_configurable_and_checked(settings: Any) -> None:
    from ca.limits import limits_parse

    assert [str(limit) for limit in limits_parse("3/10m, 10/1d")] == [
        "3 per 600 s",
        "10 per 86400 s",
    ]
    assert limits_parse("") == []
    with pytest.raises(ValueError, match="not a limit"):
        limits_parse("3 per minute")


def test_sms_failures_are_recorded_on_the_challenge(api_client: Any, sms_outbox: list[Any]) -> None:
    from ca.sms import SmsPermanentError, locmem

    locmem.failures.append(SmsPermanentError("21211", "invalid 'To' number"))
    body = challenge_started(api_client)
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.FAILED
    assert "21211" in stored.delivery_error
    assert sms_outbox == []
    # The challenge's client sees it, and why.
    answer = api_client.get(f"/v1/challenges/{body['id']}").json()
    assert answer["delivery"] == "failed"
    assert answer["delivery_error"] == "21211: invalid 'To' number"


def test_temporary_sms_failures_are_retried(api_client: Any, sms_outbox: list[Any]) -> None:
    from ca.sms import SmsTemporaryError, locmem
    from outbox.services import outbox_dispatch

    locmem.failures.extend([SmsTemporaryError("503", "down"), SmsTemporaryError("timeout", "t")])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        body = challenge_started(api_client)  # the first attempt, after the commit
        answer = api_client.get(f"/v1/challenges/{body['id']}").json()
        assert answer["delivery"] == "retrying" and answer["delivery_error"] == "503: down"
        # The next attempts: RS_SMS_RETRY_BACKOFF_SECONDS (2 s), then twice that, at most.
        for wait in (2, 4):
            clock.shift(timedelta(seconds=wait))
            outbox_dispatch()
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.ACCEPTED
    assert stored.delivery_attempts == 3
    assert stored.delivery_error == ""
    assert len(sms_outbox) == 1


def test_a_provider_outage_ends_in_a_recorded_failure(
    api_client: Any, sms_outbox: list[Any], settings: Any
) -> None:
    from ca.sms import SmsTemporaryError, locmem
    from outbox.services import outbox_dispatch

    settings.RS_SMS_MAX_RETRIES = 2
    locmem.failures.extend([SmsTemporaryError("503", "down")] * 3)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        body = challenge_started(api_client)
        for wait in (2, 4):
            clock.shift(timedelta(seconds=wait))
            outbox_dispatch()
    stored = Challenge.objects.get(pk=body["id"])
    assert stored.delivery_status == DeliveryStatus.FAILED
    assert stored.delivery_error == "gave up after 3 attempts: 503: down"
    assert locmem.failures == []
    assert sms_outbox == []


def test_an_sms_not_sent_before_the_challenge_expires_ends_as_failed(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    """The SMS provider is down for longer than the challenge lives: the challenge ends as
    failed, with the reason, rather than "retrying" for ever."""
    from ca.sms import SmsTemporaryError, locmem
    from outbox.services import outbox_dispatch

    locmem.failures.extend([SmsTemporaryError("503", "down")] * 100)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        body = challenge_started(api_client)
        for _ in range(4):  # the retries that fit before it expires
            clock.shift(timedelta(minutes=2))
            outbox_dispatch()
        clock.shift(timedelta(minutes=2))
        outbox_dispatch()
        answer = api_client.get(f"/v1/challenges/{body['id']}").json()
    assert answer["delivery"] == "failed"
    assert answer["delivery_error"] == "expired before it could be sent (last error: 503: down)"
    assert sms_outbox == []


def test_an_sms_whose_kick_was_lost_is_sent_by_beats_dispatch(
    provider: Any, sms_outbox: list[Any]
) -> None:
    """The commit's kick never reached a worker (a broker down): the outbox's row is still
    there, and the next dispatch sends it."""
    from ca.services.challenges import challenge_start
    from outbox.services import outbox_dispatch
    from tests.ca.flow import CLIENT_IP

    # Outside ``committed()``: the test's transaction never commits, so no kick runs.
    challenge = challenge_start(provider=provider, number=NUMBER, client_ip=CLIENT_IP)
    assert sms_outbox == []
    assert Challenge.objects.get(pk=challenge.pk).delivery_status == DeliveryStatus.QUEUED

    assert outbox_dispatch()["sent"] == 1
    assert [message.reference for message in sms_outbox] == [str(challenge.pk)]
    assert Challenge.objects.get(pk=challenge.pk).delivery_status == DeliveryStatus.ACCEPTED


# Real commits: each request runs on its own database connection, in its own thread.
@pytest.mark.django_db(transaction=True)
def test_limits_hold_when_requests_race(issued_key: Any, sms_outbox: list[Any]) -> None:
    """Eight requests at once, each on its own database connection, for one number: the
    per-number limit (3 per 10 minutes) lets exactly three through."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connections

    from tests.api_client import ApiClient

    barrier = Barrier(8)

    def start(_: int) -> int:
        client = ApiClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
        try:
            barrier.wait()
            return int(client.post("/v1/challenges", {"number": NUMBER}, format="json").status_code)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(start, range(8)))

    assert statuses == [201] * 3 + [429] * 5
    assert Challenge.objects.filter(number=NUMBER).count() == 3
    assert len(sms_outbox) == 3


def test_codes_and_numbers_never_reach_the_logs(
    api_client: Any, sms_outbox: list[Any], json_logs: Callable[[], str]
) -> None:
    import json

    challenge = challenge_started(api_client)
    code = code_sent(sms_outbox)
    _verify(api_client, challenge["id"], _wrong(code))
    _verify(api_client, challenge["id"], code)
    logged = json_logs()

    events = [json.loads(line)["event"] for line in logged.splitlines()]
    assert {"challenge started", "challenge sms sent", "challenge verified"} <= set(events)
    assert code not in logged
    assert NUMBER[3:] not in logged


# --- Cancelling ----------------------------------------------------------------------------


def cancel(client: Any, challenge_id: Any) -> Any:
    return client.post(f"/v1/challenges/{challenge_id}/cancel")


def test_a_cancelled_challenge_refuses_its_code(api_client: Any, sms_outbox: list[Any]) -> None:
    challenge = challenge_started(api_client)

    cancelled = cancel(api_client, challenge["id"])

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    answer = api_client.post(
        f"/v1/challenges/{challenge['id']}/verify", {"code": code_sent(sms_outbox)}, format="json"
    )
    assert_problem(answer, 409, "challenge-cancelled")
    assert Challenge.objects.get(pk=challenge["id"]).attempts == 0
    # Again: nothing more to do, the same answer; the challenge stays, cancelled.
    again = cancel(api_client, challenge["id"])
    assert again.status_code == 200 and again.json() == cancelled.json()
    shown = api_client.get(f"/v1/challenges/{challenge['id']}")
    assert shown.json() == cancelled.json()


def test_a_cancelled_verified_challenge_gives_no_certificate(
    api_client: Any, sms_outbox: list[Any]
) -> None:
    from tests.ca.flow import challenge_verified, csr_pem

    challenge_id = challenge_verified(api_client, sms_outbox)
    assert cancel(api_client, challenge_id).status_code == 200

    refused = api_client.post(
        "/v1/certificates", {"challenge": challenge_id, "csr": csr_pem()}, format="json"
    )

    assert_problem(refused, 409, "challenge-cancelled")


def test_a_challenge_cancelled_before_its_sms_left_sends_none(
    provider: Any, api_client: Any, sms_outbox: list[Any]
) -> None:
    from ca.services.challenges import challenge_start
    from outbox.services import outbox_dispatch
    from tests.ca.flow import CLIENT_IP

    # Outside ``committed()``: no kick, the SMS waits in the outbox.
    challenge = challenge_start(provider=provider, number=NUMBER, client_ip=CLIENT_IP)
    assert cancel(api_client, challenge.pk).status_code == 200

    outbox_dispatch()

    assert sms_outbox == []
    assert Challenge.objects.get(pk=challenge.pk).delivery_status == DeliveryStatus.FAILED


def test_a_used_or_unknown_challenge_is_not_cancelled(
    api_client: Any, client_for: Any, sms_outbox: list[Any]
) -> None:
    from tests.ca.flow import certificate_obtained

    holder = certificate_obtained(api_client, sms_outbox)
    used = Challenge.objects.get(status=ChallengeStatus.USED)
    assert_problem(cancel(api_client, used.pk), 409, "challenge-used")
    other = client_for(api_key_create(provider=ProviderFactory(), label="other").secret)
    assert_problem(cancel(other, used.pk), 404, "challenge-not-found")
    assert_problem(cancel(api_client, uuid.uuid4()), 404, "challenge-not-found")
    # No DELETE: cancelling is an action, and the challenge stays to be read.
    assert_problem(api_client.delete(f"/v1/challenges/{used.pk}"), 405, "method-not-allowed")
    assert Challenge.objects.get(pk=used.pk).status == ChallengeStatus.USED
    assert holder.serial
