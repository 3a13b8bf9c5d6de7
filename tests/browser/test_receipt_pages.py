"""A marketer reads why a customer got each offer: the customer's offers link to decision
receipts whose numbers are the database's, and a replay gives the same decision."""

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from offers.models import Offer, Store
from recommender.models import AssignmentBatch, Decision
from tests.browser.conftest import log_in, screenshot
from tests.recommender.conftest import chain, chain_folder, served  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("served")
def test_the_customer_page_links_each_offer_to_a_receipt_that_replays(
    page: Page, live_server: Any, admin_user: Any, marketer: Any
) -> None:
    at = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)
    call_command("assign_offers", at=at, seed=3, stdout=StringIO())
    batch = AssignmentBatch.objects.get(is_active=True)
    decision = (
        Decision.objects.filter(batch=batch, holdout=False, segment_key__isnull=False)
        .order_by("customer_id")
        .first()
    )
    assert decision is not None
    offers = list(decision.assignments.order_by("id").values_list("offer_id", flat=True))

    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/customers/{decision.customer_id}/")
    row = page.locator(f"#offers tr[data-decision='{decision.pk}']")
    expect(row).to_contain_text(f"batch #{batch.pk}")
    names = dict(Offer.objects.values_list("offer_id", "name"))
    for offer_id in offers:
        expect(row).to_contain_text(f"{names[offer_id]} {offer_id}")  # the name, the id beside
    row.locator("a", has_text="receipt").click()

    expect(page.locator("#receipt-id")).to_have_text(f"#{decision.pk}")
    assert decision.rule_version is not None
    expect(page.locator("#receipt-rules")).to_have_text(f"v{decision.rule_version.number}")
    expect(page.locator("#receipt-model")).to_have_text(
        f"v{decision.model.version}, scored by {decision.model.scorer}"
    )
    expect(page.locator("#receipt-local")).to_contain_text(decision.context["local_time"])
    store = Store.objects.get(store_id=decision.context["store_id"])
    expect(page.locator("#receipt-store")).to_contain_text(f"{store.name} {store.store_id}")
    chosen = page.locator("#receipt-slots .chosen")
    expect(chosen).to_have_count(len(offers))
    for index, offer_id in enumerate(offers):
        expect(chosen.nth(index)).to_have_attribute("data-offer", offer_id)
    first = decision.slots[0]["chosen"][0]
    expect(chosen.first).to_contain_text(f"{names[first['offer_id']]} {first['offer_id']}")
    expect(chosen.first).to_contain_text(f"score {first['score']:.4f}")
    excluded = decision.exclusions.excluded
    expect(page.locator("#receipt-excluded h2")).to_have_text(f"Excluded offers ({len(excluded)})")
    if excluded:
        offer_id, reason = sorted(excluded.items())[0]
        expect(page.locator(f"#receipt-excluded tr[data-offer='{offer_id}']")).to_contain_text(
            reason
        )
    expect(page.locator("#score-chart")).to_have_attribute("data-drawn", "true")
    screenshot(page, "receipt")

    page.click("text=Log out")
    log_in(page, live_server.url, marketer.username)
    page.goto(f"{live_server.url}/receipts/{decision.pk}/")
    page.click("#replay")
    expect(page.locator("#replay-result")).to_have_text(
        "Replayed: the same offers, slots, scores and exclusions."
    )
