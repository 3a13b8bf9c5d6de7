from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import Store
from tests.factories import PASSWORD, customers_insert

pytestmark = pytest.mark.django_db


def test_login_with_the_right_password_lands_on_the_overview(client: Client, analyst: Any) -> None:
    response = client.post(
        "/login/", {"username": analyst.username, "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain == [("/", 302)]
    assert b"Overview" in response.content


def test_login_with_a_wrong_password_says_so(client: Client, analyst: Any) -> None:
    response = client.post("/login/", {"username": analyst.username, "password": "nope"})

    assert response.status_code == 200
    assert b"Your username and password didn't match" in response.content


def test_logout_is_a_post_and_ends_the_session(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    client.post("/logout/")

    assert client.get("/").status_code == 302


def test_overview_shows_what_the_system_holds(client: Client, analyst: Any) -> None:
    Store.objects.create(store_id="S1", name="Main St", pricing_tier="value")
    Store.objects.create(store_id="S2", name="Airport", pricing_tier="premium")
    customers_insert({"C1": {}})
    Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.FAILED)
    client.force_login(analyst)

    html = client.get("/").content.decode()

    assert 'data-count="stores"><span class="value">2</span>' in html
    assert 'data-count="customers"><span class="value">1</span>' in html
    assert 'data-count="offers"><span class="value">0</span>' in html
    assert "No segmentation is active yet" in html
    assert '<span class="status failed">failed</span>' in html


def test_run_page_polls_while_active_and_stops_when_done(client: Client, admin_user: Any) -> None:
    run = Run.objects.create(kind=RunKind.IMPORT, task_name="t", progress=40, stage="validating")
    client.force_login(admin_user)

    active = client.get(f"/runs/{run.pk}/").content.decode()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, progress=100)
    partial = client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 2s"' in active and "validating" in active
    assert 'id="run-progress">40<' in active
    assert "hx-trigger" not in partial and 'id="run-progress">100<' in partial
    assert "<html" not in partial


def test_admin_starting_a_second_system_check_sees_why_it_was_refused(
    client: Client, admin_user: Any, no_enqueue: list[int]
) -> None:
    client.force_login(admin_user)
    client.post("/runs/system-check/")

    response = client.post("/runs/system-check/", follow=True)

    assert "already queued" in response.content.decode()
    assert Run.objects.filter(kind=RunKind.SYSTEM_CHECK).count() == 1


def test_static_assets_are_served_locally(client: Client, analyst: Any) -> None:
    client.force_login(analyst)
    html = client.get("/").content.decode()

    assert '<script src="/static/vendor/htmx-2.0.4/htmx.min.js"' in html
    assert "http://" not in html.split("<body")[0] and "https://" not in html.split("<body")[0]
    assert client.get("/static/vendor/plotly-2.35.2/plotly.min.js").status_code == 200
