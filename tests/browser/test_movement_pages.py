"""A marketer picks two periods and reads who moved: flows, matrix, movers, segments."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segments.models import SegmentFlow
from tests.browser.conftest import log_in, screenshot
from tests.segments.segmentation_data import DRIFTERS, segment_of, segmentation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart_drawn(page: Page, selector: str) -> None:
    expect(page.locator(f"{selector} .main-svg").first).to_be_visible()
    expect(page.locator(selector)).to_have_attribute("data-drawn", "true")


def test_marketer_compares_two_periods_and_reads_the_movers(
    page: Page, live_server: Any, marketer: Any
) -> None:
    definition = segmentation_create()
    log_in(page, live_server.url, marketer.username)

    page.goto(f"{live_server.url}/segments/movements/")
    page.select_option("#period-picker select[name=from]", "2025-01")
    page.select_option("#period-picker select[name=to]", "2025-04")
    page.click("#period-picker button[type=submit]")

    expect(page.locator("h2", has_text="From 2025-01 (rows) to 2025-04")).to_be_visible()
    chart_drawn(page, "#sankey-chart")
    chart_drawn(page, "#heatmap-chart")
    chart_drawn(page, "#sizes-chart")
    expect(page.locator("#sankey-chart .sankey-node")).to_have_count(10)
    flows = SegmentFlow.objects.filter(
        definition=definition, period_from="2025-01", period_to="2025-04"
    )
    for flow in flows:
        source = flow.from_segment.key if flow.from_segment else "none"
        target = flow.to_segment.key if flow.to_segment else "none"
        expect(
            page.locator(f'#movement-matrix tr[data-from="{source}"] td[data-to="{target}"]')
        ).to_have_text(str(flow.customers))
    expect(page.locator("#movers tbody tr")).to_have_count(len(DRIFTERS))
    for customer in DRIFTERS:
        row = page.locator(f'#movers tr[data-customer="{customer}"]')
        expect(row).to_contain_text(segment_of(definition, customer, "2025-01").name)
        expect(row).to_contain_text(segment_of(definition, customer, "2025-04").name)
    expect(page.locator("#profile-cards .segment-card")).to_have_count(4)
    screenshot(page, "movements")

    with page.expect_download() as download:
        page.click("#movers-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == DRIFTERS
