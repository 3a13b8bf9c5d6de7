"""A marketer edits, previews (in a real Celery worker), publishes, compares and rolls back the
offer rules; two marketers collide on one draft; an Analyst reads everything and writes nothing.
"""

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import Offer, RuleSet, RuleVersion, Store
from offers.rules.services import (
    rule_set_draft_create,
    rule_set_draft_update,
    rule_set_publish,
    rule_version_rollback,
)
from tests.browser.conftest import SCREENSHOTS, click_and_load, log_in, next_dialog, screenshot
from tests.factories import UserFactory, customers_insert
from tests.offers.factories import lake_events_write, members_write
from tests.segments.segmentation_data import segmentation_create
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFERS = [
    # offer id, name, category, tiers, dayparts, tags, valid to
    ("OF-101", "$3 Croissant Meal", "breakfast", [], ["breakfast"], [], None),
    ("OF-102", "Hash Brown Bites", "breakfast", [], ["breakfast"], ["high_margin"], None),
    ("OF-201", "Double Burger Deal", "burgers", [], ["lunch", "dinner"], [], None),
    ("OF-202", "Midnight Burger", "burgers", [], ["22:00-02:00"], ["win_back"], None),
    ("OF-301", "Large Fries Upgrade", "sides", [], [], [], None),
    ("OF-401", "Summer Shake", "desserts", [], [], [], dt.date(2026, 8, 31)),
    ("OF-402", "Apple Pie for $1", "desserts", ["premium"], [], ["high_margin"], None),
    ("OF-501", "Coffee for $1", "hot_drinks", [], ["breakfast"], ["win_back"], None),
]
RULES = {
    "segments": [
        {
            "segment_key": 1,
            "slots": [
                {
                    "label": "Breakfast favorites",
                    "count": 2,
                    "categories": ["breakfast"],
                    "dayparts": ["breakfast"],
                },
                {"label": "Something new", "count": 1, "tags": ["cross_category"]},
            ],
        },
        {
            "segment_key": 2,
            "slots": [
                {"label": "Win-back", "count": 1, "tags": ["win_back"], "dayparts": ["late_night"]},
                {
                    "label": "Burgers",
                    "count": 1,
                    "categories": ["burgers"],
                    "dayparts": ["lunch", "dinner"],
                    "goal": "revenue",
                },
            ],
        },
        {
            "segment_key": 3,
            "slots": [
                {
                    "label": "High margin",
                    "count": 1,
                    "tags": ["high_margin"],
                    "tiers": ["premium"],
                    "goal": "margin",
                },
                {
                    "label": "Desserts",
                    "count": 1,
                    "categories": ["desserts"],
                    "tiers": ["premium"],
                    "goal": "margin",
                },
            ],
        },
        {"segment_key": None, "slots": [{"label": "Popular", "count": 2}]},
    ]
}


def rules_world(author: Any) -> RuleSet:
    """Three stores, eight offers, three segments of 40 customers with some history, and
    rules published as version 1 by `author`; the draft equals version 1."""
    for store_id, tier, zone in [
        ("S001", "value", "America/New_York"),
        ("S002", "core", "America/Chicago"),
        ("S003", "premium", "America/Los_Angeles"),
    ]:
        Store.objects.create(store_id=store_id, name=store_id, pricing_tier=tier, timezone=zone)
    for offer_id, name, category, tiers, dayparts, tags, valid_to in OFFERS:
        Offer.objects.create(
            offer_id=offer_id,
            name=name,
            description=f"{name}.",
            category=category,
            pricing_tiers=tiers,
            dayparts=dayparts,
            tags=tags,
            valid_to=valid_to,
        )
    definition = segmentation_create(
        segments={
            1: ("Breakfast regulars", {"visits": 1.0}),
            2: ("Lapsing night owls", {"recency_days": 1.2, "visits": -0.8}),
            3: ("Big spenders", {"avg_spend": 1.1}),
        }
    )
    members = {f"C{n:03d}": 1 + n % 3 for n in range(36)}
    members_write(definition, members)
    customers_insert({f"N{n}": {} for n in range(4)})
    given = [(c, "OF-102" if k == 1 else "OF-201") for c, k in members.items()]
    lake_events_write("offer_assignments", given)
    lake_events_write("offer_redemptions", given[::2])
    rule_set = rule_set_draft_create(definition=definition, user=author, document=RULES)
    rule_set_publish(rule_set=rule_set, author=author, note="Spring rules")
    return rule_set


def screenshot_whole(page: Page, name: str) -> None:
    """The whole page in one tall viewport, so sticky bars sit where they belong."""
    size = page.viewport_size or {"width": 1280, "height": 860}
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)
    page.set_viewport_size(size)


