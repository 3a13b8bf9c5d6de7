"""A re-segmentation that keeps the segment ids keeps the rule versions: the marketer still
reads every earlier version with its note, compares them and rolls back, and the numbers go
on (tracker issue 18, finding 2)."""

import copy
from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from offers.models import RuleSet
from offers.rules.services import (
    rule_set_draft_update,
    rule_set_publish,
    rule_version_rollback,
)
from segments.segmentation.services import segmentation_activate
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_rule_pages import RULES, rules_world
from tests.factories import UserFactory
from tests.segments.segmentation_data import segmentation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def with_breakfast_count(count: int) -> dict[str, Any]:
    """The published rules with another number of offers in segment #1's first slot."""
    document: dict[str, Any] = copy.deepcopy(RULES)
    rules = document["segments"]
    rules[0]["slots"][0]["count"] = count
    assert rules[0]["segment_key"] == 1
    return document


def test_rule_versions_survive_a_resegmentation_and_number_on(
    page: Page, live_server: Any, roles: None
) -> None:
    ana = UserFactory.create(role="Marketer", username="ana")
    bo = UserFactory.create(role="Marketer", username="bo")
    rule_set = rules_world(ana)  # v1 "Spring rules" under segmentation v1
    for revision, count in ((1, 3), (2, 1)):
        rule_set_draft_update(
            rule_set=rule_set,
            document=with_breakfast_count(count),
            expected_revision=revision,
            user=ana,
        )
        rule_set_publish(rule_set=rule_set, author=ana, note=f"{count} breakfast offers")
    rule_version_rollback(version=rule_set.versions.get(number=2), author=ana, note="Back to 3")
    # A new segmentation keeps the segment ids (and finds a new segment #4).
    newer = segmentation_create(
        segments={
            1: ("Breakfast regulars", {"visits": 1.0}),
            2: ("Lapsing night owls", {"recency_days": 1.2, "visits": -0.8}),
            3: ("Big spenders", {"avg_spend": 1.1}),
            4: ("Weekend families", {"weekend_share": 1.3}),
        },
        version=2,
        active=False,
    )
    with transaction.atomic():
        segmentation_activate(definition=newer)
    log_in(page, live_server.url, bo.username)

    page.goto(f"{live_server.url}/rules/versions/")
    expect(page.locator("h1")).to_contain_text("segmentation v2")
    expect(page.locator("#versions tbody tr")).to_have_count(5)
    carried = page.locator('tr[data-version="5"]')
    expect(carried).to_contain_text("in force")
    expect(carried).to_contain_text(
        "Carried over to segmentation v2 from rules v4 of segmentation v1."
    )
    expect(page.locator('tr[data-version="1"]')).to_contain_text("Spring rules")
    expect(page.locator('tr[data-version="1"]')).to_contain_text("ana")
    expect(page.locator('tr[data-version="3"]')).to_contain_text("1 breakfast offers")
    expect(page.locator('tr[data-version="4"]')).to_contain_text("republished v2")
    screenshot(page, "rule-versions-after-resegmentation")

    # An earlier version still compares with the one before it.
    page.click('tr[data-version="3"] >> text=vs v2')
    change = page.locator('.diff-segment[data-segment="1"] li[data-slot="1"] .diff-fields tr')
    expect(change).to_have_count(1)
    expect(change.locator("th")).to_have_text("offers")
    expect(change.locator(".before")).to_have_text("3")
    expect(change.locator(".after")).to_have_text("1")
    expect(page.locator('.diff-segment[data-segment="2"]')).to_have_count(0)

    # And rolls back, numbered on from the history.
    page.goto(f"{live_server.url}/rules/versions/")
    page.click('tr[data-version="3"] >> text=Roll back to v3')
    expect(page.locator("h1")).to_have_text("Roll back to version 3?")
    page.fill("#rollback-note", "One breakfast offer after all")
    page.click("#confirm-rollback")
    expect(page.locator(".messages")).to_contain_text("Version 3 republished as version 6.")
    expect(page.locator('tr[data-version="6"]')).to_contain_text("in force")
    expect(page.locator('tr[data-version="6"]')).to_contain_text("republished v3")
    current = RuleSet.objects.get(definition=newer)
    assert current.versions.get(number=6).document == current.versions.get(number=3).document

    # The Overview names the rules in force by their number.
    page.goto(f"{live_server.url}/")
    expect(page.locator("#guide-actions")).to_contain_text(
        "Weekend families (#4) has no rule in v6"
    )
