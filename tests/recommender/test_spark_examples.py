"""Training examples prepared on Spark (one task per month of redemptions) against references
computed here straight from the lake, on the tiny generated chain."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepflame_web.core.lake import LakeStage, lake_paths, lake_root
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from offers.models import Daypart, Store
from recommender.ml import training_data
from recommender.ml.training_data import HISTORY_LENGTH, UNKNOWN, raw_examples
from segments.models import SegmentDefinition
from segments.selectors import memberships_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
UTC = dt.UTC


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{p}'" for p in paths) + "]"


def _lake(table: str) -> str:
    return f"read_parquet({_sql_list(lake_paths(table=table))}, union_by_name=true)"


def _one(query: str, parameters: dict[str, object] | None = None) -> tuple:
    """The one row a query over the lake returns (None when it returns none)."""
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        return db.execute(query, parameters or {}).fetchone()  # type: ignore[return-value]


def _local_month(instant: dt.datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def _redemptions_add(rows: list[tuple[str, str, dt.datetime, str]]) -> list[str]:
    """Append redemptions (customer, offer, UTC instant, store) to the lake the way an import
    does: files partitioned by the store-local month, listed in the manifest."""
    schema = pq.read_schema(lake_paths(table="offer_redemptions")[0])
    zones = dict(Store.objects.values_list("store_id", "timezone"))
    columns: dict[str, list[object]] = {
        "customer_id": [r[0] for r in rows],
        "offer_id": [r[1] for r in rows],
        "redeemed_at": [r[2] for r in rows],
        "store_id": [r[3] for r in rows],
        "month": [_local_month(r[2], zones[r[3]]) for r in rows],
    }
    table = pa.table(
        {
            field.name: pa.array(columns.get(field.name, [None] * len(rows)), field.type)
            for field in schema
        }
    )
    run = Run.objects.create(
        kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="test: boundary redemptions"
    )
    stage = LakeStage(run.pk)
    stage.write(table="offer_redemptions", data=table)
    LakeFile.objects.bulk_create(stage.files)
    return sorted(f.month for f in stage.files)


def _history_reference(
    customer_id: str, before: pd.Timestamp, own_order: str | None = None
) -> list[tuple[str, str, object]]:
    """The customer's last events strictly before `before` and outside the example's own
    order, most recent first (an offer before an item at the same instant, then by token
    descending)."""
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        rows = db.execute(
            f"""SELECT 'item', item_id, ordered_at FROM {_lake("order_lines")}
                WHERE customer_id = $c AND ordered_at < $t
                  AND order_id IS DISTINCT FROM $o
                UNION ALL
                SELECT 'offer', offer_id, redeemed_at FROM {_lake("offer_redemptions")}
                WHERE customer_id = $c AND redeemed_at < $t
                  AND ($o IS NULL OR order_id IS NULL OR order_id <> $o)""",
            {"c": customer_id, "t": before.to_pydatetime(), "o": own_order},
        ).fetchall()
    rows.sort(key=lambda r: r[1], reverse=True)
    rows.sort(key=lambda r: r[0] == "item")
    rows.sort(key=lambda r: r[2], reverse=True)
    return [(kind, token, pd.Timestamp(at)) for kind, token, at in rows[:HISTORY_LENGTH]]


def _purchases_reference(
    customer_id: str, before: pd.Timestamp, own_order: str | None
) -> dict[str, int]:
    """How often the customer bought each item strictly before `before`, outside the
    example's own order, over the whole lake."""
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        rows = db.execute(
            f"""SELECT item_id, count(*) FROM {_lake("order_lines")}
                WHERE customer_id = $c AND ordered_at < $t AND order_id IS DISTINCT FROM $o
                GROUP BY item_id""",
            {"c": customer_id, "t": before.to_pydatetime(), "o": own_order},
        ).fetchall()
    return {item: int(count) for item, count in rows}


def _purchases(purchases: pd.DataFrame, example: int) -> dict[str, int]:
    mine = purchases[purchases["example"] == example]
    return dict(zip(mine["item"], mine["purchases"].astype(int), strict=True))


def _history(events: pd.DataFrame, example: int) -> list[tuple[str, str, object]]:
    mine = events[events["example"] == example]
    assert mine["back"].tolist() == list(range(1, len(mine) + 1))
    return [
        (kind, token, pd.Timestamp(at))
        for kind, token, at in zip(mine["kind"], mine["token"], mine["at_utc"], strict=True)
    ]


def _daypart(minute: int) -> str:
    for d in Daypart.objects.order_by("start"):
        start, end = d.start.hour * 60 + d.start.minute, d.end.hour * 60 + d.end.minute
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if inside:
            return d.name
    return UNKNOWN


def _weather(temp: float | None, precip: float | None) -> str:
    if temp is None:
        return UNKNOWN
    heat = "cold" if temp < 5 else "mild" if temp < 18 else "warm" if temp < 27 else "hot"
    return f"{heat}-{'wet' if (precip or 0) >= 1 else 'dry'}"


