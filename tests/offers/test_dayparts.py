"""One daypart for one local time everywhere: the feature job, the training examples and serving
all read their windows from offers.dayparts, and must name the same daypart for every minute of
the day, including windows that wrap midnight, end at 00:00 or leave gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from offers.dayparts import (
    DEFAULT_DAYPARTS,
    MINUTES_PER_DAY,
    Window,
    daypart_at,
    daypart_rows,
    entries_mask,
    entry_window,
    minute_of_day,
    runs_in_window,
    window_mask,
    window_spans,
    window_text,
)
from recommender.assignment.engine import Situation, context_values
from recommender.ml.spark_examples import ExamplesTask, month_examples
from recommender.ml.training_data import UNKNOWN
from segments.spark.partials import DAYPART_PREFIX, MonthTask, month_partials

DAY = dt.datetime(2025, 1, 15)
DEFAULTS = {
    name: (minute_of_day(start), minute_of_day(end)) for name, start, end in DEFAULT_DAYPARTS
}
DAYPART_SETS = {
    "defaults, late night wraps midnight": DEFAULTS,
    "evening ends at 00:00, gaps": {"early": (0, 360), "lunch": (660, 840), "evening": (1080, 0)},
    "odd minutes, night wraps": {"night": (22 * 60 + 30, 6 * 60 + 15), "day": (375, 1350)},
}


def _customer(minute: int) -> str:
    return f"c{minute:04d}"


def _orders_file(folder: Path) -> str:
    """One order per minute of one local day, each by its own customer."""
    minutes = range(MINUTES_PER_DAY)
    local = [DAY + dt.timedelta(minutes=m) for m in minutes]
    path = folder / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": [f"o{m:04d}" for m in minutes],
                "customer_id": [_customer(m) for m in minutes],
                "store_id": ["S1"] * MINUTES_PER_DAY,
                "channel": ["kiosk"] * MINUTES_PER_DAY,
                "total": [1.0] * MINUTES_PER_DAY,
                "gross_margin": [0.5] * MINUTES_PER_DAY,
                "ordered_at": pa.array([t.replace(tzinfo=dt.UTC) for t in local]),
                "ordered_at_local": pa.array(local, pa.timestamp("us")),
            }
        ),
        path,
    )
    return str(path)


def _redemptions_file(folder: Path) -> str:
    minutes = range(MINUTES_PER_DAY)
    path = folder / "redemptions.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": [_customer(m) for m in minutes],
                "offer_id": ["O1"] * MINUTES_PER_DAY,
                "redeemed_at": pa.array(
                    [DAY.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=m) for m in minutes]
                ),
                "order_id": [f"o{m:04d}" for m in minutes],
                "store_id": ["S1"] * MINUTES_PER_DAY,
            }
        ),
        path,
    )
    return str(path)


def _feature_dayparts(orders: str, rows: list[tuple[str, int, int]], out: Path) -> list[str]:
    """Per minute: the dayparts the feature job counts that minute's order in."""
    result = month_partials(
        MonthTask(month="2025-01", orders=[orders], order_lines=[], dayparts=rows, output=str(out))
    )
    frame = pq.read_table(result.path).to_pandas().set_index("customer_id")
    columns = [f"{DAYPART_PREFIX}{name}" for name, _, _ in rows]
    counted = frame.loc[[_customer(m) for m in range(MINUTES_PER_DAY)], columns].to_numpy() > 0
    names = [name for name, _, _ in rows]
    return [
        "+".join(n for n, hit in zip(names, row, strict=True) if hit) or UNKNOWN for row in counted
    ]


def _training_dayparts(
    orders: str, redemptions: str, rows: list[tuple[str, int, int]], out: Path
) -> list[str]:
    """Per minute: the daypart the training examples give that minute's redemption."""
    task = ExamplesTask(
        month="2025-01",
        redemptions=[redemptions],
        history_redemptions=[],
        order_lines=[],
        orders=[orders],
        weather=[],
        memberships=[],
        stores=[],
        dayparts=rows,
        history_length=1,
        unknown=UNKNOWN,
        output=str(out),
    )
    frame = pq.read_table(month_examples(task).examples).to_pandas().set_index("customer_id")
    return frame.loc[[_customer(m) for m in range(MINUTES_PER_DAY)], "daypart"].tolist()


