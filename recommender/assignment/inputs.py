"""What the engine needs to know of every customer at an instant, read from the lake at once:
recent events, long-horizon purchases, usual store, channel and daypart, segment and
trajectory, the day's weather."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd

from deepflame_web.core.lake import lake_paths
from offers.dayparts import MINUTES_PER_DAY, Window, daypart_at
from offers.eligibility import store_local_time
from offers.models import Store
from recommender.ml.affinity import PURCHASE_MEASURES
from recommender.ml.spark_examples import PURCHASE_HALF_LIVES
from recommender.ml.training_data import UNKNOWN
from segments.models import Customer, CustomerSegment, SegmentDefinition
from segments.selectors import memberships_frame


def _files(table: str) -> str | None:
    paths = [str(p) for p in lake_paths(table=table)]
    if not paths:
        return None
    return "read_parquet([" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "])"


def _histories(db: duckdb.DuckDBPyConnection, at: dt.datetime, length: int) -> pd.DataFrame:
    """customer_id, history: the last `length` events strictly before `at`, oldest first (an
    item and an offer at the same instant: the offer first, as in training)."""
    lines, redemptions = _files("order_lines"), _files("offer_redemptions")
    parts = []
    if lines:
        parts.append(
            f"SELECT customer_id, ordered_at AS t, 'item:' || item_id AS token, 1 AS rank "
            f"FROM {lines} WHERE customer_id <> '' AND ordered_at < $at"
        )
    if redemptions:
        parts.append(
            f"SELECT customer_id, redeemed_at AS t, 'offer:' || offer_id AS token, 0 AS rank "
            f"FROM {redemptions} WHERE redeemed_at < $at"
        )
    if not parts:
        return pd.DataFrame({"customer_id": [], "history": []})
    return db.execute(
        f"""WITH events AS ({" UNION ALL ".join(parts)}),
            ranked AS (
                SELECT customer_id, token,
                       row_number() OVER (PARTITION BY customer_id
                                          ORDER BY t DESC, rank, token DESC) AS back
                FROM events)
            SELECT customer_id, list(token ORDER BY back DESC) AS history
            FROM ranked WHERE back <= {int(length)} GROUP BY customer_id""",
        {"at": at},
    ).df()


PURCHASE_DIGITS = 4


def _purchases(db: duckdb.DuckDBPyConnection, at: dt.datetime) -> pd.DataFrame:
    """customer_id, purchases: {item: [count, decayed by each half-life...]} of every order
    line before `at` (PURCHASE_MEASURES, as the training examples count them), rounded."""
    lines = _files("order_lines")
    if not lines:
        return pd.DataFrame({"customer_id": [], "purchases": []})
    decayed = ", ".join(
        f"round(sum(exp(-ln(2) * epoch($at - ordered_at) / 86400.0 / {days})), "
        f"{PURCHASE_DIGITS}) AS decay_{days}"
        for days in PURCHASE_HALF_LIVES
    )
    bought = db.execute(
        f"""SELECT customer_id, item_id, count(*)::DOUBLE AS purchases, {decayed}
            FROM {lines} WHERE customer_id <> '' AND ordered_at < $at
            GROUP BY customer_id, item_id ORDER BY customer_id, item_id""",
        {"at": at},
    ).df()
    measures = bought[list(PURCHASE_MEASURES)].to_numpy(np.float64).tolist()
    items = bought["item_id"].tolist()
    by_customer: dict[str, dict[str, list[float]]] = {}
    for customer, item, values in zip(bought["customer_id"], items, measures, strict=True):
        by_customer.setdefault(customer, {})[item] = values
    return pd.DataFrame({"customer_id": list(by_customer), "purchases": list(by_customer.values())})


def _usual_places(db: duckdb.DuckDBPyConnection, at: dt.datetime) -> pd.DataFrame:
    """customer_id, home_store, channel: where and how each customer orders most (ties: the
    first by id), from orders before `at`."""
    orders = _files("orders")
    if not orders:
        return pd.DataFrame({"customer_id": [], "home_store": [], "channel": []})
    return db.execute(
        f"""WITH o AS (SELECT customer_id, store_id, channel FROM {orders}
                      WHERE customer_id <> '' AND ordered_at < $at),
            stores AS (SELECT customer_id, store_id, row_number() OVER (
                           PARTITION BY customer_id ORDER BY count(*) DESC, store_id) AS n
                       FROM o GROUP BY customer_id, store_id),
            channels AS (SELECT customer_id, channel, row_number() OVER (
                           PARTITION BY customer_id ORDER BY count(*) DESC, channel) AS n
                         FROM o GROUP BY customer_id, channel)
            SELECT s.customer_id, s.store_id AS home_store, c.channel
            FROM stores s JOIN channels c ON c.customer_id = s.customer_id AND c.n = 1
            WHERE s.n = 1""",
        {"at": at},
    ).df()


RECENT_ORDERS = 30
"""A customer's usual daypart is the most frequent among this many of their latest orders."""


