"""A marketer reads segments, names one, follows movers to a customer; an Admin starts a run."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from deepflame_web.core.models import Run, RunKind
from segments.models import Segment
from tests.browser.conftest import log_in, screenshot
from tests.segments.segmentation_data import segmentation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart_drawn(page: Page, selector: str) -> None:
    expect(page.locator(f"{selector} .main-svg").first).to_be_visible()
    expect(page.locator(selector)).to_have_attribute("data-drawn", "true")


def test_marketer_reads_segments_renames_one_and_follows_a_mover(
    page: Page, live_server: Any, marketer: Any
) -> None:
    definition = segmentation_create()
    log_in(page, live_server.url, marketer.username)

    page.click("nav >> text=Segments")
    expect(page.locator(".segment-card")).to_have_count(5)
    expect(page.locator('[data-segment="1"] h3')).to_have_text(
        "Frequent breakfast drive-thru, low spend"
    )
    chart_drawn(page, "#sizes-chart")
    chart_drawn(page, "#k-chart")
    expect(page.locator("#k-chart")).to_contain_text("chosen K = 4")
    screenshot(page, "segments")

    page.click('[data-segment="1"] h3 a')
    chart_drawn(page, "#profile-chart")
    expect(page.locator('#feature-table tr[data-feature="visits"]')).to_contain_text(
        "above average"
    )
    page.fill("#rename-form input[name=name]", "Morning commuters")
    page.click("#rename-form button[type=submit]")
    expect(page.locator("#segment-name")).to_have_text("Morning commuters")
    expect(page.locator(".messages")).to_contain_text("Segment #1 renamed")
    assert Segment.objects.get(definition=definition, key=1).name == "Morning commuters"
    screenshot(page, "segment-detail")

    page.click(".crumbs a")
    page.click("text=Movements between periods")
    expect(page.locator("#movement-matrix")).to_be_visible()
    expect(page.locator("#movers tbody tr")).to_have_count(6)
    expect(page.locator('#movers tr[data-customer="C001"]')).to_contain_text("Morning commuters")
    screenshot(page, "movements-small")

    page.click('#movers a:text-is("C001")')
    expect(page.locator("#customer-id")).to_have_text("C001")
    expect(page.locator("#trajectory tbody tr")).to_have_count(4)
    expect(page.locator('#trajectory tr[data-period="2025-03"]')).to_contain_text(
        "Morning commuters"
    )
    expect(page.locator("#attributes")).to_contain_text("kept, never used as a feature")
    screenshot(page, "customer-detail")


def test_analyst_searches_a_customer_and_cannot_rename(
    page: Page, live_server: Any, analyst: Any
) -> None:
    segmentation_create()
    log_in(page, live_server.url, analyst.username)

    page.click("nav >> text=Customers")
    page.fill("input[name=q]", "C04")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#customers tbody tr")).to_have_count(9)
    screenshot(page, "customer-search")
    page.click('a:text-is("C041")')
    expect(page.locator("#trajectory tbody tr")).to_have_count(3)
    page.click('#trajectory tr[data-period="2025-02"] a.segment-tag')

    expect(page.locator("#rename-read-only")).to_be_visible()
    expect(page.locator("#rename-form")).to_have_count(0)


def test_admin_starts_the_first_segmentation_from_the_empty_page(
    page: Page, live_server: Any, admin_user: Any, no_enqueue: list[int]
) -> None:
    log_in(page, live_server.url, admin_user.username)

    page.click("nav >> text=Segments")
    expect(page.locator("#no-segmentation")).to_contain_text("No segmentation yet")
    screenshot(page, "segments-empty")
    page.click("#no-segmentation >> text=Run a segmentation")
    page.fill("input[name=k]", "1")
    page.click("#run-form button[type=submit]")
    expect(page.locator("#k-error")).to_contain_text("greater than or equal to 2")
    screenshot(page, "segmentation-run-form")
    assert not Run.objects.exists()
    page.fill("input[name=k]", "4")
    page.click("#run-form button[type=submit]")

    expect(page.locator("#run-state")).to_have_text("queued")
    run = Run.objects.get(kind=RunKind.SEGMENTATION)
    assert run.parameters["k"] == 4 and run.started_by == admin_user
