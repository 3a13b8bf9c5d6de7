"""A marketer opens the first page and reads "Start here": each segment's customers and its
change since the previous period, the biggest moves between segments and where to act, all
as the database counted them; the links lead where they say."""

from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from playwright.sync_api import Page, expect

from offers.rules.services import rule_set_draft_create, rule_set_draft_update, rule_set_publish
from segments.models import Segment, SegmentDefinition, SegmentFlow, SegmentSize
from tests.browser.conftest import log_in, screenshot
from tests.offers.factories import OfferFactory, StoreFactory
from tests.segments.segmentation_data import PERIODS, segmentation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BEFORE, NOW = PERIODS[-2], PERIODS[-1]
BEST = {"label": "Best", "count": 1}


def rules_without_the_first_segment(definition: SegmentDefinition, marketer: Any) -> Segment:
    """Rules v1 published for every live segment but the first, then a draft edited since."""
    StoreFactory()
    OfferFactory.create_batch(2)
    live = list(definition.segments.filter(is_vanished=False).order_by("key"))
    ruled = [{"segment_key": s.key, "slots": [BEST]} for s in live[1:]]
    rule_set = rule_set_draft_create(
        definition=definition, user=marketer, document={"segments": ruled}
    )
    rule_set_publish(rule_set=rule_set, author=marketer, note="all but the first")
    rule_set_draft_update(
        rule_set=rule_set,
        document={"segments": [*ruled, {"segment_key": None, "slots": [BEST]}]},
        expected_revision=rule_set.revision,
        user=marketer,
    )
    return live[0]


def change_shown(now: int, before: int) -> str:
    """The "since" cell: the signed change and, where there was a before, its share."""
    change = f"{now - before:+d}"
    return f"{change} ({round((now - before) / before * 100)}%)" if before else change


def expect_segments(page: Page, definition: SegmentDefinition) -> None:
    sizes = {
        (row.segment.key, row.period): row.customers
        for row in SegmentSize.objects.filter(definition=definition).select_related("segment")
    }
    live = list(definition.segments.filter(is_vanished=False).order_by("key"))
    expect(page.locator("#guide h3").first).to_have_text(f"Your segments in {NOW}")
    expect(page.locator("#guide-segments thead")).to_contain_text(f"Since {BEFORE}")
    expect(page.locator("#guide-segments tbody tr")).to_have_count(len(live))
    for segment in live:
        now, before = sizes.get((segment.key, NOW), 0), sizes.get((segment.key, BEFORE), 0)
        row = page.locator(f'#guide-segments tr[data-segment="{segment.key}"]')
        expect(row.locator("a")).to_have_text(segment.name)
        expect(row.locator("td.num")).to_have_text([str(now), change_shown(now, before)])


def moves_between_segments(definition: SegmentDefinition) -> dict[tuple[int, int], str]:
    """Each move from one segment to another from BEFORE to NOW, as the page words it."""
    moves = SegmentFlow.objects.filter(
        definition=definition, period_from=BEFORE, period_to=NOW
    ).select_related("from_segment", "to_segment")
    worded = {}
    for move in moves:
        source, target = move.from_segment, move.to_segment
        if source is None or target is None or source == target:
            continue
        worded[(source.key, target.key)] = (
            f"{move.customers} customer{'' if move.customers == 1 else 's'} moved from "
            f"{source.name} to {target.name}"
        )
    assert len(worded) < len(moves)  # exits and stays exist and are left out
    return worded


def expect_moves(page: Page, definition: SegmentDefinition) -> None:
    """Every move between two segments (fewer than the five the page shows), biggest first."""
    expected = moves_between_segments(definition)
    assert 1 < len(expected) <= 5
    items = page.locator("#guide-moves li")
    expect(items).to_have_count(len(expected))
    shown = [
        (int(item.get_attribute("data-from") or 0), int(item.get_attribute("data-to") or 0))
        for item in items.all()
    ]
    assert sorted(shown) == sorted(expected)
    expect(items).to_have_text([expected[pair] for pair in shown])
    counts = [int(expected[pair].split()[0]) for pair in shown]
    assert counts == sorted(counts, reverse=True)


def expect_actions(page: Page, unruled: Segment) -> None:
    actions = page.locator("#guide-actions li a")
    expect(actions).to_have_text(
        [
            f"{unruled.name} (#{unruled.key}) has no rule in v1: its customers get no offers.",
            "The rules draft has changes not published since v1.",
            "No recommender model is active: train one.",
            "No offers are assigned yet: run an assignment.",
        ]
    )
    hrefs = [actions.nth(i).get_attribute("href") for i in range(actions.count())]
    assert hrefs == [reverse("rules"), reverse("rules"), reverse("model_list"), reverse("run_list")]


def test_the_first_page_says_what_changed_and_where_to_act(
    page: Page, live_server: Any, marketer: Any
) -> None:
    with transaction.atomic():  # written as an import and a segmentation write them
        definition = segmentation_create()
    unruled = rules_without_the_first_segment(definition, marketer)

    log_in(page, live_server.url, marketer.username)

    expect(page.locator("#guide h2")).to_have_text("Start here")
    expect_segments(page, definition)
    expect(page.locator("#guide h3").nth(1)).to_have_text(f"Biggest moves, {BEFORE} → {NOW}")
    expect_moves(page, definition)
    expect_actions(page, unruled)
    screenshot(page, "home-guide")

    page.click(f"#guide-actions a:has-text('{unruled.name} (#{unruled.key}) has no rule')")
    page.wait_for_url(f"{live_server.url}/rules/")
    expect(page.locator("#draft-meta")).to_contain_text("published: version 1")
    expect(page.locator("#rule-checks [data-code=segment_without_rule]")).to_have_text(
        f"{unruled.name} (#{unruled.key}): no rule, so its customers get no offer."
    )

    page.go_back()
    page.click(f'#guide-segments tr[data-segment="{unruled.key}"] a')
    page.wait_for_url(f"{live_server.url}/segments/{unruled.key}/")
    expect(page.locator("#segment-name")).to_have_text(unruled.name)

    page.go_back()
    page.click("#guide >> text=All movements")
    page.wait_for_url(f"{live_server.url}/segments/movements/**")
    expect(page.locator("h1")).to_have_text("Movements between periods")
