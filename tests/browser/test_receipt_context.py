"""A marketer reads on a batch receipt what the offers were decided for: the customer's usual
daypart, store and channel on the batch's first valid day, and the window the Admin chose;
not the evening instant the run happened to start at."""

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from recommender.models import Decision
from tests.browser.conftest import log_in, screenshot
from tests.recommender.test_batch_context import _assign, engine  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("engine")
def test_the_receipt_says_the_context_and_window_the_batch_decided_for(
    page: Page, live_server: Any, marketer: Any
) -> None:
    batch = _assign(valid_from=dt.date(2026, 12, 8), valid_days=7)
    receipt = Decision.objects.get(batch=batch, customer_id="BREAKFAST")

    log_in(page, live_server.url, marketer.username)
    page.goto(f"{live_server.url}/receipts/{receipt.pk}/")

    expect(page.locator("#receipt-decided-for")).to_have_text(
        "decided for breakfast at Times Square, drive_thru: the customer's usual daypart"
    )
    expect(page.locator("#receipt-validity")).to_have_text(
        "from 2026-12-08 for 7 days (through 2026-12-14)"
    )
    expect(page.locator("#receipt-local")).to_have_text("2026-12-08 07:45, Tuesday, breakfast")
    expect(page.locator("#receipt-excluded tr[data-offer='dinner-box']")).to_contain_text(
        "it is breakfast at the store"
    )
    expect(page.locator("#receipt-excluded tr[data-offer='breakfast-muffin']")).to_have_count(0)
    screenshot(page, "receipt-context")
