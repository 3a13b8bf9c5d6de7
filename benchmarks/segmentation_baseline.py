"""Baseline: the segmentation's features and K-Means in one process, DuckDB + scikit-learn.

Reads the same lake (the Parquet files of orders and order lines by month), computes the same
per customer-month features as the Spark job (visits, spend, margin, recency, tenure, items,
weekend, offer and daypart/channel shares), scales them the same way (log1p on counts, then
standard scaling), fits K-Means on a sample of the same size, assigns every customer-month
and writes the memberships to one Parquet file. No database, no Spark, no run record.

    VAR_DIR=... python benchmarks/segmentation_baseline.py --k 8 --out memberships.parquet
"""

import argparse
import os
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")

COUNTS = ["visits", "avg_spend", "avg_margin", "recency_days", "tenure_days", "items_per_order"]
SAMPLE = 200_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    frame, names, raw = features_logged()
    rng = np.random.default_rng(1)
    sample = raw[rng.choice(len(raw), size=min(SAMPLE, len(raw)), replace=False)]
    center, scale = sample.mean(axis=0), sample.std(axis=0)
    scale[~(scale > 1e-9)] = 1.0
    scaled = (raw - center) / scale
    model = KMeans(n_clusters=args.k, n_init=8, random_state=1).fit((sample - center) / scale)
    labels = model.predict(scaled)
    distances = np.linalg.norm(scaled - model.cluster_centers_[labels], axis=1)
    out = pa.table(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "period": frame["period"].to_numpy(),
            "segment": labels,
            "distance": distances,
        }
    )
    pq.write_table(out, args.out)
    print(f"baseline: {len(frame):,} customer-months, {len(names)} features, k={args.k}")


def features_logged() -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Every customer-month's features from the lake, counts through log1p."""
    lake, dayparts = _lake_and_dayparts()
    with duckdb.connect() as db:
        db.execute("SET preserve_insertion_order = false")
        frame = db.sql(_features_sql(lake, dayparts)).df()
    names = [c for c in frame.columns if c not in ("customer_id", "period")]
    raw = frame[names].to_numpy(dtype=np.float64)
    for index, name in enumerate(names):
        if name in COUNTS:
            raw[:, index] = np.log1p(np.maximum(raw[:, index], 0.0))
    return frame, names, raw


def _lake_and_dayparts() -> tuple[Path, list[tuple[str, int, int]]]:
    import django

    django.setup()
    from deepflame_web.core.lake import lake_root
    from offers.dayparts import daypart_minutes, daypart_rows

    return lake_root(), daypart_rows(daypart_minutes())


def _features_sql(lake: Path, dayparts: list[tuple[str, int, int]]) -> str:
    shares = ",\n".join(
        f'count(*) FILTER (WHERE {_window(start, end)}) / count(*) AS "daypart_share:{name}"'
        for name, start, end in dayparts
    )
    return f"""
    WITH o AS (
        SELECT order_id, customer_id, total, gross_margin, channel, ordered_at_local AS t,
               strftime(ordered_at_local, '%Y-%m') AS period,
               hour(ordered_at_local) * 60 + minute(ordered_at_local) AS minute_of_day
        FROM read_parquet('{lake}/orders/*/*.parquet') WHERE customer_id IS NOT NULL
    ), l AS (
        SELECT order_id, sum(quantity) AS items, count(offer_id) AS offer_lines
        FROM read_parquet('{lake}/order_lines/*/*.parquet') WHERE customer_id IS NOT NULL
        GROUP BY order_id
    ), monthly AS (
        SELECT customer_id, period,
               count(*) AS visits, avg(total) AS avg_spend,
               coalesce(avg(gross_margin), 0) AS avg_margin,
               max(t) AS last_visit, min(t) AS first_visit,
               coalesce(sum(items), 0) / count(*) AS items_per_order,
               count(*) FILTER (WHERE isodow(t) >= 6) / count(*) AS weekend_share,
               coalesce(sum(offer_lines), 0) / count(*) AS offer_rate,
               {shares},
               count(*) FILTER (WHERE channel = 'drive_thru') / count(*) AS "channel_share:dt",
               count(*) FILTER (WHERE channel = 'mobile_app') / count(*) AS "channel_share:app",
               count(*) FILTER (WHERE channel = 'kiosk') / count(*) AS "channel_share:kiosk",
               count(*) FILTER (WHERE channel = 'counter') / count(*) AS "channel_share:counter",
               count(*) FILTER (WHERE channel = 'delivery') / count(*) AS "channel_share:delivery"
        FROM o LEFT JOIN l USING (order_id)
        GROUP BY customer_id, period
    )
    SELECT * EXCLUDE (last_visit, first_visit),
           date_diff('second', last_visit, strptime(period, '%Y-%m') + INTERVAL 1 MONTH)
               / 86400.0 AS recency_days,
           date_diff('second',
                     min(first_visit) OVER (PARTITION BY customer_id ORDER BY period
                                            ROWS UNBOUNDED PRECEDING),
                     strptime(period, '%Y-%m') + INTERVAL 1 MONTH) / 86400.0 AS tenure_days
    FROM monthly
    """


def _window(start: int, end: int) -> str:
    if end > start:
        return f"minute_of_day >= {start} AND minute_of_day < {end}"
    return f"(minute_of_day >= {start} OR minute_of_day < {end})"


if __name__ == "__main__":
    main()
