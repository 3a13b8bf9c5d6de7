"""Pen-test finding 4 (issue 15): API tokens are stored hashed, expire, die with a password
change and are not shown in Django admin; machine clients have a role of their own."""

import datetime as dt
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from deepflame_web.core.authentication import token_cache_clear
from deepflame_web.core.models import ApiToken
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    cache.clear()
    token_cache_clear()


def issued(user: Any) -> dict[str, Any]:
    response = Client().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def runs(key: str) -> int:
    return Client().get("/api/v1/runs/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def test_only_the_hash_and_a_prefix_are_stored(admin_user: Any) -> None:
    key = issued(admin_user)["token"]

    stored = ApiToken.objects.get()
    assert stored.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8] and len(key) == 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        assert not [v for row in cursor.fetchall() for v in row if v == key]
    assert runs(key) == 200


def test_a_token_expires_after_the_configured_days(admin_user: Any, settings: Any) -> None:
    settings.API_TOKEN_TTL_DAYS = 7
    answer = issued(admin_user)
    stored = ApiToken.objects.get()

    assert stored.expires_at - stored.created_at == pytest.approx(
        dt.timedelta(days=7), abs=dt.timedelta(seconds=5)
    )
    assert dt.datetime.fromisoformat(answer["expires_at"]) == stored.expires_at
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    token_cache_clear()

    response = Client().get("/api/v1/runs/", HTTP_AUTHORIZATION=f"Token {answer['token']}")

    assert response.status_code == 403 and response.json() == {"detail": "Invalid token."}


def test_a_password_change_revokes_the_users_tokens(admin_user: Any, marketer: Any) -> None:
    key = issued(admin_user)["token"]
    other = issued(marketer)["token"]
    assert runs(key) == 200  # now in the process cache too

    admin_user.set_password("another-long-password-77")
    admin_user.save()

    assert runs(key) == 403
    assert list(ApiToken.objects.values_list("user", flat=True)) == [marketer.pk]
    assert runs(other) == 200


def test_saving_a_user_without_a_new_password_keeps_the_tokens(admin_user: Any) -> None:
    key = issued(admin_user)["token"]

    admin_user.first_name = "Ada"
    admin_user.save()
    Client().login(username=admin_user.username, password=PASSWORD)  # saves last_login

    assert runs(key) == 200


def test_django_admin_lists_tokens_by_prefix_and_never_the_secret(admin_user: Any) -> None:
    key = issued(admin_user)["token"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)

    listing = client.get("/django-admin/core/apitoken/")
    detail = client.get(f"/django-admin/core/apitoken/{ApiToken.objects.get().pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert key[:8] in page
        assert key not in page and ApiToken.objects.get().key_sha256 not in page
    assert client.get("/django-admin/authtoken/").status_code == 404


def test_the_migration_hashes_old_clear_text_tokens_and_deletes_them(
    admin_user: Any, settings: Any
) -> None:
    import importlib

    migration = importlib.import_module("deepflame_web.core.migrations.0007_api_tokens")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, "
            "user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [key, timezone.now(), admin_user.pk]
        )
    from django.apps import apps

    migration.tokens_hashed(apps, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    stored = ApiToken.objects.get()
    assert (stored.user_id, stored.prefix) == (admin_user.pk, key[:8])
    assert stored.expires_at > timezone.now() + dt.timedelta(days=29)
    assert runs(key) == 200


def test_a_machine_client_posts_feedback_and_an_analyst_does_not(analyst: Any) -> None:
    machine = UserFactory.create(role="Machine client")
    key = issued(machine)["token"]
    pos = Client(HTTP_AUTHORIZATION=f"Token {key}")
    reader = Client()
    reader.force_login(analyst)

    assert Group.objects.filter(name="Machine client").exists()
    for url in ("/api/v1/events/", "/api/v1/redemptions/", "/api/v1/recommendations/"):
        assert pos.post(url, {}, content_type="application/json").status_code == 400, url
    assert (
        reader.post("/api/v1/recommendations/", {}, content_type="application/json").status_code
        == 400
    )
    for url in ("/api/v1/events/", "/api/v1/redemptions/"):
        assert reader.post(url, {}, content_type="application/json").status_code == 403, url
    assert pos.get("/api/v1/runs/").status_code == 403
