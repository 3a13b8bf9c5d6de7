"""Pen-test finding 1 (issue 15): under the Content-Security-Policy the app's own scripts,
charts and htmx still work, and the browser reports no violation on the pages that use
them (plotly charts, the rule editor's inline script, the runs filter)."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.segments.segmentation_data import segmentation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def violations(page: Page) -> list[str]:
    """Every CSP violation the page reports, from now on."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_charts_htmx_and_inline_scripts_run_under_the_policy(
    page: Page, live_server: Any, admin_user: Any
) -> None:
    segmentation_create()
    seen = violations(page)
    log_in(page, live_server.url, admin_user.username)

    page.goto(f"{live_server.url}/segments/movements/")
    expect(page.locator("#sankey-chart .main-svg").first).to_be_visible()
    expect(page.locator("#sankey-chart")).to_have_attribute("data-drawn", "true")
    page.goto(f"{live_server.url}/segments/")
    expect(page.locator("[data-chart] .main-svg").first).to_be_visible()

    page.goto(f"{live_server.url}/runs/")
    page.select_option("select[name=kind]", "import")
    page.wait_for_url("**/runs/?kind=import")

    page.goto(f"{live_server.url}/rules/")
    page.click("#start-draft")
    expect(page.locator("#rules-form")).to_be_visible()
    page.locator('#rules-form button[value^="add:"]').first.click()  # htmx, packed form
    page.locator('#rules-form input[name$="-label"]').first.fill("Changed by the CSP test")
    expect(page.locator('#save-status [data-state="dirty"]')).to_be_visible()

    assert seen == []


def test_an_injected_inline_script_is_blocked(
    page: Page, live_server: Any, admin_user: Any
) -> None:
    seen = violations(page)
    log_in(page, live_server.url, admin_user.username)

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )

    assert page.evaluate("() => window.injected === undefined")
    assert len(seen) == 1 and "script-src" in seen[0]
