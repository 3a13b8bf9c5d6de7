"""The work of one Spark task: one month of the lake to additive per-customer aggregates.

This module imports neither Django nor Spark, so an executor runs it with only pyarrow and
DuckDB, and the driver ships it by value (no project install needed on the cluster). The
aggregates are sums, counts, minimum and maximum, so the driver can add months into any
look-back window without re-reading the lake.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

DAYPART_PREFIX = "dp:"
CHANNEL_PREFIX = "ch:"
SAFE_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
BASE_COLUMNS = (
    "visits",
    "spend",
    "margin_sum",
    "margin_orders",
    "items",
    "offer_lines",
    "weekend_visits",
)


@dataclass(frozen=True)
class MonthTask:
    """Everything a task needs, as plain values: the files come from the lake manifest."""

    month: str
    orders: list[str]
    order_lines: list[str]
    dayparts: list[tuple[str, int, int]]
    """offers.dayparts.daypart_rows: (name, start minute, end minute) in store local time;
    end <= start wraps midnight."""
    output: str
    threads: int = 1


@dataclass(frozen=True)
class MonthResult:
    month: str
    path: str
    customers: int
    channels: list[str]


def month_partials(task: MonthTask) -> MonthResult:
    """Aggregate one month per customer and write it as one Parquet file at `task.output`."""
    with duckdb.connect(config={"threads": task.threads}) as db:
        db.execute("SET preserve_insertion_order = false")
        channels = _month_channels(db, task)
        table = db.sql(_base_query(task, channels)).arrow()
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
    Path(task.output).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{task.output}.tmp-{os.getpid()}"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, task.output)
    return MonthResult(task.month, task.output, table.num_rows, channels)


def _month_channels(db: duckdb.DuckDBPyConnection, task: MonthTask) -> list[str]:
    """The chain's own channel names seen this month (one column of counts each)."""
    rows = db.sql(
        f"""SELECT DISTINCT channel FROM read_parquet({_files(task.orders)})
            WHERE customer_id IS NOT NULL AND channel IS NOT NULL ORDER BY channel"""
    ).fetchall()
    return [row[0] for row in rows]


def _files(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _daypart_sql(name: str, start: int, end: int) -> str:
    if not SAFE_NAME.match(name):
        raise ValueError(f"daypart name {name!r} is not a plain slug")
    if end > start:
        condition = f"minute_of_day >= {start} AND minute_of_day < {end}"
    else:
        condition = f"minute_of_day >= {start} OR minute_of_day < {end}"
    return f'count(*) FILTER (WHERE {condition}) AS "{DAYPART_PREFIX}{name}"'


def _channel_sql(name: str) -> str:
    literal = name.replace("'", "''")
    column = f"{CHANNEL_PREFIX}{name}".replace('"', '""')
    return f"count(*) FILTER (WHERE channel = '{literal}')::DOUBLE AS \"{column}\""


def _base_query(task: MonthTask, channels: list[str]) -> str:
    """Orders of known customers joined to their line totals, then summed per customer."""
    dayparts = ",\n".join(_daypart_sql(*part) for part in task.dayparts)
    channel_counts = "".join(f",\n{_channel_sql(name)}" for name in channels)
    lines = (
        f"""SELECT order_id, sum(quantity) AS items, count(offer_id) AS offer_lines
            FROM read_parquet({_files(task.order_lines)})
            WHERE customer_id IS NOT NULL GROUP BY order_id"""
        if task.order_lines
        else "SELECT NULL::VARCHAR AS order_id, 0 AS items, 0 AS offer_lines WHERE false"
    )
    return f"""
        WITH o AS (
            SELECT order_id, customer_id, channel, total, gross_margin, ordered_at_local,
                   hour(ordered_at_local) * 60 + minute(ordered_at_local) AS minute_of_day,
                   isodow(ordered_at_local) >= 6 AS weekend
            FROM read_parquet({_files(task.orders)})
            WHERE customer_id IS NOT NULL
        ), l AS ({lines})
        SELECT customer_id,
               count(*)::DOUBLE AS visits,
               sum(total) AS spend,
               coalesce(sum(gross_margin), 0) AS margin_sum,
               count(gross_margin)::DOUBLE AS margin_orders,
               coalesce(sum(l.items), 0)::DOUBLE AS items,
               coalesce(sum(l.offer_lines), 0)::DOUBLE AS offer_lines,
               count(*) FILTER (WHERE weekend)::DOUBLE AS weekend_visits,
               {dayparts}{channel_counts},
               min(ordered_at_local) AS first_visit,
               max(ordered_at_local) AS last_visit
        FROM o LEFT JOIN l USING (order_id)
        GROUP BY customer_id
        ORDER BY customer_id
    """


def run_month(task: dict[str, object]) -> dict[str, object]:
    """The function Spark maps: plain dicts in and out, so nothing is pickled by reference."""
    result = month_partials(MonthTask(**task))  # type: ignore[arg-type]
    return {
        "month": result.month,
        "path": result.path,
        "customers": result.customers,
        "channels": result.channels,
    }
