"""A month still under way is not "the latest period": after a small extract with orders of
the current month and a retrain, every page lists each period once, marks the current month
as incomplete and opens on the last two complete months (tracker issue 18, finding 1)."""

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from deepflame_web.console.demo import demo_chain_generate
from deepflame_web.core.models import LakeFile
from segments.models import SegmentFlow
from segments.selectors import segmentation_active
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_movement_pages import chart_drawn
from tests.segments.contract_folder import copy_tables, write_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WHOLE = ["2025-01", "2025-02", "2025-03"]


def current_month_extract(folder: Path, today: dt.date) -> Path:
    """The contract's sample extract (orders in January and February 2025) plus three orders
    on the first day of the current month, New York time."""
    tables = copy_tables()
    first = today.replace(day=1)
    for n, (customer, hour) in enumerate([("C1", "06"), ("C1", "07"), ("C2", "08")], start=1):
        tables["orders"].append(
            {
                "order_id": f"NOW{n}",
                "customer_id": customer,
                "store_id": "NY1",
                "ordered_at": f"{first.isoformat()}T{hour}:00:00Z",
                "channel": "kiosk",
                "total": "6.49",
                "gross_margin": "",
            }
        )
        tables["order_lines"].append(
            {"order_id": f"NOW{n}", "item_id": "WHOP", "quantity": "1", "amount": "6.49"}
        )
    return write_folder(folder, tables)


def test_the_current_month_is_marked_incomplete_and_pages_open_on_whole_months(
    page: Page, live_server: Any, marketer: Any, tmp_path: Path
) -> None:
    log_in(page, live_server.url, marketer.username)
    today = timezone.localdate()
    now = f"{today:%Y-%m}"
    chain = tmp_path / "chain"
    demo_chain_generate(out_dir=chain, customers=300, months=3, seed=5, start=dt.date(2025, 1, 1))
    call_command("import_data", str(chain), stdout=StringIO())
    call_command(
        "import_data", str(current_month_extract(tmp_path / "small", today)), stdout=StringIO()
    )
    # Two imports wrote orders of January 2025: the manifest lists that month twice.
    assert LakeFile.objects.filter(table="orders", month="2025-01").count() == 2

    call_command("run_segmentation", "--k", "4", stdout=StringIO())

    definition = segmentation_active()
    assert definition is not None
    assert definition.periods == [*WHOLE, now]
    assert definition.run.result["incomplete_period"] == now

    # Overview: the segments of the last whole month and its moves since the one before.
    page.goto(f"{live_server.url}/")
    expect(page.locator("#guide h3").first).to_have_text("Your segments in 2025-03")
    expect(page.locator("#guide h3").nth(1)).to_have_text("Biggest moves, 2025-02 → 2025-03")
    expect(page.locator("#guide-segments thead")).to_contain_text("Since 2025-02")
    screenshot(page, "overview-incomplete-month")

    # Movements: every period once, the current month marked, whole months by default.
    page.goto(f"{live_server.url}/segments/movements/")
    expect(page.locator("#movements-error")).to_have_count(0)
    labels = [*WHOLE, f"{now} (to date, incomplete)"]
    for side in ("from", "to"):
        options = page.locator(f"#period-picker select[name={side}] option")
        expect(options).to_have_text(labels)
    expect(page.locator("#period-picker select[name=from]")).to_have_value("2025-02")
    expect(page.locator("#period-picker select[name=to]")).to_have_value("2025-03")
    expect(page.locator("#incomplete-period")).to_contain_text(f"{now} (to date, incomplete)")
    chart_drawn(page, "#sankey-chart")
    flows = SegmentFlow.objects.filter(
        definition=definition, period_from="2025-02", period_to="2025-03"
    )
    total = sum(flow.customers for flow in flows)
    assert total > 0
    expect(page.locator("#movement-matrix tfoot td.total").last).to_have_text(str(total))
    screenshot(page, "movements-incomplete-month")

    # The current month can still be picked on purpose.
    page.select_option("#period-picker select[name=from]", "2025-03")
    page.select_option("#period-picker select[name=to]", now)
    page.click("#period-picker button[type=submit]")
    expect(page.locator("h2", has_text=f"From 2025-03 (rows) to {now}")).to_be_visible()
    expect(page.locator("#movements-error")).to_have_count(0)

    # Segment pages name the current month as incomplete.
    page.goto(f"{live_server.url}/segments/")
    expect(page.locator("#definition-periods")).to_have_text(
        f"4 months: 2025-01 to {now} (to date, incomplete)"
    )
    page.locator(".segment-card h3 a").first.click()
    expect(page.locator("#incomplete-period")).to_contain_text(f"{now} (to date, incomplete)")
