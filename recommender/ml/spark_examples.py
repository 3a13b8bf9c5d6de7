"""The work of one Spark task of the recommender's training data: one month of redemptions.

For every offer redemption of the month (the example at its time t) the task computes the
context at t, the customer's last events strictly before t (items ordered and offers
redeemed) and their long-horizon purchases: every item they bought before t, counted and
decayed with several half-lives. The example's own order never counts, whatever its time
stamp says (a redemption stamped after its order would otherwise see its own basket). It
reads the lake files the driver listed with in-process DuckDB and writes three Parquet
files: the examples, numbered within the month in (t, customer, offer) order, their history
events with `back` ranks (1 is the latest) and their purchases. The driver renumbers the
months' examples into one sequence.

Months in the lake are store-local, so the driver hands each task the event files of every
month up to and including the next one: an event strictly before t can sit in the next local
month when its store is east of the redemption's store. The segment is the customer's segment
of the month before the example's local month; the membership files are read here, only the
months needed, so the millions of memberships never travel with the task.

Like `segments.spark.partials`, this module imports neither Django nor Spark, so the driver
ships it to the executors by value and they need only pyarrow and DuckDB.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

SAFE_MONTH = re.compile(r"^\d{4}-\d{2}$")
PURCHASE_HALF_LIVES = (14, 60, 180, 365)
"""Days; the purchase-affinity baseline chooses one on the validation weeks."""


@dataclass(frozen=True)
class ExamplesTask:
    """Everything a task needs, as plain values: the files come from the lake manifest."""

    month: str
    redemptions: list[str]
    """This month's redemption files: one example each."""
    history_redemptions: list[str]
    """Redemption files of every month up to and including the next: history events."""
    order_lines: list[str]
    """Order line files of every month up to and including the next: history events."""
    orders: list[str]
    """Order files of every month up to and including the next: local time and channel."""
    weather: list[str]
    """Weather files of every month up to and including the next."""
    memberships: list[str]
    """The active segment definition's membership files (every period; read by month)."""
    stores: list[tuple[str, str]]
    """(store id, pricing tier)."""
    dayparts: list[tuple[str, int, int]]
    """(name, start minute, end minute) in store local time; end <= start wraps midnight."""
    history_length: int
    unknown: str
    """The value of a context field that is missing."""
    output: str
    """The folder the two Parquet files go to."""
    threads: int = 1


@dataclass(frozen=True)
class ExamplesResult:
    month: str
    examples: str
    events: str
    purchases: str
    rows: int
    event_rows: int


def month_examples(task: ExamplesTask) -> ExamplesResult:
    """The month's examples and their history events, written as two Parquet files."""
    folder = Path(task.output)
    folder.mkdir(parents=True, exist_ok=True)
    examples_path = str(folder / f"{task.month}-examples.parquet")
    events_path = str(folder / f"{task.month}-events.parquet")
    purchases_path = str(folder / f"{task.month}-purchases.parquet")
    with duckdb.connect(config={"threads": task.threads}) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.register(
            "stores",
            pa.table(
                {
                    "store_id": pa.array([s for s, _ in task.stores], pa.string()),
                    "tier": pa.array([t for _, t in task.stores], pa.string()),
                }
            ),
        )
        db.register(
            "dayparts",
            pa.table(
                {
                    "daypart": pa.array([d[0] for d in task.dayparts], pa.string()),
                    "start_minute": pa.array([d[1] for d in task.dayparts], pa.int64()),
                    "end_minute": pa.array([d[2] for d in task.dayparts], pa.int64()),
                }
            ),
        )
        db.execute(f"CREATE TEMP TABLE examples AS {_examples_query(task)}")
        months = [
            row[0]
            for row in db.sql(
                "SELECT DISTINCT previous_month FROM examples WHERE previous_month IS NOT NULL"
            ).fetchall()
        ]
        db.execute(f"CREATE TEMP TABLE memberships AS {_memberships_query(task, months)}")
        rows = _copy(db, _context_query(task), examples_path)
        event_rows = _copy(db, _events_query(task), events_path)
        _copy(db, _purchases_query(task), purchases_path)
    return ExamplesResult(task.month, examples_path, events_path, purchases_path, rows, event_rows)


def _copy(db: duckdb.DuckDBPyConnection, query: str, path: str) -> int:
    """Write a query's rows to `path` whole or not at all; returns the number of rows."""
    tmp = f"{path}.tmp-{os.getpid()}"
    result = db.execute(f"COPY ({query}) TO {_literal(tmp)} (FORMAT parquet)").fetchone()
    os.replace(tmp, path)
    return int(result[0]) if result else 0


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read(files: list[str], empty: str) -> str:
    """The files as one relation, or `empty` (typed, no rows) when there are none."""
    if not files:
        return f"(SELECT {empty} WHERE false)"
    listed = "[" + ", ".join(_literal(p) for p in files) + "]"
    return f"read_parquet({listed}, union_by_name=true)"


def _examples_query(task: ExamplesTask) -> str:
    """The month's redemptions numbered in time order, with their order's local time.

    A redemption without an order or a store, stamped at midnight, is a date only (extracts
    that log coupons by day): its local time is that date with no time of day (so no daypart),
    and like any redemption without a store it is placed at the customer's usual store before
    it (where they ordered most), which is where batch assignment places them too."""
    redemptions = _read(
        task.redemptions,
        "NULL::VARCHAR AS customer_id, NULL::VARCHAR AS offer_id, "
        "NULL::TIMESTAMPTZ AS redeemed_at, NULL::VARCHAR AS order_id, "
        "NULL::VARCHAR AS store_id",
    )
    orders = _read(
        task.orders,
        "NULL::VARCHAR AS order_id, NULL::VARCHAR AS customer_id, NULL::VARCHAR AS store_id, "
        "NULL::TIMESTAMPTZ AS ordered_at, NULL::TIMESTAMP AS ordered_at_local, "
        "NULL::VARCHAR AS channel",
    )
    return f"""
        WITH base AS (
            SELECT row_number() OVER (ORDER BY r.redeemed_at, r.customer_id, r.offer_id) - 1
                       AS example,
                   r.customer_id, r.offer_id, r.redeemed_at AS t, r.order_id,
                   coalesce(r.store_id, o.store_id) AS store_id,
                   o.ordered_at_local AS local_at, o.channel,
                   r.order_id IS NULL AND r.store_id IS NULL
                       AND r.redeemed_at = date_trunc('day', r.redeemed_at) AS date_only
            FROM {redemptions} r
            LEFT JOIN (SELECT DISTINCT order_id, store_id, ordered_at_local, channel
                       FROM {orders}) o USING (order_id)
        ), usual AS (
            SELECT example, store_id FROM (
                SELECT b.example, o.store_id,
                       row_number() OVER (PARTITION BY b.example
                                          ORDER BY count(*) DESC, o.store_id) AS n
                FROM base b JOIN {orders} o
                  ON o.customer_id = b.customer_id AND o.ordered_at < b.t
                WHERE b.store_id IS NULL
                GROUP BY b.example, o.store_id)
            WHERE n = 1
        )
        SELECT *, CASE WHEN date_only THEN NULL
                       ELSE hour(local_at) * 60 + minute(local_at) END AS minute,
               strftime(CAST(local_at AS DATE) - INTERVAL 1 MONTH, '%Y-%m') AS previous_month
        FROM (
            SELECT b.example, b.customer_id, b.offer_id, b.t, b.order_id,
                   coalesce(b.store_id, u.store_id) AS store_id,
                   CASE WHEN b.date_only THEN CAST(CAST(b.t AS DATE) AS TIMESTAMP)
                        ELSE b.local_at END AS local_at,
                   b.channel, b.date_only
            FROM base b LEFT JOIN usual u USING (example)
        )"""


def _memberships_query(task: ExamplesTask, months: list[str]) -> str:
    """Memberships of the months the examples need (each file holds one period)."""
    empty = "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS month, NULL::VARCHAR AS segment"
    wanted = [m for m in months if SAFE_MONTH.match(m)]
    if not task.memberships or not wanted:
        return f"{empty} WHERE false"
    return f"""
        SELECT customer_id, month, CAST(segment_key AS VARCHAR) AS segment
        FROM {_read(task.memberships, "")}
        WHERE month IN ({", ".join(_literal(m) for m in wanted)})"""


def _weather_bucket(temp: str, precip: str, unknown: str) -> str:
    """Temperature band and wet (1 mm or more) or dry; `unknown` without a temperature."""
    return f"""CASE WHEN {temp} IS NULL OR isnan({temp}) THEN {unknown}
            ELSE (CASE WHEN {temp} < 5 THEN 'cold' WHEN {temp} < 18 THEN 'mild'
                       WHEN {temp} < 27 THEN 'warm' ELSE 'hot' END)
                 || (CASE WHEN {precip} >= 1 AND NOT isnan({precip}) THEN '-wet' ELSE '-dry' END)
            END"""


