"""Periods are listed once, and a month that holds only part of its orders is marked
incomplete and is not where pages open (tracker issue 18, finding 1). No Spark here: the run
that writes these is tested in tests/browser/test_period_pages.py."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from deepflame_web.console.guide import guide
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from segments.models import SegmentDefinition
from segments.segmentation.services import incomplete_period, period_incomplete
from segments.selectors import (
    INCOMPLETE_PERIOD,
    Period,
    period_pair_default,
    segmentation_periods,
)
from segments.spark.features import lake_latest_order, lake_months
from tests.segments.segmentation_data import PERIODS, segmentation_create
from tests.segments.test_features import hand_made_extract

pytestmark = pytest.mark.django_db


def mark_incomplete(definition: SegmentDefinition, month: str) -> None:
    Run.objects.filter(pk=definition.run_id).update(result={INCOMPLETE_PERIOD: month})
    definition.refresh_from_db()
    definition.run.refresh_from_db()


def test_a_month_with_orders_from_two_imports_is_one_period() -> None:
    runs = [
        Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.SUCCEEDED)
        for _ in range(2)
    ]
    for run, months in zip(runs, (["2026-11", "2026-12"], ["2026-12"]), strict=True):
        for month in months:
            for table in ("orders", "order_lines"):
                LakeFile.objects.create(
                    run=run, table=table, month=month, path=f"{table}/{month}/{run.pk}", rows=3
                )

    assert lake_months() == ["2026-11", "2026-12"]
    assert lake_months(until_month="2026-11") == ["2026-11"]


@pytest.mark.parametrize(
    ("month", "latest_order", "today", "incomplete"),
    [
        # The month is not over: its orders so far.
        ("2026-12", dt.datetime(2026, 12, 3, 10, 0), dt.date(2026, 12, 6), True),
        # Its last day is not over either, though orders on it came in.
        ("2026-11", dt.datetime(2026, 11, 30, 9, 0), dt.date(2026, 11, 30), True),
        # Over, with orders on its last day: whole.
        ("2026-11", dt.datetime(2026, 11, 30, 21, 0), dt.date(2026, 12, 6), False),
        ("2026-02", dt.datetime(2026, 2, 28, 23, 59), dt.date(2026, 3, 1), False),
        # Over, but the lake's orders stop before its last day: the extract was cut.
        ("2026-11", dt.datetime(2026, 11, 27, 21, 0), dt.date(2026, 12, 6), True),
        ("2026-11", None, dt.date(2026, 12, 6), True),
    ],
)
def test_a_month_is_incomplete_until_it_is_over_and_the_orders_reach_its_last_day(
    month: str, latest_order: dt.datetime | None, today: dt.date, incomplete: bool
) -> None:
    assert period_incomplete(month=month, latest_order=latest_order, today=today) is incomplete


@pytest.mark.django_db(transaction=True)
def test_the_latest_order_is_read_from_the_lake_in_store_local_time(tmp_path: Path) -> None:
    call_command("import_data", str(hand_made_extract(tmp_path / "extract")))

    # NY 2025-02-28 23:30, although UTC is already March.
    assert lake_latest_order(month="2025-02") == dt.datetime(2025, 2, 28, 23, 30)
    assert lake_latest_order(month="2025-03") is None
    assert incomplete_period(periods=["2025-01", "2025-02"], today=dt.date(2026, 12, 6)) is None
    assert incomplete_period(periods=["2025-01", "2025-02"], today=dt.date(2025, 2, 20)) == (
        "2025-02"
    )
    assert incomplete_period(periods=[], today=dt.date(2026, 12, 6)) is None


def test_periods_are_listed_once_with_the_incomplete_one_marked() -> None:
    definition = segmentation_create()
    SegmentDefinition.objects.filter(pk=definition.pk).update(periods=[*PERIODS, PERIODS[-1]])
    mark_incomplete(definition, PERIODS[-1])

    periods = segmentation_periods(definition=definition)

    assert [p.label for p in periods] == [*PERIODS[:-1], f"{PERIODS[-1]} (to date, incomplete)"]
    assert period_pair_default(periods) == (PERIODS[-3], PERIODS[-2])


@pytest.mark.parametrize(
    ("periods", "pair"),
    [
        ([Period("2026-11"), Period("2026-12")], ("2026-11", "2026-12")),
        ([Period("2026-10"), Period("2026-11"), Period("2026-12", False)], ("2026-10", "2026-11")),
        # Fewer than two whole months: the last two there are.
        ([Period("2026-11"), Period("2026-12", False)], ("2026-11", "2026-12")),
        ([Period("2026-12", False)], None),
        ([], None),
    ],
)
def test_pages_open_on_the_last_two_complete_periods(
    periods: list[Period], pair: tuple[str, str] | None
) -> None:
    assert period_pair_default(periods) == pair


def test_movements_open_on_the_last_two_complete_periods(client: Client, analyst: Any) -> None:
    definition = segmentation_create()
    mark_incomplete(definition, "2025-04")
    client.force_login(analyst)

    html = client.get("/segments/movements/").content.decode()

    assert 'id="movements-error"' not in html
    assert "From 2025-02 (rows) to 2025-03 (columns)" in html
    assert '<option value="2025-04" >2025-04 (to date, incomplete)</option>' in html
    assert '<option value="2025-03" selected>2025-03</option>' in html
    chosen = client.get("/segments/movements/?from=2025-03&to=2025-04").content.decode()
    assert "From 2025-03 (rows) to 2025-04 (columns)" in chosen
    wrong = client.get("/segments/movements/?from=2025-04&to=2025-04").content.decode()
    assert "Pick two different periods; showing 2025-02 to 2025-03." in wrong


def test_the_overview_shows_the_last_complete_period(client: Client, marketer: Any) -> None:
    definition = segmentation_create()
    assert guide().periods == ("2025-03", "2025-04")
    mark_incomplete(definition, "2025-04")

    assert guide().periods == ("2025-02", "2025-03")
    client.force_login(marketer)
    page = client.get("/").content.decode()
    assert "Your segments in 2025-03" in page
    assert "Biggest moves, 2025-02 → 2025-03" in page


def test_segment_pages_name_the_incomplete_month(client: Client, analyst: Any) -> None:
    definition = segmentation_create()
    mark_incomplete(definition, "2025-04")
    client.force_login(analyst)

    listing = client.get("/segments/").content.decode()
    detail = client.get("/segments/1/").content.decode()

    assert "4 months: 2025-01 to 2025-04 (to date, incomplete)" in listing
    assert "2025-04 (to date, incomplete): the orders so far, not a whole month." in detail
