"""Every routed URL, generated from the URL conf, is checked for each role.

A view without a declared `access` fails here, so a new URL cannot skip the check.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from deepflame_web.core.access import (
    ADMIN,
    ANALYST,
    EVERYONE_WRITES,
    MARKETER,
    SAFE_METHODS,
    Access,
)

DJANGO_ADMIN_PREFIX = "django-admin/"
SAMPLE_ARGUMENTS = {"int": "999999", "str": "no-such-thing", "slug": "no-such-thing", "path": "x"}


@dataclass(frozen=True)
class Route:
    url: str
    name: str
    callback: Any


def _sample_url(pattern: str) -> str:
    import re

    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return SAMPLE_ARGUMENTS.get(converter, "x")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, pattern)


def _walk(resolvers: list[Any], prefix: str = "") -> list[Route]:
    routes: list[Route] = []
    for entry in resolvers:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if pattern.startswith(DJANGO_ADMIN_PREFIX):
                continue  # Django's own admin guards itself; checked separately below
            routes += _walk(entry.url_patterns, pattern)
        elif isinstance(entry, URLPattern):
            routes.append(Route(_sample_url(pattern), entry.name or pattern, entry.callback))
    return routes


ROUTES = _walk(get_resolver().url_patterns)


def access_of(route: Route) -> Access:
    view_class = getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)
    access = getattr(route.callback, "access", None) or getattr(view_class, "access", None)
    assert isinstance(access, Access), f"{route.url} ({route.name}) declares no access rule"
    return access


def is_api(route: Route) -> bool:
    return route.url.startswith("/api/")


def methods_of(route: Route) -> list[str]:
    view_class = getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)
    if view_class is not None:
        allowed = [m.upper() for m in view_class.http_method_names if hasattr(view_class, m)]
        return [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in allowed]
    return ["GET", "POST"]


def call(client: Client, method: str, url: str) -> Any:
    return getattr(client, method.lower())(url)


def test_the_url_conf_has_routes_to_check() -> None:
    assert len(ROUTES) >= 8
    assert {"home", "login", "run_list", "api_run_list", "api_schema"} <= {r.name for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_route_declares_an_access_rule(route: Route) -> None:
    access_of(route)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_anonymous_is_sent_to_login_or_refused(route: Route, client: Client) -> None:
    access = access_of(route)
    for method in methods_of(route):
        response = call(client, method, route.url)
        if access.public:
            assert response.status_code not in (401, 403), (method, route.url)
        elif is_api(route):
            assert response.status_code in (401, 403), (method, route.url)
        else:
            assert response.status_code == 302, (method, route.url)
            assert response["Location"].startswith("/login/?next="), (method, route.url)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [ANALYST, MARKETER, ADMIN])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_each_role_gets_exactly_what_its_rule_grants(
    route: Route, role: str, roles: None, client: Client
) -> None:
    from tests.factories import UserFactory

    access = access_of(route)
    if access.public:
        return
    client.force_login(UserFactory.create(role=role))
    for method in methods_of(route):
        allowed = role in (access.read if method in SAFE_METHODS else access.write)
        response = call(client, method, route.url)
        if allowed:
            assert response.status_code != 403, (role, method, route.url)
        else:
            assert response.status_code == 403, (role, method, route.url, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_a_user_without_a_role_is_refused(route: Route, roles: None, client: Client) -> None:
    from tests.factories import UserFactory

    if access_of(route).public:
        return
    client.force_login(UserFactory.create())
    for method in methods_of(route):
        assert call(client, method, route.url).status_code == 403, (method, route.url)


# Asking for a recommendation, replaying a receipt or reporting feedback changes nothing a
# marketer owns, so machine clients in any role may; nothing else is open to analysts.
SERVING_ROUTES = {
    "api_recommendations",
    "api_receipt_replay",
    "receipt_replay",
    "api_feedback_events",
    "api_redemptions",
}


def test_analysts_can_write_nowhere_but_the_serving_endpoints() -> None:
    for route in ROUTES:
        if route.name in SERVING_ROUTES:
            assert access_of(route) == EVERYONE_WRITES, route.url
        else:
            assert ANALYST not in access_of(route).write, route.url


@pytest.mark.django_db
def test_django_admin_is_closed_to_anonymous_and_to_non_staff(client: Client, analyst: Any) -> None:
    assert client.get("/django-admin/auth/user/").status_code == 302
    client.force_login(analyst)
    response = client.get("/django-admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/django-admin/login/")


@pytest.mark.django_db
def test_token_authentication_works_for_machine_clients(admin_user: Any, client: Client) -> None:
    from tests.factories import PASSWORD

    token = client.post(
        "/api/v1/auth/token/", {"username": admin_user.username, "password": PASSWORD}
    ).json()["token"]

    response = Client().get("/api/v1/runs/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_forms_require_csrf(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post("/runs/system-check/")

    assert response.status_code == 403
    assert b"CSRF" in response.content