def _serving_dayparts(dayparts: dict[str, Window]) -> list[str]:
    """Per minute: the daypart the assignment engine reads for a request at that local time."""
    return [
        context_values(
            Situation(
                customer_id=_customer(m),
                known_customer=True,
                at=DAY.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=m),
                store_id="S1",
                tier="value",
                timezone="UTC",
                channel="kiosk",
                segment_key=None,
            ),
            dayparts,
        )["daypart"]
        for m in range(MINUTES_PER_DAY)
    ]


@pytest.mark.parametrize("label", list(DAYPART_SETS))
def test_features_training_and_serving_name_the_same_daypart_for_every_minute(
    label: str, tmp_path: Path
) -> None:
    dayparts = DAYPART_SETS[label]
    rows = daypart_rows(dayparts)
    orders, redemptions = _orders_file(tmp_path), _redemptions_file(tmp_path)

    features = _feature_dayparts(orders, rows, tmp_path / "features.parquet")
    training = _training_dayparts(orders, redemptions, rows, tmp_path / "examples")
    serving = _serving_dayparts(dayparts)

    assert features == serving
    assert training == serving
    covered = [name for name in serving if name != UNKNOWN]
    assert set(covered) == set(dayparts)


def test_the_edges_of_a_window_belong_to_the_daypart_that_starts_there() -> None:
    assert daypart_at(dt.time(23, 59), DEFAULTS) == "late_night"
    assert daypart_at(dt.time(0, 0), DEFAULTS) == "late_night"
    assert daypart_at(dt.time(4, 59), DEFAULTS) == "late_night"
    assert daypart_at(dt.time(5, 0), DEFAULTS) == "breakfast"
    assert daypart_at(dt.datetime(2025, 1, 15, 21, 0), DEFAULTS) == "late_night"
    gaps = DAYPART_SETS["evening ends at 00:00, gaps"]
    assert daypart_at(dt.time(23, 59), gaps) == "evening"
    assert daypart_at(dt.time(0, 0), gaps) == "early"
    assert daypart_at(dt.time(6, 0), gaps) is None


def test_overlapping_dayparts_name_the_first_by_start_end_and_name() -> None:
    overlapping = {"b": (600, 700), "a": (600, 700), "wide": (0, 0), "late": (650, 660)}

    assert daypart_at(dt.time(10, 50), overlapping) == "wide"
    assert daypart_at(dt.time(10, 50), {k: v for k, v in overlapping.items() if k != "wide"}) == (
        "a"
    )


@pytest.mark.parametrize("start", [0, 1, 299, 300, 720, 1439])
@pytest.mark.parametrize("end", [0, 1, 299, 300, 720, 1439])
def test_a_window_s_mask_is_the_union_of_its_spans(start: int, end: int) -> None:
    minutes = np.arange(MINUTES_PER_DAY)
    inside = (
        (minutes >= start) & (minutes < end)
        if start < end
        else (minutes >= start) | (minutes < end)
    )

    assert (window_mask(start, end) == inside).all()
    spanned = np.zeros(MINUTES_PER_DAY, dtype=bool)
    for a, b in window_spans(start, end):
        spanned[a:b] = True
    assert (spanned == inside).all()


def test_entries_are_daypart_names_or_windows_and_an_unknown_name_covers_nothing() -> None:
    assert entry_window("late_night", DEFAULTS) == (1260, 300)
    assert entry_window("22:00-02:00", DEFAULTS) == (1320, 120)
    assert entry_window("brunch", DEFAULTS) is None
    assert not entries_mask(["brunch"], DEFAULTS).any()
    assert entries_mask([], DEFAULTS).all()
    assert runs_in_window(["18:00-00:00"], DEFAULTS["late_night"], {})
    assert not runs_in_window(["18:00-00:00"], DEFAULTS["breakfast"], DEFAULTS)
    assert runs_in_window([], DEFAULTS["breakfast"], DEFAULTS)


def test_window_text_spells_minutes_as_hh_mm() -> None:
    assert window_text(1260, 300) == "21:00–05:00"
    assert window_text(1080, 0) == "18:00–00:00"
    assert window_text(365, 630) == "06:05–10:30"