def slot_input(page: Page, segment: str, position: int, name: str) -> Any:
    return page.locator(f'#segment-{segment} [name="r-{segment}-{position - 1}-{name}"]')


def test_marketer_edits_previews_publishes_compares_and_rolls_back(
    page: Page, live_server: Any, roles: None, tmp_path: Path
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    bo = UserFactory.create(role="Marketer", username="bo")
    rules_world(ana)
    log_in(page, live_server.url, bo.username)

    click_and_load(page, "nav >> text=Rules")
    expect(page.locator("#segment-2 h2")).to_have_text("Lapsing night owls")
    expect(page.locator("#segment-2 [data-customers]")).to_have_text("12 customers now")
    expect(page.locator("#draft-meta")).to_contain_text("published: version 1 by ana")

    # Edit a slot in place: the expired offer draws a warning naming segment and slot.
    slot_input(page, "2", 1, "include_offers").fill("OF-202, OF-401")
    warning = (
        "Lapsing night owls (#2), slot 1 “Win-back”: offer OF-401 “Summer Shake” expired on "
        "2026-08-31."
    )
    expect(page.locator("#issues-2-1")).to_contain_text(warning)
    expect(page.locator("#rule-checks")).to_contain_text(warning)
    expect(page.locator("#save-status")).to_have_text("Unsaved changes.")
    page.click('#segment-2 button[value="add:2"]')
    expect(page.locator("#segment-2 li.slot")).to_have_count(3)
    slot_input(page, "2", 3, "label").fill("Coffee comeback")
    slot_input(page, "2", 3, "categories").fill("hot_drinks")
    page.click('#segment-2 li[data-slot="3"] details.constraints summary')
    slot_input(page, "2", 3, "dayparts").fill("breakfast")
    page.click('#segment-2 button[value="up:2:2"]')
    expect(slot_input(page, "2", 2, "label")).to_have_value("Coffee comeback")
    expect(slot_input(page, "2", 1, "include_offers")).to_have_value("OF-202, OF-401")
    with page.expect_request("**/rules/save/") as sent:
        page.click("#save-rules")
    assert (sent.value.post_data or "").startswith("packed=")  # one field, however large
    expect(page.locator("#save-status")).to_contain_text("Saved as revision 2")
    expect(page.locator("#draft-meta")).to_contain_text("revision 2")

    # Preview through a real worker: it decides with the assignment engine, so a chain
    # without a trained model gets that said (tests/browser/test_rule_preview.py previews
    # a chain with one).
    with celery_worker(tmp_path / "worker.log"):
        page.click("#start-preview")
        expect(page.locator("#preview-state")).to_have_text("failed", timeout=60_000)
    run = Run.objects.get(kind=RunKind.PREVIEW)
    assert (run.status, run.parameters["revision"], run.started_by) == (
        RunStatus.FAILED, 2, bo
    )  # fmt: skip
    expect(page.locator("#preview .error")).to_contain_text("train a model first")
    screenshot_whole(page, "rules")

    # Publish with a note; the new version is listed and compared with the old one.
    page.fill("#publish-note", "Coffee comeback for lapsing night owls")
    asked = next_dialog(page, accept=True)
    page.click("#publish")
    expect(page).to_have_url(f"{live_server.url}/rules/versions/")
    expect(page.locator(".messages")).to_contain_text("Published version 2.")
    assert asked == [
        "Publish the saved draft as the next version? The real-time API serves it at once, "
        "and the next assignment uses it."
    ]
    expect(page.locator('tr[data-version="2"]')).to_contain_text("bo")
    expect(page.locator('tr[data-version="2"]')).to_contain_text("in force")
    page.click('tr[data-version="2"] >> text=vs v1')
    segment = page.locator('.diff-segment[data-segment="2"]')
    expect(segment.locator('li[data-slot="1"]')).to_contain_text("only these offers")
    expect(segment.locator('li[data-slot="2"]')).to_contain_text("burgers→hot_drinks")
    expect(segment.locator('li[data-slot="3"]')).to_contain_text("+ slot 3")
    expect(page.locator('.diff-segment[data-segment="1"]')).to_have_count(0)
    screenshot(page, "rules-diff")

    # Roll back to version 1, after a confirmation that shows what changes.
    page.click("text=Versions")
    page.click('tr[data-version="1"] >> text=Roll back to v1')
    expect(page.locator("h1")).to_have_text("Roll back to version 1?")
    expect(page.locator('.diff-segment[data-segment="2"]')).to_be_visible()
    page.fill("#rollback-note", "Coffee slot not approved yet")
    page.click("#confirm-rollback")
    expect(page.locator(".messages")).to_contain_text("Version 1 republished as version 3.")
    expect(page.locator('tr[data-version="3"]')).to_contain_text("republished v1")
    latest = RuleVersion.objects.get(number=3)
    assert latest.document == RuleVersion.objects.get(number=1).document
    assert latest.author == bo

    page.click("text=Audit log")
    expect(page.locator("#audit tbody tr").first).to_contain_text("rollback")
    page.select_option("select[name=user]", "bo")
    page.click("#audit-filters button")
    # saved, previewed (a run started), published, rolled back
    expect(page.locator("#audit-count")).to_have_text("4 changes, newest first.")
    expect(page.locator('tr[data-action="draft_update"]')).to_contain_text(
        "Lapsing night owls (#2), slot 1 “Win-back”: only these offers — → OF-202, OF-401"
    )
    screenshot(page, "audit")


def test_after_a_rollback_the_page_says_the_draft_is_not_live_and_it_can_be_discarded(
    page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    rule_set = rules_world(ana)
    sides: dict[str, Any] = copy.deepcopy(RULES)
    sides["segments"][1]["slots"][1]["categories"] = ["sides"]
    rule_set_draft_update(rule_set=rule_set, document=sides, expected_revision=1, user=ana)
    rule_set_publish(rule_set=rule_set, author=ana, note="Sides for night owls")
    first = RuleVersion.objects.get(number=1)
    rule_version_rollback(version=first, author=ana, note="Back to spring")  # v3, draft as v2
    log_in(page, live_server.url, ana.username)

    click_and_load(page, "nav >> text=Rules")
    expect(page.locator("#draft-status")).to_contain_text(
        "The draft below is not live. Version 3 is in force; the draft changes the rules of "
        "Lapsing night owls."
    )
    expect(slot_input(page, "2", 2, "categories")).to_have_value("sides")
    screenshot(page, "rules-draft-not-live")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    expect(page.locator("#publish-status")).to_contain_text("Say what changes in a note")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#discard-draft")

    expect(page.locator(".messages")).to_contain_text("Draft discarded: it is version 3")
    expect(page.locator("#draft-status")).to_contain_text("there is nothing to publish")
    expect(slot_input(page, "2", 2, "categories")).to_have_value("burgers")
    page.fill("#publish-note", "Spring again")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    expect(page.locator("#publish-status")).to_contain_text(
        "The draft is the same as v3, which is in force: there is nothing to publish."
    )
    assert RuleVersion.objects.count() == 3
    assert RuleSet.objects.get().document == RuleVersion.objects.get(number=3).document


def test_offer_fields_suggest_offers_by_name_after_the_last_comma(
    page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    rules_world(ana)
    log_in(page, live_server.url, ana.username)
    click_and_load(page, "nav >> text=Rules")
    only = slot_input(page, "2", 1, "include_offers")

    only.click()
    only.press_sequentially("OF-202, hash")

    options = page.locator(f"#{only.get_attribute('list')} option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", "OF-202, OF-102")
    expect(options.first).to_have_attribute("label", "Hash Brown Bites")
    categories = slot_input(page, "2", 2, "categories")
    categories.fill("")
    categories.press_sequentially("sert")
    suggested = page.locator(f"#{categories.get_attribute('list')} option")
    expect(suggested).to_have_count(1)
    expect(suggested.first).to_have_attribute("value", "desserts")


def test_leaving_the_editor_with_unsaved_edits_asks_first(
    page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    rules_world(ana)
    log_in(page, live_server.url, ana.username)
    click_and_load(page, "nav >> text=Rules")
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    slot_input(page, "2", 1, "label").click()
    slot_input(page, "2", 1, "label").fill("Night owls come back")
    page.click("nav >> text=Offers")

    expect(page.locator("#save-status")).to_have_text("Unsaved changes.")
    assert asked == ["beforeunload"] and page.url.endswith("/rules/")
    page.click("#save-rules")
    expect(page.locator("#save-status")).to_contain_text("Saved as revision 2")
    page.click("nav >> text=Offers")
    expect(page).to_have_url(f"{live_server.url}/offers/")
    assert asked == ["beforeunload"]


def test_two_marketers_edit_one_draft_and_the_second_save_is_refused_losing_nothing(
    browser: Browser, page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    bo = UserFactory.create(role="Marketer", username="bo")
    rules_world(ana)
    other = browser.new_context(viewport={"width": 1280, "height": 860})
    ana_page = other.new_page()
    ana_page.set_default_timeout(15_000)
    log_in(ana_page, live_server.url, ana.username)
    log_in(page, live_server.url, bo.username)
    ana_page.goto(f"{live_server.url}/rules/")
    page.goto(f"{live_server.url}/rules/")

    slot_input(ana_page, "1", 1, "label").fill("Breakfast for early birds")
    ana_page.click("#save-rules")
    expect(ana_page.locator("#save-status")).to_contain_text("Saved as revision 2")

    slot_input(page, "3", 2, "label").fill("Desserts after dinner")
    slot_input(page, "3", 2, "count").fill("2")
    page.click("#save-rules")

    conflict = page.locator('#save-status [data-state="conflict"]')
    expect(conflict).to_contain_text(re.compile(r"The draft was changed by ana at \d{4}-\d\d-\d\d"))
    expect(conflict).to_contain_text("Your edits are still on this page")
    expect(slot_input(page, "3", 2, "label")).to_have_value("Desserts after dinner")
    expect(slot_input(page, "3", 2, "count")).to_have_value("2")
    draft = RuleSet.objects.get()
    assert (draft.revision, draft.updated_by) == (2, ana)
    assert draft.document["segments"][2]["slots"][1]["label"] == "Desserts"
    # The typed slot and the refusal in one view (the save bar sticks to the bottom).
    page.locator("#segment-3").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('segment-3').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SCREENSHOTS / "rules-conflict.png"))

    # Bo reloads, sees Ana's change and applies his again.
    page.click("#reload-draft")
    expect(slot_input(page, "1", 1, "label")).to_have_value("Breakfast for early birds")
    slot_input(page, "3", 2, "label").fill("Desserts after dinner")
    page.click("#save-rules")
    expect(page.locator("#save-status")).to_contain_text("Saved as revision 3")
    labels = [
        [s["label"] for s in rule["slots"]] for rule in RuleSet.objects.get().document["segments"]
    ]
    assert labels[0][0] == "Breakfast for early birds" and labels[2][1] == "Desserts after dinner"

    # A preview with edits not saved yet asks first; declining starts nothing.
    asked: list[str] = []

    def decline(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    slot_input(page, "3", 1, "label").fill("High margin, typed only")
    page.click("#start-preview")
    expect(page.locator("#no-preview")).to_be_visible()
    assert asked and "not saved" in asked[0] and "revision 3" in asked[0]
    assert not Run.objects.filter(kind=RunKind.PREVIEW).exists()
    other.close()


def test_analyst_reads_the_rule_pages_and_gets_403_on_every_write(
    page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    analyst = UserFactory.create(role="Analyst", username="cy")
    rules_world(ana)
    log_in(page, live_server.url, analyst.username)

    click_and_load(page, "nav >> text=Rules")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator('#segment-1 li[data-slot="1"]')).to_contain_text("Breakfast favorites")
    expect(page.locator("main input, main textarea, main button")).to_have_count(0)
    page.click("text=Versions")
    expect(page.locator('tr[data-version="1"]')).to_contain_text("Spring rules")
    expect(page.locator("text=Roll back to")).to_have_count(0)
    page.click("text=Compare")
    expect(page.locator("#no-difference")).to_be_visible()
    page.goto(f"{live_server.url}/rules/versions/1/rollback/")
    expect(page.locator("#confirm-rollback")).to_have_count(0)
    page.click("text=Audit log")
    expect(page.locator("#audit tbody tr")).to_have_count(2)

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for url in [
        "/rules/start/", "/rules/check/", "/rules/edit/", "/rules/save/", "/rules/suggest/",
        "/rules/preview/", "/rules/publish/", "/rules/versions/1/rollback/",
    ]:  # fmt: skip
        response = page.request.post(
            f"{live_server.url}{url}",
            headers={"X-CSRFToken": token, "Referer": live_server.url},
            form={"revision": "1", "note": "x", "op": "add:1"},
        )
        assert response.status == 403, url
        assert "Your role does not allow this" in response.text(), url
    assert RuleSet.objects.get().revision == 1
    assert RuleVersion.objects.count() == 1
    assert not Run.objects.filter(kind=RunKind.PREVIEW).exists()


def test_the_save_bar_never_covers_a_button_brought_into_view(
    page: Page, live_server: Any, roles: None
) -> None:
    """The browser bringing an editor button into view brings it above the sticky save bar,
    not under it."""
    ana = UserFactory.create(role="Marketer", username="ana")
    rules_world(ana)
    page.set_viewport_size({"width": 1280, "height": 700})
    log_in(page, live_server.url, ana.username)
    click_and_load(page, "nav >> text=Rules")

    buttons = page.locator("#rules-form button:has-text('+ Add a slot')")
    assert buttons.count() >= 3
    for index in range(buttons.count()):
        page.evaluate("window.scrollTo(0, 0)")
        button = buttons.nth(index)
        # As the browser brings an element just into view (find in page, a link to it).
        button.evaluate("(b) => b.scrollIntoView({block: 'end'})")
        on_top = button.evaluate(
            """(b) => { const box = b.getBoundingClientRect();
                 const hit = document.elementFromPoint(box.x + box.width / 2, box.bottom - 2);
                 return hit === b || b.contains(hit); }"""
        )
        assert on_top, f"'+ Add a slot' #{index + 1} is under the save bar"