def _minute_dayparts(dayparts: dict[str, Window]) -> pd.DataFrame:
    """minute_of_day, daypart: each local minute of the day and the daypart it is in (as
    offers.dayparts.daypart_at decides), minutes outside every daypart left out."""
    names = [daypart_at(dt.time(m // 60, m % 60), dayparts) for m in range(MINUTES_PER_DAY)]
    return pd.DataFrame(
        {"minute_of_day": np.arange(MINUTES_PER_DAY, dtype=np.int64), "daypart": names}
    ).dropna()


def _usual_dayparts(
    db: duckdb.DuckDBPyConnection, at: dt.datetime, dayparts: dict[str, Window]
) -> tuple[pd.DataFrame, str | None]:
    """customer_id, usual_daypart: the most frequent daypart of each customer's last
    RECENT_ORDERS orders before `at`, in store-local time (ties: the one ordered in most
    recently, then by name); and the chain's most common daypart over all those orders."""
    orders = _files("orders")
    empty = pd.DataFrame({"customer_id": [], "usual_daypart": []})
    if not orders or not dayparts:
        return empty, None
    db.register("minute_dayparts", _minute_dayparts(dayparts))
    db.execute(
        f"""CREATE OR REPLACE TEMPORARY TABLE recent_dayparts AS
            WITH o AS (
                SELECT customer_id, ordered_at,
                       hour(ordered_at_local) * 60 + minute(ordered_at_local) AS minute_of_day,
                       row_number() OVER (PARTITION BY customer_id
                                          ORDER BY ordered_at DESC, order_id) AS back
                FROM {orders} WHERE customer_id <> '' AND ordered_at < $at)
            SELECT o.customer_id, m.daypart, count(*) AS orders, max(o.ordered_at) AS latest
            FROM o JOIN minute_dayparts m USING (minute_of_day)
            WHERE o.back <= {int(RECENT_ORDERS)}
            GROUP BY o.customer_id, m.daypart""",
        {"at": at},
    )
    usual = db.execute(
        """SELECT customer_id, daypart AS usual_daypart FROM (
               SELECT customer_id, daypart, row_number() OVER (
                   PARTITION BY customer_id ORDER BY orders DESC, latest DESC, daypart) AS n
               FROM recent_dayparts) WHERE n = 1"""
    ).df()
    chain = db.execute(
        "SELECT daypart FROM recent_dayparts GROUP BY daypart "
        "ORDER BY sum(orders) DESC, daypart LIMIT 1"
    ).fetchall()
    db.execute("DROP TABLE recent_dayparts")
    db.unregister("minute_dayparts")
    return usual, chain[0][0] if chain else None


def weather_bucket(temp_c: float | None, precip_mm: float | None) -> str:
    """Temperature band and wet or dry, as the training examples bucket the day's weather
    (recommender.ml.spark_examples._weather_bucket)."""
    if temp_c is None or math.isnan(temp_c):
        return UNKNOWN
    band = "cold" if temp_c < 5 else "mild" if temp_c < 18 else "warm" if temp_c < 27 else "hot"
    wet = precip_mm is not None and not math.isnan(precip_mm) and precip_mm >= 1
    return f"{band}-{'wet' if wet else 'dry'}"


def weather_table() -> dict[tuple[str, dt.date], str]:
    """(store, local date) -> weather bucket, for every day the lake has weather for."""
    weather = _files("weather")
    if not weather:
        return {}
    with duckdb.connect() as db:
        rows = db.execute(
            f"SELECT store_id, date, any_value(temp_c), any_value(precip_mm) FROM {weather} "
            "GROUP BY store_id, date"
        ).fetchall()
    return {(store, day): weather_bucket(temp, precip) for store, day, temp, precip in rows}


def store_weather(
    *, at: dt.datetime, stores: dict[str, Store], on: dt.date | None = None
) -> dict[str, str]:
    """Each store's weather bucket on its local date at `at`, or on the local date `on` (none
    when the lake has none)."""
    table = weather_table()
    days = {
        store_id: on or store_local_time(instant=at, timezone=store.timezone or "UTC").date()
        for store_id, store in stores.items()
    }
    return {s: table[(s, day)] for s, day in days.items() if (s, day) in table}


def _trajectories(definition: SegmentDefinition, *, through: str) -> pd.DataFrame:
    """customer_id, trajectory: [(period, segment key), ...] up to the period `through`."""
    memberships = memberships_frame(definition=definition)
    memberships = memberships[memberships["period"] <= through]
    if memberships.empty:
        return pd.DataFrame({"customer_id": [], "trajectory": []})
    ordered = memberships.sort_values(["customer_id", "period"], kind="stable")
    ids, starts = np.unique(ordered["customer_id"].to_numpy(str), return_index=True)
    pairs = list(zip(ordered["period"], ordered["segment"].astype(int).tolist(), strict=True))
    ends = [*starts[1:], len(pairs)]
    return pd.DataFrame(
        {"customer_id": ids, "trajectory": [pairs[a:b] for a, b in zip(starts, ends, strict=True)]}
    )


def customer_inputs(
    *,
    definition: SegmentDefinition,
    at: dt.datetime,
    history_length: int,
    dayparts: dict[str, Window] | None = None,
) -> pd.DataFrame:
    """One row per known customer: customer_id, segment_key (None without a segment),
    history (list), home_store, channel (empty when they never ordered), trajectory and
    purchases ({item: measures}, empty when they never ordered); given the chain's
    `dayparts`, also usual_daypart and daypart_basis ("usual", or "chain" for a customer
    without orders, who gets the chain's most common daypart; empty when no order of the
    chain is in a daypart)."""
    ids = Customer.objects.order_by("customer_id").values_list("customer_id", flat=True)
    customers = pd.DataFrame({"customer_id": list(ids)})
    segments = pd.DataFrame(
        list(
            CustomerSegment.objects.filter(definition=definition).values_list(
                "customer_id", "segment__key"
            )
        ),
        columns=["customer_id", "segment_key"],
    )
    with duckdb.connect() as db:
        histories = _histories(db, at, history_length)
        places = _usual_places(db, at)
        purchases = _purchases(db, at)
        usual, chain_daypart = _usual_dayparts(db, at, dayparts or {})
    trajectories = _trajectories(definition, through=f"{at:%Y-%m}")
    frame = customers
    for part in (segments, histories, places, trajectories, purchases):
        frame = frame.merge(part, on="customer_id", how="left")
    frame["segment_key"] = frame["segment_key"].astype("Int64")
    for column in ("home_store", "channel"):
        frame[column] = frame[column].fillna("")
    # DuckDB hands lists to pandas as arrays; a customer with none is NaN after the merge.
    for column in ("history", "trajectory"):
        frame[column] = [list(v) if isinstance(v, list | np.ndarray) else [] for v in frame[column]]
    frame["purchases"] = [v if isinstance(v, dict) else {} for v in frame["purchases"]]
    if dayparts is not None:
        frame = frame.merge(usual, on="customer_id", how="left")
        known = frame["usual_daypart"].notna()
        frame["daypart_basis"] = np.where(known, "usual", "chain" if chain_daypart else "")
        frame["usual_daypart"] = frame["usual_daypart"].fillna(chain_daypart or "")
    return frame
