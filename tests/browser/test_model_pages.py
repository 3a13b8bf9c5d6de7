"""An Admin reads the encoders and model versions and rolls back to an older version; an
Analyst sees the same page without the buttons."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from recommender.models import RecommenderModel
from tests.browser.conftest import log_in, next_dialog, screenshot
from tests.recommender.registry_data import embedding_space_create, registered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_rolls_back_to_an_older_model_from_the_models_page(
    page: Page, live_server: Any, admin_user: Any, analyst: Any
) -> None:
    embedding_space_create()
    registered(1, active=False)
    registered(2, active=True)
    log_in(page, live_server.url, admin_user.username)

    page.click("nav >> text=Models")
    expect(page.locator("#encoders")).to_contain_text("EfficientNet-Lite0 (ImageNet)")
    expect(page.locator("#model-v2 h2 .badge")).to_have_text("active")
    expect(page.locator("#model-v2 h2")).to_contain_text("v2: serves TxT")
    expect(page.locator("#model-v2 tr.serves")).to_contain_text("TxT")
    expect(page.locator("#model-v1 table.metrics tbody tr").first).to_contain_text("0.275")
    expect(page.locator("#model-v1 table.metrics")).to_contain_text("+10.0%")
    curves = page.locator("#curves-chart-v1")
    expect(curves).to_have_attribute("data-drawn", "true")
    # Training loss, validation loss and validation HR@3 for each of the two neural methods.
    expect(curves.locator("g.trace.scatter")).to_have_count(6)
    expect(curves.locator(".legendtext").first).to_have_text("TxT loss")
    screenshot(page, "models")
    asked = next_dialog(page, accept=False)
    page.click("text=Activate v1")
    expect(page.locator("#model-v2 h2 .badge")).to_have_text("active")  # a "no" changes nothing
    assert asked == [
        "Activate model v1 (TxT)? Batch assignment and the real-time API pick offers with it "
        "from now on."
    ]
    assert RecommenderModel.objects.get(is_active=True).version == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Activate v1")

    expect(page.locator(".messages")).to_contain_text("Model v1 is now active.")
    expect(page.locator("#model-v1 h2 .badge")).to_have_text("active")
    expect(page.locator("#model-v2 h2 .badge")).to_have_count(0)
    assert RecommenderModel.objects.get(is_active=True).version == 1
    page.goto(f"{live_server.url}/audit/?object_type=model")
    entry = page.locator('#audit tr[data-action="model_activate"]')
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(admin_user.username)
    expect(entry).to_contain_text("active: v2 (TxT) → v1 (TxT)")

    page.click("text=Log out")
    log_in(page, live_server.url, analyst.username)
    page.goto(f"{live_server.url}/models/")
    expect(page.locator("#model-v1")).to_be_visible()
    expect(page.locator("button", has_text="Activate")).to_have_count(0)
    expect(page.locator("#train-form")).to_have_count(0)


def test_admin_makes_a_version_serve_another_of_its_methods(
    page: Page, live_server: Any, admin_user: Any
) -> None:
    embedding_space_create()
    registered(1, active=True, scorer="Contextual item-CF")
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/models/")
    expect(page.locator("#baseline-serves-v1")).to_be_visible()
    txt_row = page.locator("#model-v1 table.metrics tbody tr", has_text="TxT")

    page.once("dialog", lambda dialog: dialog.accept())
    txt_row.locator("button", has_text="Serve").click()

    expect(page.locator(".messages")).to_contain_text(
        "Model v1 serves TxT in batch assignment and the real-time API from now on."
    )
    expect(page.locator("#model-v1 h2")).to_contain_text("v1: serves TxT")
    expect(page.locator("#model-v1 tr.serves")).to_contain_text("TxT")
    expect(page.locator("#scorer-chosen-v1")).to_contain_text(
        "An Admin chose TxT to serve. The champion rule chose Contextual item-CF"
    )
    expect(page.locator("#baseline-serves-v1")).to_have_count(0)
    screenshot(page, "models-scorer-chosen")
    assert RecommenderModel.objects.get(version=1).scorer == "TxT"
    page.goto(f"{live_server.url}/audit/?object_type=model")
    entry = page.locator('#audit tr[data-action="model_scorer_choose"]')
    expect(entry).to_contain_text(admin_user.username)
    expect(entry).to_contain_text("scorer: Contextual item-CF → TxT")
