"""The lake's tables as the data contract defines them: which columns a table's files hold,
which say which row it is (its key), which say what the row holds (its content), and which
time its month partition is the month of.

The importer and the feedback landing both append through `lake.lake_append`, so a row has
one key, one content hash and one month wherever it comes from.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

UTC = pa.timestamp("us", tz="UTC")
LOCAL = pa.timestamp("us")


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[str, ...]
    """What its files hold, in this order, before `month` (and `row_hash`, `row_key`)."""
    key: tuple[str, ...]
    """Which row it is; () for rows owned by a keyed row of another table (an order's lines)."""
    content: tuple[str, ...]
    """What its content hash covers: a row with a known key and other content is a conflict."""
    month_column: str
    """The date, or the instant, whose month is the row's partition."""
    store_column: str | None = None
    """The store in whose time zone the instant is seen (UTC without one)."""

    @property
    def key_fixes_month(self) -> bool:
        """True when the key holds the partition's time: a known key then lies in the row's
        month or a neighbouring one (the same instant seen from another store's zone)."""
        return self.month_column in self.key


_REDEMPTION = ("customer_id", "offer_id", "order_id", "store_id", "redeemed_at")
_ASSIGNMENT = ("customer_id", "offer_id", "assigned_at")
_WEATHER = ("store_id", "date", "temp_c", "precip_mm", "condition")

ORDERS = LakeTable(
    "orders",
    columns=(
        "order_id",
        "customer_id",
        "store_id",
        "ordered_at",
        "ordered_at_local",
        "channel",
        "total",
        "gross_margin",
    ),
    key=("order_id",),
    content=("customer_id", "store_id", "ordered_at", "channel", "total", "gross_margin"),
    month_column="ordered_at",
    store_column="store_id",
)
ORDER_LINES = LakeTable(
    "order_lines",
    columns=(
        "order_id",
        "item_id",
        "quantity",
        "amount",
        "offer_id",
        "customer_id",
        "store_id",
        "ordered_at",
    ),
    key=(),
    content=(),
    month_column="ordered_at",
    store_column="store_id",
)
OFFER_ASSIGNMENTS = LakeTable(
    "offer_assignments",
    columns=_ASSIGNMENT,
    key=("customer_id", "offer_id", "assigned_at"),
    content=_ASSIGNMENT,
    month_column="assigned_at",
)
OFFER_REDEMPTIONS = LakeTable(
    "offer_redemptions",
    columns=_REDEMPTION,
    key=("customer_id", "offer_id", "redeemed_at"),
    content=_REDEMPTION,
    month_column="redeemed_at",
    store_column="store_id",
)
WEATHER = LakeTable(
    "weather",
    columns=_WEATHER,
    key=("store_id", "date"),
    content=_WEATHER,
    month_column="date",
)
OFFER_EVENTS = LakeTable(
    "offer_events",
    columns=(
        "event_id",
        "kind",
        "customer_id",
        "offer_id",
        "at",
        "store_id",
        "decision_id",
        "slot",
        "holdout",
    ),
    key=(),
    content=(),
    month_column="at",
    store_column="store_id",
)
"""Impressions and clicks from the channels; each lands once (its event is marked)."""


def zones_of(store_ids: pa.Array, store_zones: Mapping[str, str]) -> pa.Array:
    """Each store's time zone; UTC for no store or one without a zone."""
    index = pc.index_in(store_ids, value_set=pa.array(list(store_zones), pa.string()))
    return pc.fill_null(pc.take(pa.array(list(store_zones.values()), pa.string()), index), "UTC")


def wall_times(
    instants: pa.Array | pa.ChunkedArray,
    zones: pa.Array,
    given: pa.Array | pa.ChunkedArray | None = None,
) -> pa.Array:
    """The local wall time of each instant in its zone, or the one `given` where the source
    gave one (a time without an offset, null elsewhere)."""
    instants = _combined(instants)
    result = pa.nulls(len(instants), LOCAL) if given is None else _combined(given)
    for zone in pc.unique(zones).to_pylist():
        mask = pc.fill_null(pc.and_(pc.equal(zones, zone), pc.is_null(result)), False)
        if not pc.any(mask).as_py():
            continue
        seen = pc.local_timestamp(pc.cast(instants, pa.timestamp("us", tz=zone)))
        result = pc.if_else(mask, pc.cast(seen, LOCAL), result)
    return result


def month_of(local_times: pa.Array) -> pa.Array:
    """YYYY-MM of each wall time or date; via integer months, since strftime on millions of
    rows is slow."""
    months = pc.add(pc.multiply(pc.year(local_times), 100), pc.month(local_times))
    distinct = pc.unique(months).drop_null()
    labels = pa.array([f"{m // 100:04d}-{m % 100:02d}" for m in distinct.to_pylist()], pa.string())
    return pc.take(labels, pc.index_in(months, value_set=distinct))


def table_months(
    *,
    table: LakeTable,
    rows: pa.Table,
    store_zones: Mapping[str, str] | None = None,
    given_wall_times: pa.Array | pa.ChunkedArray | None = None,
) -> pa.Array:
    """The month partition of each row, by the table's rule."""
    times = rows.column(table.month_column).combine_chunks()
    if not (pa.types.is_timestamp(times.type) and times.type.tz is not None):
        return month_of(times)
    if table.store_column is None or not store_zones:
        zones = pa.array(["UTC"] * len(times), pa.string())
    else:
        zones = zones_of(rows.column(table.store_column).combine_chunks(), store_zones)
    return month_of(wall_times(times, zones, given_wall_times))


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
