"""What an Admin and an Analyst see and can do, in a real Chromium."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FloatRect, Page, expect

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import Store
from tests.browser.conftest import log_in, screenshot
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_runs_a_system_check_and_watches_it_succeed(
    page: Page, live_server: Any, admin_user: Any, tmp_path: Path
) -> None:
    Store.objects.create(store_id="S1", name="Main St", pricing_tier="value")
    log_in(page, live_server.url, admin_user.username)
    expect(page.locator('[data-count="stores"] .value')).to_have_text("1")
    screenshot(page, "overview")

    with celery_worker(tmp_path / "worker.log"):
        page.click("text=Runs")
        page.click("text=Run a system check")
        expect(page.locator("#run-state")).to_have_text("succeeded", timeout=60_000)

    run = Run.objects.get(kind=RunKind.SYSTEM_CHECK)
    assert run.status == RunStatus.SUCCEEDED
    assert run.started_by == admin_user
    expect(page.locator("#run-progress")).to_have_text("100")
    screenshot(page, "run-detail")


def test_analyst_reads_runs_but_gets_no_button_to_start_one(
    page: Page, live_server: Any, analyst: Any
) -> None:
    run = Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.RUNNING)
    log_in(page, live_server.url, analyst.username)

    page.click("nav >> text=Runs")

    expect(page.locator(f'tr[data-run="{run.pk}"]')).to_contain_text("running")
    expect(page.locator("text=Run a system check")).to_have_count(0)
    page.click(f'tr[data-run="{run.pk}"] a')
    expect(page.locator("#run-state")).to_have_text("running")
    expect(page.locator("text=Cancel run")).to_have_count(0)
    screenshot(page, "run-detail-analyst")


def test_login_page_rejects_a_wrong_password(page: Page, live_server: Any, analyst: Any) -> None:
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", analyst.username)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")

    expect(page.locator(".error")).to_contain_text("didn't match")
    screenshot(page, "login-error")


def test_the_navigation_fits_a_768_pixel_screen_and_the_favicon_loads(
    page: Page, live_server: Any, admin_user: Any
) -> None:
    page.set_viewport_size({"width": 768, "height": 900})
    log_in(page, live_server.url, admin_user.username)

    links = page.locator("header.topbar nav a")
    expect(links).to_have_count(9)
    boxes = [links.nth(i).bounding_box() for i in range(links.count())]
    who = page.locator("header.topbar .who").bounding_box()
    assert who is not None and who["x"] + who["width"] <= 768
    for box in boxes:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768, box
        assert not _overlap(box, who), (box, who)  # no link runs under the user's name
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    screenshot(page, "navigation-768")
    assert page.request.get(f"{live_server.url}/favicon.ico").ok


def _overlap(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )
