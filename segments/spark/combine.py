"""Driver side of the feature job: months of additive aggregates become features per period.

A period is a calendar month; with a look-back of L months its features sum the aggregates of
that month and the L-1 before it. Tenure needs the first visit ever, so the first visit is
taken from the months' files instead of re-reading the lake. One DuckDB query over the months'
small files does it all, in the period and customer order the membership files keep.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from segments.spark.partials import BASE_COLUMNS, CHANNEL_PREFIX, DAYPART_PREFIX

DAY_MICROSECONDS = 86_400.0 * 1e6
COUNT_FEATURES = (
    "visits",
    "avg_spend",
    "avg_margin",
    "recency_days",
    "tenure_days",
    "items_per_order",
)
"""Heavy-tailed features: log1p before scaling."""
RATE_FEATURES = ("weekend_share", "offer_rate")
DAYPART_SHARE = "daypart_share:"
CHANNEL_SHARE = "channel_share:"


def month_shift(month: str, months: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def period_end(month: str) -> pd.Timestamp:
    """The first local instant after the period: recency and tenure are measured to it."""
    return pd.Timestamp(f"{month_shift(month, 1)}-01")


def window_months(period: str, lookback: int) -> list[str]:
    return [month_shift(period, -back) for back in range(lookback - 1, -1, -1)]


def feature_names(*, dayparts: list[str], channels: list[str]) -> list[str]:
    """The numeric feature columns, in the order the segment definition stores them."""
    return [
        *COUNT_FEATURES,
        *RATE_FEATURES,
        *(f"{DAYPART_SHARE}{name}" for name in dayparts),
        *(f"{CHANNEL_SHARE}{name}" for name in channels),
    ]


def period_features(
    *,
    partials: dict[str, str],
    periods: list[str],
    lookback: int,
    dayparts: list[str],
    channels: list[str],
) -> pd.DataFrame:
    """Features of every customer with at least one visit in each period's window, ordered by
    period then customer; `partials` maps each month to its file of per-customer aggregates."""
    windows = [
        (period, month)
        for period in periods
        if period in partials
        for month in window_months(period, lookback)
        if month in partials
    ]
    if not windows:
        columns = ["customer_id", "period", *feature_names(dayparts=dayparts, channels=channels)]
        return pd.DataFrame(columns=[*columns, "primary_channel"])
    with duckdb.connect() as db:
        db.execute("SET preserve_insertion_order = false")
        files = pd.DataFrame({"file": list(partials.values()), "month": list(partials)})
        db.register("files", files)
        db.register("windows", pd.DataFrame(windows, columns=["period", "month"]))
        query = _features_sql(list(partials.values()), dayparts, channels, lookback)
        frame = db.sql(query).arrow().read_all().to_pandas()
    return _with_primary_channel(frame, channels)


def _features_sql(files: list[str], dayparts: list[str], channels: list[str], lookback: int) -> str:
    counts = [
        *BASE_COLUMNS,
        *(f"{DAYPART_PREFIX}{d}" for d in dayparts),
        *(f"{CHANNEL_PREFIX}{c}" for c in channels),
    ]
    shares = [
        *(_share(DAYPART_PREFIX, DAYPART_SHARE, name) for name in dayparts),
        *(_share(CHANNEL_PREFIX, CHANNEL_SHARE, name) for name in channels),
    ]
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    return f"""
    WITH monthly AS (
        SELECT p.*, files.month
        FROM read_parquet({listed}, union_by_name = true, filename = true) p
        JOIN files ON p.filename = files.file
    ), first_visits AS (
        -- A customer's earliest month is at or before any period they are active in, so the
        -- first visit of all months read is the first visit up to that period.
        SELECT customer_id, min(first_visit) AS first_ever FROM monthly GROUP BY customer_id
    ), totals AS ({_window_totals(counts, lookback)})
    SELECT customer_id, period,
           visits,
           spend / visits AS avg_spend,
           CASE WHEN margin_orders > 0 THEN margin_sum / margin_orders ELSE 0.0 END AS avg_margin,
           (period_end_us - epoch_us(last_visit)) / {DAY_MICROSECONDS} AS recency_days,
           (period_end_us - epoch_us(first_ever)) / {DAY_MICROSECONDS} AS tenure_days,
           items / visits AS items_per_order,
           weekend_visits / visits AS weekend_share,
           offer_lines / visits AS offer_rate{"".join(", " + s for s in shares)}
    FROM totals JOIN first_visits USING (customer_id)
    ORDER BY period, customer_id
    """


def _window_totals(counts: list[str], lookback: int) -> str:
    """Each customer's sums over each period's months. A one-month window is the month's own
    row: grouping 6M rows into 6M groups would cost seconds for nothing."""
    period_end = "epoch_us(strptime(w.period, '%Y-%m') + INTERVAL 1 MONTH) AS period_end_us"
    join = "FROM monthly m JOIN windows w ON m.month = w.month"
    if lookback == 1:
        values = ", ".join(f"coalesce(m.{_quoted(c)}, 0) AS {_quoted(c)}" for c in counts)
        return f"SELECT w.period, m.customer_id, {values}, m.last_visit, {period_end} {join}"
    sums = ", ".join(f"sum(coalesce(m.{_quoted(c)}, 0)) AS {_quoted(c)}" for c in counts)
    return f"""SELECT w.period, m.customer_id, {sums}, max(m.last_visit) AS last_visit,
                      {period_end} {join} GROUP BY w.period, m.customer_id"""


def _share(count_prefix: str, share_prefix: str, name: str) -> str:
    return f"{_quoted(count_prefix + name)} / visits AS {_quoted(share_prefix + name)}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_primary_channel(frame: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    """The channel with the largest share (the first in name order on a tie)."""
    best = np.zeros(len(frame), dtype=np.int64)
    if channels:
        top = frame[f"{CHANNEL_SHARE}{channels[0]}"].to_numpy()
        for index, name in enumerate(channels[1:], start=1):
            share = frame[f"{CHANNEL_SHARE}{name}"].to_numpy()
            best[share > top] = index
            top = np.maximum(top, share)
    frame["primary_channel"] = np.asarray(channels or [""], dtype=object)[best]
    return frame