def _context_query(task: ExamplesTask) -> str:
    """One row per example: the context at t (store, tier, channel, daypart of the local
    time, weekday, the day's weather at the store, last month's segment)."""
    unknown = _literal(task.unknown)
    weather = _read(
        task.weather,
        "NULL::VARCHAR AS store_id, NULL::DATE AS date, NULL::DOUBLE AS temp_c, "
        "NULL::DOUBLE AS precip_mm",
    )
    bucket = _weather_bucket("CAST(w.temp_c AS DOUBLE)", "CAST(w.precip_mm AS DOUBLE)", unknown)
    return f"""
        SELECT e.example, e.customer_id, e.offer_id, e.order_id, e.t AS at_utc, e.local_at,
               coalesce(e.store_id, {unknown}) AS store, coalesce(s.tier, {unknown}) AS tier,
               coalesce(e.channel, {unknown}) AS channel,
               coalesce((SELECT min_by(d.daypart, d.start_minute) FROM dayparts d
                 WHERE (d.start_minute < d.end_minute
                        AND e.minute >= d.start_minute AND e.minute < d.end_minute)
                    OR (d.start_minute >= d.end_minute
                        AND (e.minute >= d.start_minute OR e.minute < d.end_minute))),
                 {unknown}) AS daypart,
               coalesce(CAST(dayofweek(e.local_at) AS VARCHAR), {unknown}) AS weekday,
               w.temp_c, w.precip_mm,
               coalesce(m.segment, {unknown}) AS segment,
               {bucket} AS weather
        FROM examples e
        LEFT JOIN stores s ON s.store_id = e.store_id
        LEFT JOIN (SELECT DISTINCT store_id, date, temp_c, precip_mm FROM {weather}) w
               ON w.store_id = e.store_id AND w.date = CAST(e.local_at AS DATE)
        LEFT JOIN memberships m
               ON m.customer_id = e.customer_id AND m.month = e.previous_month
        ORDER BY e.example"""


def _lines(task: ExamplesTask) -> str:
    return _read(
        task.order_lines,
        "NULL::VARCHAR AS customer_id, NULL::TIMESTAMPTZ AS ordered_at, "
        "NULL::VARCHAR AS item_id, NULL::VARCHAR AS order_id",
    )


BEFORE_THE_EXAMPLE = """v.customer_id = e.customer_id AND v.t < e.t
              AND (e.order_id IS NULL OR v.order_id IS NULL OR v.order_id <> e.order_id)"""
"""An event is history of an example when it is the customer's, strictly before t and not
part of the example's own order."""


def _events_query(task: ExamplesTask) -> str:
    """The last `history_length` events of each example's customer before it (see
    BEFORE_THE_EXAMPLE), most recent first (`back` 1); an item and an offer at the same
    instant: the offer first."""
    redemptions = _read(
        task.history_redemptions,
        "NULL::VARCHAR AS customer_id, NULL::TIMESTAMPTZ AS redeemed_at, "
        "NULL::VARCHAR AS offer_id, NULL::VARCHAR AS order_id",
    )
    return f"""
        WITH customers AS (SELECT DISTINCT customer_id FROM examples), events AS (
            SELECT customer_id, ordered_at AS t, 'item' AS kind, item_id AS token, 1 AS rank,
                   order_id
            FROM {_lines(task)} WHERE customer_id IN (SELECT customer_id FROM customers)
            UNION ALL
            SELECT customer_id, redeemed_at AS t, 'offer' AS kind, offer_id AS token, 0,
                   order_id
            FROM {redemptions} WHERE customer_id IN (SELECT customer_id FROM customers)
        ), ranked AS (
            SELECT e.example, v.t, v.kind, v.token,
                   row_number() OVER (PARTITION BY e.example
                                      ORDER BY v.t DESC, v.rank, v.token DESC) AS back
            FROM examples e JOIN events v ON {BEFORE_THE_EXAMPLE}
        )
        SELECT example, t AS at_utc, kind, token, back FROM ranked
        WHERE back <= {int(task.history_length)} ORDER BY example, back"""


def _purchases_query(task: ExamplesTask) -> str:
    """Per example and item: how often the customer bought it before the example (see
    BEFORE_THE_EXAMPLE) over their whole history, plainly and decayed by age with each of
    PURCHASE_HALF_LIVES."""
    decayed = ", ".join(
        f"sum(exp(-ln(2) * age_days / {days})) AS decay_{days}" for days in PURCHASE_HALF_LIVES
    )
    return f"""
        WITH customers AS (SELECT DISTINCT customer_id FROM examples), bought AS (
            SELECT e.example, v.token AS item,
                   epoch(e.t - v.t) / 86400.0 AS age_days
            FROM examples e JOIN (
                SELECT customer_id, ordered_at AS t, item_id AS token, order_id
                FROM {_lines(task)} WHERE customer_id IN (SELECT customer_id FROM customers)
            ) v ON {BEFORE_THE_EXAMPLE}
        )
        SELECT example, item, count(*) AS purchases, {decayed}
        FROM bought GROUP BY example, item ORDER BY example, item"""


def run_month(task: dict[str, object]) -> dict[str, object]:
    """The function Spark maps: plain dicts in and out, so nothing is pickled by reference."""
    result = month_examples(ExamplesTask(**task))  # type: ignore[arg-type]
    return {
        "month": result.month,
        "examples": result.examples,
        "events": result.events,
        "purchases": result.purchases,
        "rows": result.rows,
        "event_rows": result.event_rows,
    }
