"""The operator's login (the admin's) has an attempt limit: django-axes, per user and address.

Each test logs in through the admin's own login form, as an operator or a guesser would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
# The default limit (RS_ADMIN_LOGIN_FAILURE_LIMIT): this many wrong passwords lock the pair out.
FAILURES = 5
OPERATOR = "203.0.113.10"
GUESSER = "198.51.100.66"


@pytest.fixture
def operator(db: Any) -> User:
    return User.objects.create_superuser("operator", "op@example.net", PASSWORD)


def _login(client: Client, password: str, address: str, **headers: Any) -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "operator", "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def _logged_in(response: Any) -> bool:
    return bool(response.status_code == 302 and response["Location"] == "/admin/")


def _guessed(client: Client, address: str, **headers: str) -> None:
    for _ in range(FAILURES - 1):
        response = _login(client, "wrong", address, **headers)
        assert response.status_code == 200 and b"Please enter the correct" in response.content
    assert _login(client, "wrong", address, **headers).status_code == 429  # the last allowed


def test_after_wrong_passwords_the_right_one_is_refused(operator: User) -> None:
    client = Client()
    _guessed(client, GUESSER)
    response = _login(client, PASSWORD, GUESSER)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert b"Too many" in response.content and PASSWORD.encode() not in response.content
    assert "_auth_user_id" not in client.session


def test_a_guesser_does_not_lock_the_operator_out_from_elsewhere(operator: User) -> None:
    _guessed(Client(), GUESSER)
    assert _logged_in(_login(Client(), PASSWORD, OPERATOR))


def test_the_address_is_the_one_the_api_sees_behind_trusted_proxies(
    operator: User, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"
    _guessed(Client(), proxy, HTTP_X_FORWARDED_FOR=GUESSER)
    # The same proxy, another client: not locked out. The guesser still is.
    assert _logged_in(_login(Client(), PASSWORD, proxy, HTTP_X_FORWARDED_FOR=OPERATOR))
    assert _login(Client(), PASSWORD, proxy, HTTP_X_FORWARDED_FOR=GUESSER).status_code == 429


def test_the_lockout_ends_after_the_cool_off(operator: User) -> None:
    _guessed(Client(), GUESSER)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _logged_in(_login(Client(), PASSWORD, GUESSER))


def test_an_operator_unlocks_with_axes_reset(operator: User) -> None:
    _guessed(Client(), OPERATOR)
    assert _login(Client(), PASSWORD, OPERATOR).status_code == 429
    call_command("axes_reset_username", "operator")
    assert _logged_in(_login(Client(), PASSWORD, OPERATOR))


def test_an_ipv6_client_is_its_64_as_for_the_throttles(operator: User) -> None:
    _guessed(Client(), "2001:db8:1:2::1")
    # Another address of the same /64 is the same client; the next /64 is another.
    assert _login(Client(), PASSWORD, "2001:db8:1:2:ffff::9").status_code == 429
    assert _logged_in(_login(Client(), PASSWORD, "2001:db8:1:3::1"))
