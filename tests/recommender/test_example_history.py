"""What an example may see of its customer's past: strictly earlier events, never its own order
(whatever time stamp the extract gives it), never anything after it. One month task run on
hand-written lake files, without Spark or a database."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommender.ml.spark_examples import PURCHASE_HALF_LIVES, ExamplesTask, month_examples

UTC = dt.UTC
T = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
"""The redemption's time: it was redeemed with order O-NOW."""


def _write(path: Path, columns: dict[str, pa.Array]) -> str:
    pq.write_table(pa.table(columns), path)
    return str(path)


def _lines(folder: Path, rows: list[tuple[str, str, dt.datetime, str]]) -> str:
    """(order, customer, ordered_at, item) rows as an order_lines file."""
    return _write(
        folder / "order_lines.parquet",
        {
            "order_id": pa.array([r[0] for r in rows], pa.string()),
            "customer_id": pa.array([r[1] for r in rows], pa.string()),
            "ordered_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "item_id": pa.array([r[3] for r in rows], pa.string()),
        },
    )


def _redemptions(folder: Path, name: str, rows: list[tuple[str, str, dt.datetime, str]]) -> str:
    """(customer, offer, redeemed_at, order) rows as an offer_redemptions file."""
    return _write(
        folder / name,
        {
            "customer_id": pa.array([r[0] for r in rows], pa.string()),
            "offer_id": pa.array([r[1] for r in rows], pa.string()),
            "redeemed_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "order_id": pa.array([r[3] for r in rows], pa.string()),
            "store_id": pa.array(["S1"] * len(rows), pa.string()),
        },
    )


@pytest.fixture
def result(tmp_path: Path) -> dict[str, pd.DataFrame]:
    days_ago = [T - dt.timedelta(days=d) for d in (1, 30, 200)]
    lines = _lines(
        tmp_path,
        [
            ("O-1", "C1", days_ago[0], "fries"),
            ("O-1", "C1", days_ago[0], "cola"),
            ("O-30", "C1", days_ago[1], "fries"),
            ("O-200", "C1", days_ago[2], "shake"),
            # The redemption's own basket, stamped a minute before it: never history.
            ("O-NOW", "C1", T - dt.timedelta(minutes=1), "burger"),
            # A planted future event: after the redemption, never history.
            ("O-LATER", "C1", T + dt.timedelta(minutes=5), "pie"),
            # Someone else's order.
            ("O-X", "C2", days_ago[0], "salad"),
        ],
    )
    now = _redemptions(tmp_path, "now.parquet", [("C1", "DEAL", T, "O-NOW")])
    past = _redemptions(
        tmp_path,
        "past.parquet",
        [
            ("C1", "OLD", days_ago[1], "O-30"),
            ("C1", "SAME-ORDER", T - dt.timedelta(seconds=30), "O-NOW"),
            ("C1", "DEAL", T, "O-NOW"),
        ],
    )
    task = ExamplesTask(
        month="2025-03",
        redemptions=[now],
        history_redemptions=[past],
        order_lines=[lines],
        orders=[],
        weather=[],
        memberships=[],
        stores=[],
        dayparts=[],
        history_length=20,
        unknown="none",
        output=str(tmp_path / "out"),
    )
    done = month_examples(task)
    return {
        "examples": pq.read_table(done.examples).to_pandas(),
        "events": pq.read_table(done.events).to_pandas(),
        "purchases": pq.read_table(done.purchases).to_pandas().set_index("item"),
    }


def test_history_holds_only_earlier_events_outside_the_own_order(
    result: dict[str, pd.DataFrame],
) -> None:
    events = result["events"]

    assert list(zip(events["kind"], events["token"], strict=True)) == [
        ("item", "fries"),
        ("item", "cola"),
        ("offer", "OLD"),
        ("item", "fries"),
        ("item", "shake"),
    ]
    assert (events["at_utc"] < pd.Timestamp(T)).all()


def test_long_horizon_purchases_count_every_earlier_order_and_decay_with_age(
    result: dict[str, pd.DataFrame],
) -> None:
    purchases = result["purchases"]

    assert purchases["purchases"].to_dict() == {"cola": 1, "fries": 2, "shake": 1}
    for days in PURCHASE_HALF_LIVES:
        fries = math.exp(-math.log(2) * 1 / days) + math.exp(-math.log(2) * 30 / days)
        assert purchases.loc["fries", f"decay_{days}"] == pytest.approx(fries)
        shake = math.exp(-math.log(2) * 200 / days)
        assert purchases.loc["shake", f"decay_{days}"] == pytest.approx(shake)


def test_the_example_keeps_its_order_id(result: dict[str, pd.DataFrame]) -> None:
    assert result["examples"][["customer_id", "offer_id", "order_id"]].values.tolist() == [
        ["C1", "DEAL", "O-NOW"]
    ]


def _orders(folder: Path, rows: list[tuple[str, str, str, dt.datetime]]) -> str:
    """(order, customer, store, ordered_at) rows as an orders file (local time = UTC here)."""
    return _write(
        folder / "orders.parquet",
        {
            "order_id": pa.array([r[0] for r in rows], pa.string()),
            "customer_id": pa.array([r[1] for r in rows], pa.string()),
            "store_id": pa.array([r[2] for r in rows], pa.string()),
            "ordered_at": pa.array([r[3] for r in rows], pa.timestamp("us", tz="UTC")),
            "ordered_at_local": pa.array(
                [r[3].replace(tzinfo=None) for r in rows], pa.timestamp("us")
            ),
            "channel": pa.array(["counter"] * len(rows), pa.string()),
        },
    )


def test_a_date_only_redemption_sits_at_the_usual_store_on_its_date_with_no_daypart(
    tmp_path: Path,
) -> None:
    day = dt.datetime(2025, 3, 12, tzinfo=UTC)  # a Wednesday, stamped at midnight
    orders = _orders(
        tmp_path,
        [
            ("O-1", "C1", "S2", day - dt.timedelta(days=9)),
            ("O-2", "C1", "S2", day - dt.timedelta(days=5)),
            ("O-3", "C1", "S1", day - dt.timedelta(days=2)),
            # Most of their orders would be at S3, but these come after the redemption.
            ("O-4", "C1", "S3", day + dt.timedelta(hours=15)),
            ("O-5", "C1", "S3", day + dt.timedelta(days=1)),
            ("O-6", "C1", "S3", day + dt.timedelta(days=2)),
        ],
    )
    redemptions = _write(
        tmp_path / "dated.parquet",
        {
            "customer_id": pa.array(["C1"], pa.string()),
            "offer_id": pa.array(["DEAL"], pa.string()),
            "redeemed_at": pa.array([day], pa.timestamp("us", tz="UTC")),
            # As the lake keeps an extract without them: the columns, empty.
            "order_id": pa.array([None], pa.string()),
            "store_id": pa.array([None], pa.string()),
        },
    )
    task = ExamplesTask(
        month="2025-03",
        redemptions=[redemptions],
        history_redemptions=[redemptions],
        order_lines=[_lines(tmp_path, [("O-4", "C1", day + dt.timedelta(hours=15), "fries")])],
        orders=[orders],
        weather=[],
        memberships=[],
        stores=[("S1", "value"), ("S2", "premium"), ("S3", "value")],
        dayparts=[("breakfast", 300, 630), ("late_night", 1260, 300)],
        history_length=20,
        unknown="none",
        output=str(tmp_path / "out"),
    )

    example = pq.read_table(month_examples(task).examples).to_pandas().iloc[0]

    assert (example["store"], example["tier"]) == ("S2", "premium")
    assert example["weekday"] == "3" and example["daypart"] == "none"
    assert example["channel"] == "none"
    assert pd.Timestamp(example["local_at"]) == pd.Timestamp("2025-03-12")