def _context_reference(row: pd.Series) -> dict[str, str]:
    """The context of one example from the lake, the catalog and the memberships: the local
    time is the order's, in its store's time zone; the segment is last month's."""
    store = Store.objects.get(store_id=row["store"])
    ordered_at, channel = _one(
        f"""SELECT o.ordered_at, o.channel FROM {_lake("offer_redemptions")} r
            JOIN {_lake("orders")} o USING (order_id)
            WHERE r.customer_id = $c AND r.offer_id = $o AND r.redeemed_at = $t""",
        {"c": row["customer_id"], "o": row["offer_id"], "t": row["at_utc"].to_pydatetime()},
    )
    local = ordered_at.astimezone(ZoneInfo(store.timezone)).replace(tzinfo=None)
    weather = _one(
        f"SELECT temp_c, precip_mm FROM {_lake('weather')} WHERE store_id = $s AND date = $d",
        {"s": store.store_id, "d": local.date()},
    )
    previous = (local.date().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    definition = SegmentDefinition.objects.get(is_active=True)
    members = memberships_frame(definition=definition)
    segment = members[
        (members["customer_id"] == row["customer_id"]) & (members["period"] == previous)
    ]
    return {
        "local_at": str(pd.Timestamp(local)),
        "tier": store.pricing_tier,
        "channel": channel,
        "daypart": _daypart(local.hour * 60 + local.minute),
        "weekday": str(local.isoweekday() % 7),
        "weather": _weather(*weather) if weather else UNKNOWN,
        "segment": str(segment["segment"].iloc[0]) if len(segment) else UNKNOWN,
    }


def test_spark_prepared_examples_match_the_lake_across_month_boundaries(
    chain: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A customer with a long history redeems in the first minutes of February (Eastern time,
    # so the lake files it under February while its history is all in January's files), and
    # once late on 31 January in Pacific time, after an Eastern redemption that the lake
    # files under February (it is already 1 February there): that January example's history
    # has to come from the next month's files.
    eastern = Store.objects.filter(timezone="America/New_York").values_list("store_id", flat=True)
    pacific = Store.objects.filter(timezone="America/Los_Angeles").values_list(
        "store_id", flat=True
    )
    assert eastern and pacific
    customer, offer = _one(
        f"""SELECT customer_id, (SELECT min(offer_id) FROM {_lake("offer_redemptions")})
            FROM {_lake("order_lines")}
            WHERE customer_id IS NOT NULL AND ordered_at < TIMESTAMPTZ '2025-02-01 00:00:00+00'
            GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1"""
    )
    first_minutes = dt.datetime(2025, 2, 1, 5, 2, tzinfo=UTC)  # 00:02 in New York
    next_month_event = dt.datetime(2025, 2, 1, 6, 0, tzinfo=UTC)  # 01:00 in New York
    late_january = dt.datetime(2025, 2, 1, 7, 0, tzinfo=UTC)  # 23:00 on 31 Jan in Los Angeles
    months = _redemptions_add(
        [
            (customer, offer, first_minutes, eastern[0]),
            (customer, offer, next_month_event, eastern[0]),
            (customer, offer, late_january, pacific[0]),
        ]
    )
    assert months == ["2025-01", "2025-02"]

    raw = raw_examples()
    frame, events = raw.frame, raw.events

    assert not list((lake_root() / "_scratch").glob("training-examples-*"))
    (redemptions,) = _one(f"SELECT count(*) FROM {_lake('offer_redemptions')}")
    assert len(frame) == redemptions
    assert frame["example"].tolist() == list(range(len(frame)))
    keys = list(zip(frame["at_utc"], frame["customer_id"], frame["offer_id"], strict=True))
    assert keys == sorted(keys)
    assert (events.groupby("example")["back"].max() <= HISTORY_LENGTH).all()
    assert events[["example", "back"]].equals(
        events[["example", "back"]].sort_values(["example", "back"]).reset_index(drop=True)
    )

    def example_at(instant: dt.datetime) -> int:
        at = pd.Timestamp(instant)
        found = frame[(frame["customer_id"] == customer) & (frame["at_utc"] == at)]
        assert len(found) == 1
        return int(found["example"].iloc[0])

    boundary = _history(events, example_at(first_minutes))
    # All of it is in January's files, the task of February reads them.
    assert len(boundary) >= 5
    assert pd.Timestamp("2025-01-01", tz="UTC") <= boundary[0][2] < pd.Timestamp(first_minutes)
    assert boundary == _history_reference(customer, pd.Timestamp(first_minutes))
    late = _history(events, example_at(late_january))
    assert late[0] == ("offer", offer, pd.Timestamp(next_month_event))
    assert late == _history_reference(customer, pd.Timestamp(late_january))

    added = {pd.Timestamp(t) for t in (first_minutes, next_month_event, late_january)}
    picks = [*range(0, len(frame), max(1, len(frame) // 8)), len(frame) - 1]
    for example in picks:
        row = frame.loc[example]
        own = row["order_id"] if isinstance(row["order_id"], str) else None
        assert _history(events, example) == _history_reference(
            row["customer_id"], row["at_utc"], own
        )
        assert _purchases(raw.purchases, example) == _purchases_reference(
            row["customer_id"], row["at_utc"], own
        )
        if row["customer_id"] == customer and row["at_utc"] in added:
            continue
        expected = _context_reference(row)
        assert str(row["local_at"]) == expected.pop("local_at")
        assert {name: row[name] for name in expected} == expected, example
    assert {frame.loc[e, "segment"] for e in picks} - {UNKNOWN}

    def failing(tasks: list[dict[str, object]]) -> list[dict[str, object]]:
        Path(str(tasks[0]["output"])).mkdir(parents=True)
        (Path(str(tasks[0]["output"])) / "partial.parquet").write_bytes(b"")
        raise RuntimeError("executor lost")

    monkeypatch.setattr(training_data, "_examples_on_spark", failing)
    with pytest.raises(RuntimeError):
        raw_examples()
    assert not list((lake_root() / "_scratch").glob("training-examples-*"))
