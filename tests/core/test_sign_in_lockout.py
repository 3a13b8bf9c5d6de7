"""Pen-test finding 3 (issue 15): password guessing on /login/ and the token endpoint is
locked out after LOGIN_FAILURE_LIMIT failures, per username and per client address."""

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from deepflame_web.core.models import ApiToken
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    cache.clear()


def login(client: Client, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def token(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return Client().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def test_thirty_wrong_passwords_lock_the_login_page_even_for_the_right_one(
    client: Client, analyst: Any
) -> None:
    for _ in range(30):
        login(client, analyst.username, "wrong-password")

    response = login(client, analyst.username, PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert 'id="login-locked"' in html and "Too many failed sign-ins" in html
    assert "Try again at" in html and "UTC (in 15 minutes)" in html
    assert "_auth_user_id" not in client.session


def test_thirty_wrong_passwords_lock_the_token_endpoint_even_for_the_right_one(
    analyst: Any,
) -> None:
    statuses = [token(analyst.username, "wrong-password").status_code for _ in range(30)]

    response = token(analyst.username, PASSWORD)

    assert statuses[:10] == [400] * 10 and statuses[10:] == [429] * 20
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 901
    assert not ApiToken.objects.exists()


def test_the_lockout_counts_the_page_and_the_api_together_per_username(
    client: Client, analyst: Any
) -> None:
    for n in range(5):
        login(client, analyst.username, "wrong", address=f"10.0.1.{n}")
        token(analyst.username, "wrong", address=f"10.0.2.{n}")

    # from a new address: the username is locked
    assert login(client, analyst.username, PASSWORD, address="10.9.9.9").status_code == 429


def test_one_address_guessing_many_usernames_is_locked_out(client: Client, analyst: Any) -> None:
    for n in range(10):
        login(client, f"someone{n}", "wrong", address="10.0.0.66")

    assert login(client, analyst.username, PASSWORD, address="10.0.0.66").status_code == 429
    assert login(client, analyst.username, PASSWORD, address="10.0.0.67").status_code == 302


def test_nine_failures_then_success_resets_the_count(client: Client, analyst: Any) -> None:
    for _ in range(9):
        login(client, analyst.username, "wrong")
    assert login(client, analyst.username, PASSWORD).status_code == 302
    client.logout()

    for _ in range(9):
        login(client, analyst.username, "wrong")

    assert login(client, analyst.username, PASSWORD).status_code == 302


def test_the_lock_ends_with_the_window(
    client: Client, analyst: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(10):
        token(analyst.username, "wrong")
    assert token(analyst.username, PASSWORD).status_code == 429

    later = timezone.now() + dt.timedelta(minutes=16)
    monkeypatch.setattr("deepflame_web.core.login_guard.timezone.now", lambda: later)

    assert token(analyst.username, PASSWORD).status_code == 200
