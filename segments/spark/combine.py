"""Driver side of the feature job: months of additive aggregates become features per period.

A period is a calendar month; with a look-back of L months its features sum the aggregates of
that month and the L-1 before it. Tenure needs the first visit ever, so the first visit is
carried across months here, vectorized, instead of re-reading the lake.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.spark.partials import BASE_COLUMNS, CHANNEL_PREFIX, DAYPART_PREFIX

DAY_SECONDS = 86_400.0
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
    partials: dict[str, pd.DataFrame],
    periods: list[str],
    lookback: int,
    dayparts: list[str],
    channels: list[str],
) -> pd.DataFrame:
    """Features of every customer with at least one visit in each period's window."""
    first_ever = pd.Series(dtype="datetime64[us]")
    frames = []
    for month in sorted(partials):
        first_ever = _carry_first_visit(first_ever, partials[month])
        if month not in periods:
            continue
        window = [partials[m] for m in window_months(month, lookback) if m in partials]
        totals = _sum_window(window, dayparts, channels)
        frames.append(_features(totals, month, first_ever, dayparts, channels))
    if not frames:
        columns = ["customer_id", "period", *feature_names(dayparts=dayparts, channels=channels)]
        return pd.DataFrame(columns=[*columns, "primary_channel"])
    return pd.concat(frames, ignore_index=True)


def _carry_first_visit(first_ever: pd.Series, month: pd.DataFrame) -> pd.Series:
    current = month.set_index("customer_id")["first_visit"]
    if first_ever.empty:
        return current
    both = pd.concat([first_ever, current])
    return both.groupby(level=0, sort=False).min()


def _sum_window(
    window: list[pd.DataFrame], dayparts: list[str], channels: list[str]
) -> pd.DataFrame:
    additive = [
        *BASE_COLUMNS,
        *(f"{DAYPART_PREFIX}{d}" for d in dayparts),
        *(f"{CHANNEL_PREFIX}{c}" for c in channels),
    ]
    aligned = [frame.reindex(columns=["customer_id", *additive, "last_visit"]) for frame in window]
    if len(aligned) == 1:
        only = aligned[0].copy()
        only[additive] = only[additive].fillna(0.0)
        return only
    stacked = pd.concat(aligned, ignore_index=True)
    stacked[additive] = stacked[additive].fillna(0.0)
    grouped = stacked.groupby("customer_id", sort=True)
    totals = grouped[additive].sum()
    totals["last_visit"] = grouped["last_visit"].max()
    return totals.reset_index()


def _features(
    totals: pd.DataFrame,
    month: str,
    first_ever: pd.Series,
    dayparts: list[str],
    channels: list[str],
) -> pd.DataFrame:
    visits = totals["visits"].to_numpy(dtype=np.float64)
    end = period_end(month).to_datetime64()
    first = first_ever.reindex(totals["customer_id"]).to_numpy()
    margin_orders = totals["margin_orders"].to_numpy(dtype=np.float64)
    out = {
        "customer_id": totals["customer_id"].to_numpy(),
        "period": np.full(len(totals), month, dtype=object),
        "visits": visits,
        "avg_spend": totals["spend"].to_numpy(dtype=np.float64) / visits,
        "avg_margin": np.divide(
            totals["margin_sum"].to_numpy(dtype=np.float64),
            margin_orders,
            out=np.zeros(len(totals)),
            where=margin_orders > 0,
        ),
        "recency_days": _days(end - _instants(totals["last_visit"])),
        "tenure_days": _days(end - _instants(first)),
        "items_per_order": totals["items"].to_numpy(dtype=np.float64) / visits,
        "weekend_share": totals["weekend_visits"].to_numpy(dtype=np.float64) / visits,
        "offer_rate": totals["offer_lines"].to_numpy(dtype=np.float64) / visits,
    }
    for name in dayparts:
        out[f"{DAYPART_SHARE}{name}"] = totals[f"{DAYPART_PREFIX}{name}"].to_numpy() / visits
    channel_counts = (
        np.column_stack(
            [totals[f"{CHANNEL_PREFIX}{name}"].to_numpy(dtype=np.float64) for name in channels]
        )
        if channels
        else np.zeros((len(totals), 0))
    )
    for index, name in enumerate(channels):
        out[f"{CHANNEL_SHARE}{name}"] = channel_counts[:, index] / visits
    primary = (
        np.asarray(channels, dtype=object)[channel_counts.argmax(axis=1)]
        if channels
        else np.full(len(totals), "", dtype=object)
    )
    out["primary_channel"] = primary
    return pd.DataFrame(out)


def _instants(values: object) -> np.ndarray:
    return np.asarray(pd.to_datetime(values), dtype="datetime64[us]")


def _days(delta: np.ndarray) -> np.ndarray:
    return delta.astype("timedelta64[us]").astype(np.float64) / (DAY_SECONDS * 1e6)
