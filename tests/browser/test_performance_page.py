"""A marketer reads how the offers of a batch did: the totals, the breakdowns and the charts
show what the database counted (performance_summary), for the active batch and an older one."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from recommender.assignment.feedback import feedback_record
from recommender.assignment.performance import performance_refresh, performance_summary
from recommender.models import Assignment, AssignmentBatch, Decision
from segments.models import Segment
from tests.browser.conftest import log_in, screenshot
from tests.recommender.assignment_data import World, decision_create, world_create
from tests.recommender.test_performance_page import ROWS, batch_create, counted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
UTC = dt.UTC
_events = itertools.count()


def day(number: int) -> dt.datetime:
    return dt.datetime(2025, 3, number, 12, tzinfo=UTC)


def decide(
    world: World,
    batch: AssignmentBatch,
    customer: str,
    offers: list[str],
    *,
    segment: int,
    holdout: bool = False,
    daypart: str = "breakfast",
    tier: str = "value",
) -> None:
    """A batch's receipt for the customer and its assignments, slot n holding the n-th offer."""
    decision_create(
        world, customer, offers, batch=batch, segment=segment, holdout=holdout,
        daypart=daypart, tier=tier,
    )  # fmt: skip


def redeemed(customer: str, offer: str, at: dt.datetime, kind: str = "redemption") -> None:
    feedback_record(
        event_id=f"b{next(_events)}", kind=kind, customer_id=customer, offer_id=offer, at=at
    )


def counted_case() -> tuple[AssignmentBatch, AssignmentBatch]:
    """Two counted batches: an older one and the active one, redeemed by hand."""
    world = world_create()
    old = batch_create(world, day(1))
    decide(world, old, "T1", ["O1"], segment=1)
    decide(world, old, "T2", ["O2"], segment=1, daypart="lunch")
    decide(world, old, "H1", ["O1"], segment=1, holdout=True)
    redeemed("T1", "O1", day(2))
    active = batch_create(world, day(8))
    for customer, daypart in (("T1", "breakfast"), ("T2", "breakfast"), ("T3", "lunch")):
        decide(world, active, customer, ["O1", "O2"], segment=1, daypart=daypart)
    decide(world, active, "T4", ["O1", "O2"], segment=1, daypart="lunch")
    decide(world, active, "H1", ["O1", "O2"], segment=1, holdout=True)
    decide(world, active, "H2", ["O1", "O2"], segment=1, holdout=True, daypart="lunch")
    for customer in ("T5", "T6"):
        decide(world, active, customer, ["O3"], segment=2, daypart="dinner", tier="premium")
    for customer in ("H3", "H4"):
        decide(world, active, customer, ["O3"], segment=2, holdout=True, tier="premium")
    for customer, offer in (
        ("T1", "O1"), ("T2", "O1"), ("T3", "O2"), ("H1", "O1"),
        ("T5", "O3"), ("T6", "O3"), ("H4", "O3"),
    ):  # fmt: skip
        redeemed(customer, offer, day(9))
    redeemed("T1", "O2", day(9), kind="click")
    for batch in (old, active):  # the counts an assignment run leaves on its batch
        decisions = Decision.objects.filter(batch=batch)
        AssignmentBatch.objects.filter(pk=batch.pk).update(
            customers=decisions.count(),
            holdout_customers=decisions.filter(holdout=True).count(),
            assignments=Assignment.objects.filter(batch=batch).count(),
        )
        performance_refresh(batch=batch)
    active.refresh_from_db()
    return old, active


