"""A marketer finds an offer, edits it with live validation, and reads stores and dayparts."""

import datetime as dt
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from offers import services
from offers.models import Offer
from tests.browser.conftest import click_and_load, log_in, screenshot
from tests.catalog.catalog_data import TODAY, catalog_create, offer_create, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLORS = ["#d35400", "#c0392b", "#2e86c1", "#8e44ad", "#28b463", "#b7950b"]
MORE = [
    ("OF-500", "Free Hash Brown Bites", "breakfast", ["breakfast"], ["mobile_app"]),
    ("OF-510", "$1 Coffee Mornings", "hot_drinks", ["05:00-10:30"], []),
    ("OF-520", "Family Bucket Friday", "chicken", ["dinner"], ["delivery"]),
    ("OF-530", "Kiosk Combo Saver", "burgers", [], ["kiosk"]),
]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("offers.selectors.today", lambda: TODAY)


def catalog_with_images() -> dict[str, Offer]:
    offers = catalog_create()
    for offer_id, name, category, dayparts, channels in MORE:
        offers[offer_id] = offer_create(
            offer_id=offer_id,
            name=name,
            description=f"{name}: a demo offer for the catalog pages.",
            category=category,
            dayparts=dayparts,
            channels=channels,
            valid_from=dt.date(2026, 2, 1),
            valid_to=dt.date(2026, 4, 30),
        )
    for n, offer in enumerate(offers.values()):
        if offer.offer_id == "OF-400":
            continue  # one offer without an image shows the placeholder
        image = SimpleUploadedFile("offer.png", png_bytes(COLORS[n % len(COLORS)], offer.name))
        services.offer_update(offer=offer, fields={}, image=image)
    return offers


def test_marketer_searches_opens_and_edits_an_offer_with_live_validation(
    page: Page, live_server: Any, marketer: Any
) -> None:
    catalog_with_images()
    log_in(page, live_server.url, marketer.username)

    page.click("nav >> text=Offers")
    expect(page.locator("#offers tbody tr")).to_have_count(8)
    expect(page.locator('tr[data-offer="OF-200"] img.thumb')).to_have_js_property("complete", True)
    screenshot(page, "offers")

    page.select_option("select[name=daypart]", "late_night")
    expect(page.locator("#result-count")).to_have_text("3 offers.")
    page.fill("input[name=q]", "burger")
    expect(page.locator("#result-count")).to_have_text("1 offer matching “burger”.")
    expect(page).to_have_url(re.compile(r"/offers/\?q=burger&.*daypart=late_night"))
    page.click('tr[data-offer="OF-200"] a.offer-name')

    expect(page.locator("#offer-name")).to_have_text("Midnight Burger Deal")
    expect(page.locator("#reach-dayparts")).to_contain_text("23:00–01:30 store local time")
    expect(page.locator("#reach-dayparts")).to_contain_text("crosses midnight")
    expect(page.locator("#reach-tiers")).to_contain_text("premium (3 stores)")
    click_and_load(page, "#edit-offer")

    page.fill("input[name=name]", "Night Owl Burger Deal")
    page.fill("input[name=dayparts]", "late_night, brunch")
    expect(page.locator("#errors-dayparts")).to_contain_text("unknown daypart 'brunch'")
    page.fill("input[name=valid_to]", "2025-12-31")
    expect(page.locator("#errors-valid_to")).to_contain_text(
        "valid to (2025-12-31) is before valid from (2026-01-01)"
    )
    expect(page.locator("#form-status")).to_contain_text("To fix: Dayparts, Valid to.")
    expect(page.locator("input[name=name]")).to_have_value("Night Owl Burger Deal")
    screenshot(page, "offer-edit")

    page.fill("input[name=dayparts]", "late_night")
    page.fill("input[name=valid_to]", "2026-12-31")
    expect(page.locator("#form-status")).to_contain_text("No problems so far")
    expect(page.locator("#errors-dayparts")).to_be_empty()
    page.click("#save-offer")

    expect(page.locator(".messages")).to_contain_text("Offer OF-200 saved.")
    expect(page.locator("#offer-name")).to_have_text("Night Owl Burger Deal")
    expect(page.locator("#reach-dates")).to_contain_text("From 1 Jan 2026 to 31 Dec 2026")
    expect(page.locator(".image-card img")).to_have_js_property("complete", True)
    screenshot(page, "offer-detail")
    offer = Offer.objects.get(offer_id="OF-200")
    assert offer.name == "Night Owl Burger Deal"
    assert offer.dayparts == ["late_night"] and offer.valid_to == dt.date(2026, 12, 31)


def test_marketer_creates_an_offer_and_a_bad_image_is_refused_live(
    page: Page, live_server: Any, marketer: Any, tmp_path: Any
) -> None:
    catalog_create()
    fake = tmp_path / "menu.png"
    fake.write_bytes(b"this is not a picture")
    good = tmp_path / "tacos.png"
    good.write_bytes(png_bytes("#17a589", "Taco Tuesday"))
    log_in(page, live_server.url, marketer.username)

    page.goto(f"{live_server.url}/offers/")
    page.click("#new-offer")
    # Typing before htmx has loaded would send no live check (a race the CI once lost).
    page.wait_for_url(f"{live_server.url}/offers/new/")
    page.wait_for_function("() => window.htmx !== undefined")
    page.fill("input[name=offer_id]", "OF-100")
    expect(page.locator("#errors-offer_id")).to_contain_text("is taken by")
    page.fill("input[name=offer_id]", "OF-900")
    page.fill("input[name=name]", "Taco Tuesday")
    page.fill("textarea[name=description]", "Two tacos for $3 every Tuesday.")
    page.fill("input[name=pricing_tiers]", "value, gold")
    tier_errors = page.locator("#errors-pricing_tiers")
    expect(tier_errors).to_contain_text("no store has pricing tier 'gold'")
    page.fill("input[name=pricing_tiers]", "value")
    page.set_input_files("input[name=image]", str(fake))
    expect(page.locator("#errors-image")).to_contain_text("menu.png is not an image")
    expect(tier_errors).to_be_empty()
    page.set_input_files("input[name=image]", str(good))
    expect(page.locator("#errors-image")).to_be_empty()
    page.route("**/offers/new/", lambda route: route.fulfill(status=500, body="boom"))
    page.click("#save-offer")
    expect(page.locator("#form-status")).to_have_text(
        "Not saved: the server answered 500. Your input is still here."
    )
    expect(page.locator("input[name=name]")).to_have_value("Taco Tuesday")
    assert not Offer.objects.filter(offer_id="OF-900").exists()
    page.unroute("**/offers/new/")
    page.click("#save-offer")

    expect(page.locator(".messages")).to_contain_text("Offer OF-900 created.")
    expect(page.locator(".image-card img")).to_have_js_property("complete", True)
    offer = Offer.objects.get(offer_id="OF-900")
    assert offer.pricing_tiers == ["value"] and offer.image.endswith(".png")


def test_stores_and_dayparts_pages(page: Page, live_server: Any, analyst: Any) -> None:
    catalog_with_images()
    log_in(page, live_server.url, analyst.username)

    page.goto(f"{live_server.url}/offers/")
    expect(page.locator("#new-offer")).to_have_count(0)
    page.click(".tabs >> text=Stores")
    expect(page.locator(".card.tier")).to_have_count(3)
    expect(page.locator('[data-tier="premium"] .zones li')).to_have_count(2)
    screenshot(page, "stores")

    page.click(".tabs >> text=Dayparts")
    expect(page.locator('tr[data-daypart="late_night"]')).to_contain_text("crosses midnight")
    screenshot(page, "dayparts")