def percent(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if sign else f"{value * 100:.1f}%"


def shown(row: dict[str, Any]) -> list[str]:
    return [
        str(row["treated_assignments"]),
        str(row["treated_redemptions"]),
        percent(row["treated_rate"]),
        str(row["holdout_assignments"]),
        str(row["holdout_redemptions"]),
        percent(row["holdout_rate"]),
        percent(row["lift"], sign=True) + (" too few" if row["too_few"] else ""),
        interval(row),
    ]


def interval(row: dict[str, Any]) -> str:
    if row["lift_low"] is None:
        return "—"
    return f"{percent(row['lift_low'], sign=True)} to {percent(row['lift_high'], sign=True)}"


def expect_the_summary(page: Page, summary: dict[str, Any]) -> None:
    """Every total and every table row on the page is the summary's."""
    total = summary["total"]
    for name in ("treated_assignments", "holdout_assignments"):
        expect(page.locator(f"[data-total={name}] .value")).to_have_text(str(total[name]))
    for name in ("treated_redemptions", "holdout_redemptions"):
        expect(page.locator(f"[data-total={name}] .value")).to_have_text(str(total[name]))
    for name in ("treated_rate", "holdout_rate"):
        expect(page.locator(f"[data-total={name}] .value")).to_have_text(percent(total[name]))
    expect(page.locator("[data-total=lift] .value")).to_have_text(percent(total["lift"], True))
    tables = {
        "by-segment": [(str(r["segment_key"]), r) for r in summary["segments"]],
        "by-slot": [(f"{r['segment_key']}-{r['slot']}", r) for r in summary["slots"]],
        "by-daypart": [(r["daypart"], r) for r in summary["dayparts"]],
        "by-tier": [(r["tier"], r) for r in summary["tiers"]],
        "by-offer": [(r["offer_id"], r) for r in summary["offers"]],
    }
    for table, rows in tables.items():
        expect(page.locator(f"#{table} tbody tr")).to_have_count(len(rows))
        for key, row in rows:
            cells = page.locator(f"#{table} tr[data-key='{key}'] td.num")
            expect(cells).to_have_text(shown(row))


def test_the_page_shows_what_the_database_counted(
    page: Page, live_server: Any, admin_user: Any, marketer: Any
) -> None:
    old, active = counted_case()
    summary = performance_summary(batch=active)
    assert summary["total"]["treated_assignments"] == 10  # the case is what it claims to be
    assert summary["total"]["lift"] == pytest.approx((5 / 10) / (2 / 6) - 1)

    log_in(page, live_server.url, marketer.username)
    page.click("nav >> text=Performance")

    expect(page.locator("#performance-batch")).to_have_text(f"batch #{active.pk}")
    expect(page.locator("#batch-facts")).to_contain_text("10, of whom 4 held out")
    expect_the_summary(page, summary)
    offers = page.locator("#by-offer tbody tr")
    expect(offers.first).to_have_attribute("data-key", "O1")  # most treated redemptions
    expect(page.locator("#by-segment tr[data-key='1'] td").first).to_have_text("Regulars (#1)")
    expect(page.locator("#lift-chart")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#lift-chart")).to_contain_text("lift +50.0%")
    expect(page.locator("#history-chart")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#history-chart .scatterlayer .trace")).to_have_count(2)
    expect(
        page.locator("#history-chart .scatterlayer .trace").first.locator(".point")
    ).to_have_count(2)
    expect(page.locator("#recount")).to_have_count(0)

    page.select_option("#batch-picker select", str(old.pk))
    page.click("#batch-picker button")
    expect(page.locator("#performance-batch")).to_have_text(f"batch #{old.pk}")
    expect_the_summary(page, performance_summary(batch=old))

    page.click("text=Log out")
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/performance/")
    expect(page.locator("#recount")).to_have_text("Recount now")
    expect(page.locator("#computed-at")).to_contain_text(" UTC")
    expect(page.locator("#history-chart")).to_have_attribute("data-drawn", "true")
    screenshot(page, "performance")


OVERLAPS = """(chart) => {
  const boxes = (selector) => Array.from(document.querySelectorAll(`#${chart} ${selector}`))
    .map((node) => node.getBoundingClientRect()).filter((box) => box.width > 0);
  const meet = (a, b) =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const ticks = boxes(".xtick text"), legend = boxes(".legend .bg");
  const notes = boxes(".annotation-text");
  const clashes = [];
  notes.forEach((a, i) => notes.slice(i + 1).forEach((b) => {
    if (meet(a, b)) { clashes.push("note/note"); }
  }));
  ticks.forEach((a, i) => ticks.slice(i + 1).forEach((b) => {
    if (meet(a, b)) { clashes.push("tick/tick"); }
  }));
  ticks.forEach((a) => legend.forEach((b) => {
    if (meet(a, b)) { clashes.push("tick/legend"); }
  }));
  return {ticks: ticks.length, legend: legend.length, clashes};
}"""


def test_many_batches_and_long_names_draw_charts_whose_labels_do_not_overlap(
    page: Page, live_server: Any, marketer: Any
) -> None:
    world = world_create()
    Segment.objects.filter(key=1).update(name="Frequent breakfast drive-thru, low spend")
    Segment.objects.filter(key=2).update(name="Occasional weekend dinner counter, high spend")
    # Six segments, four of them without a redemption yet (a fresh batch of the demo).
    quiet = [
        (key, 1, "Best", "O1", holdout, "lunch", "value", 10, 0)
        for key in (3, 4, 5, 6)
        for holdout in (False, True)
    ]
    for number in range(1, 15):
        counted(batch_create(world, day(number)), ROWS + quiet, day(number) + dt.timedelta(hours=1))
    log_in(page, live_server.url, marketer.username)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("nav >> text=Performance")

    for chart in ("history-chart", "lift-chart"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "true")
        found = page.evaluate(OVERLAPS, chart)
        assert found["ticks"] >= 3 and found["legend"] == 1, found
        assert found["clashes"] == [], (chart, found)
    screenshot(page, "performance-many-batches")


Y_TICKS = """(chart) => Array.from(document.querySelectorAll(`#${chart} .ytick text`))
  .map((node) => node.textContent)"""


def test_a_batch_without_redemptions_yet_reads_on_distinct_rate_ticks(
    page: Page, live_server: Any, marketer: Any
) -> None:
    world = world_create()
    nothing_yet = [
        (key, 1, "Best", "O1", holdout, "lunch", "value", 10, 0)
        for key in (1, 2)
        for holdout in (False, True)
    ]
    counted(batch_create(world, day(1)), nothing_yet, day(1) + dt.timedelta(hours=1))
    log_in(page, live_server.url, marketer.username)

    page.click("nav >> text=Performance")

    for chart in ("history-chart", "lift-chart"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "true")
        ticks = page.evaluate(Y_TICKS, chart)
        assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), (chart, ticks)
    screenshot(page, "performance-nothing-redeemed")
