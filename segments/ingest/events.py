"""The lake side of an import: orders, lines, assignments, redemptions and weather.

Large tables are read in batches, checked, and written to the run's staged lake files batch
by batch, so memory stays bounded by the batch and the orders (which lines refer to).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from deepflame_web.core.lake import LakeStage, lake_read
from segments.ingest.hashing import ExistingKeys, IdIndex, KeyCollector, hash_rows
from segments.ingest.parsing import ROW, SourceFile, csv_header, parse_table
from segments.ingest.problems import EXAMPLES_PER_CHECK, ProblemLog
from segments.ingest.validation import (
    check_reference,
    local_wall_time,
    localize,
    month_of,
    zones_of,
)

BATCH_ROWS = 2_000_000
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class Context:
    """Ids every check needs, known before the lake tables are read."""

    store_zones: dict[str, str]
    store_ids: pa.Array
    item_ids: pa.Array
    offer_ids: pa.Array
    customer_ids: pa.Array | None  # None: customers are implied by orders
    lake_order_ids: pa.Array
    unit_costs: dict[str, float | None]


def batches(source: SourceFile) -> Iterator[tuple[int, pa.Table]]:
    """(first row number, raw table) for each batch of the file; row 2 is the first data row."""
    row = 2
    if source.path.suffix == ".parquet":
        reader = pq.ParquetFile(source.path).iter_batches(batch_size=BATCH_ROWS)
    else:
        names = csv_header(source.path)
        reader = pacsv.open_csv(
            source.path,
            read_options=pacsv.ReadOptions(block_size=128 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=False
            ),
        )
    for batch in reader:
        yield row, pa.Table.from_batches([batch])
        row += batch.num_rows


def report_duplicates(
    label: str,
    key: list[str],
    collector: KeyCollector,
    log: ProblemLog,
    table: pa.Table | None = None,
) -> None:
    """Each repeated key with the row it repeats; with the table at hand, its value too."""
    rows, firsts = collector.duplicates()
    for row, first in zip(rows[:EXAMPLES_PER_CHECK], firsts[:EXAMPLES_PER_CHECK], strict=True):
        value = ""
        if table is not None:
            value = " " + repr("/".join(str(table.column(k)[int(row)].as_py()) for k in key))
        log.add(
            label,
            key[0],
            f"duplicate {'/'.join(key)}{value} (first seen in row {first + 2})",
            np.array([row + 2]),
        )
    log.total += max(0, len(rows) - EXAMPLES_PER_CHECK)


def existing_keys(table: str) -> ExistingKeys:
    before = lake_read(table=table, columns=["row_key", "row_hash"])
    if before.num_rows == 0:
        return ExistingKeys(np.zeros(0, np.uint64), np.zeros(0, np.uint64))
    return ExistingKeys(
        before.column("row_key").to_numpy().astype(np.uint64),
        before.column("row_hash").to_numpy().astype(np.uint64),
    )


@dataclass
class Orders:
    """The orders of the extract in lake form, plus what their lines add up to."""

    table: pa.Table
    lines_hash: np.ndarray
    lines_cost: np.ndarray


def orders_prepare(orders: pa.Table, label: str, ctx: Context, log: ProblemLog) -> Orders:
    check_reference(log, label, orders, "store_id", "store", ctx.store_ids)
    if ctx.customer_ids is not None:
        check_reference(log, label, orders, "customer_id", "customer", ctx.customer_ids)
    collector = KeyCollector()
    collector.add(hash_rows(orders, ["order_id"]))
    report_duplicates(label, ["order_id"], collector, log, orders)
    store_ids = orders.column("store_id").combine_chunks()
    ordered_at = localize(orders, "ordered_at", store_ids, ctx.store_zones)
    with_utc = orders.set_column(orders.column_names.index("ordered_at"), "ordered_at", ordered_at)
    local = local_wall_time(with_utc, "ordered_at", zones_of(store_ids, ctx.store_zones))
    optional_margin = (
        orders.column("gross_margin")
        if "gross_margin" in orders.column_names
        else pa.nulls(orders.num_rows, pa.float64())
    )
    table = pa.table(
        {
            "order_id": orders.column("order_id"),
            "customer_id": orders.column("customer_id"),
            "store_id": store_ids,
            "ordered_at": ordered_at,
            "ordered_at_local": local,
            "channel": orders.column("channel"),
            "total": orders.column("total"),
            "gross_margin": optional_margin,
            "month": month_of(local),
            ROW: orders.column(ROW),
        }
    )
    return Orders(table, np.zeros(orders.num_rows, np.uint64), np.zeros(orders.num_rows))


def lines_stream(
    source: SourceFile, orders: Orders, ctx: Context, stage: LakeStage, log: ProblemLog
) -> int:
    """Check and stage the lines batch by batch; lines of orders already in the lake are
    skipped here (the order's own hash, which covers its lines, decides identical or not)."""
    costs = ctx.unit_costs
    order_ids = orders.table.column("order_id").combine_chunks()
    in_lake_before = pc.is_in(order_ids, value_set=ctx.lake_order_ids)
    index = IdIndex(order_ids)
    total = 0
    for first_row, raw in batches(source):
        lines = parse_table(source, raw, log, first_row=first_row)
        if lines is None:
            return 0
        total += lines.num_rows
        position = index.positions(lines.column("order_id"))
        _check_line_orders(source.label, lines, position, ctx, log)
        check_reference(log, source.label, lines, "item_id", "item", ctx.item_ids)
        check_reference(log, source.label, lines, "offer_id", "offer", ctx.offer_ids)
        if log:
            continue
        positions = position.to_numpy(zero_copy_only=False).astype(np.int64)
        content = [
            c
            for c in ("order_id", "item_id", "quantity", "amount", "offer_id")
            if c in lines.column_names
        ]
        np.add.at(orders.lines_hash, positions, hash_rows(lines, content))
        np.add.at(orders.lines_cost, positions, _line_costs(lines, costs))
        keep = pc.invert(pc.take(in_lake_before, position))
        stage.write(
            table="order_lines", data=_lake_lines(lines, orders.table, position).filter(keep)
        )
    return total


def _check_line_orders(
    label: str, lines: pa.Table, position: pa.Array, ctx: Context, log: ProblemLog
) -> None:
    outside = pc.is_null(position)
    if not pc.any(outside).as_py():
        return
    strays = lines.filter(outside)
    earlier = pc.is_in(strays.column("order_id"), value_set=ctx.lake_order_ids)
    if pc.any(earlier).as_py():
        log.add(
            label,
            "order_id",
            "belongs to an order imported earlier that is not in this "
            "extract (an imported order cannot change)",
            pc.filter(strays.column(ROW), earlier).to_numpy(),
        )
    check_reference(
        log,
        label,
        strays.filter(pc.invert(earlier)),
        "order_id",
        "order",
        pa.array([], pa.string()),
    )


def _line_costs(lines: pa.Table, costs: dict[str, float | None]) -> np.ndarray:
    """Quantity times unit cost; infinite where the cost is unknown, so the order's derived
    margin stays empty rather than wrong."""
    ids = pa.array(list(costs), pa.string())
    values = pa.array([np.inf if c is None else c for c in costs.values()], pa.float64())
    unit = pc.take(values, pc.index_in(lines.column("item_id"), value_set=ids))
    cost = pc.multiply(pc.fill_null(unit, np.inf), pc.cast(lines.column("quantity"), pa.float64()))
    return cost.to_numpy(zero_copy_only=False)


def _lake_lines(lines: pa.Table, orders: pa.Table, position: pa.Array) -> pa.Table:
    offer = (
        lines.column("offer_id")
        if "offer_id" in lines.column_names
        else pa.nulls(lines.num_rows, pa.string())
    )
    return pa.table(
        {
            "order_id": lines.column("order_id"),
            "item_id": lines.column("item_id"),
            "quantity": pc.cast(lines.column("quantity"), pa.int32()),
            "amount": lines.column("amount"),
            "offer_id": offer,
            "customer_id": pc.take(orders.column("customer_id"), position),
            "store_id": pc.take(orders.column("store_id"), position),
            "ordered_at": pc.take(orders.column("ordered_at"), position),
            "month": pc.take(orders.column("month"), position),
        }
    )


def orders_finish(orders: Orders, label: str, stage: LakeStage, log: ProblemLog) -> None:
    """Margins derived where missing, the order hash (covering its lines), then staged."""
    table = orders.table
    given = table.column("gross_margin").to_numpy(zero_copy_only=False).astype(float)
    total = table.column("total").to_numpy(zero_copy_only=False).astype(float)
    derived = np.where(np.isfinite(orders.lines_cost), total - orders.lines_cost, np.nan)
    margin = np.where(np.isnan(given), derived, given)
    table = table.set_column(
        table.column_names.index("gross_margin"),
        "gross_margin",
        pa.array(margin, mask=np.isnan(margin)),
    )
    content = ["customer_id", "store_id", "ordered_at", "channel", "total", "gross_margin"]
    row_hash = hash_rows(table, content) ^ (orders.lines_hash * GOLDEN)
    row_key = hash_rows(table, ["order_id"])
    seen, changed = existing_keys("orders").classify(row_key, row_hash)
    if changed.any():
        log.add(
            label,
            "order_id",
            "order_id exists already with different content (the order "
            "or its lines); a change is not an overwrite",
            table.column(ROW).to_numpy()[changed],
        )
    if log:
        return
    table = table.append_column("row_hash", pa.array(row_hash)).append_column(
        "row_key", pa.array(row_key)
    )
    stage.write(table="orders", data=table.filter(pa.array(~seen)).drop_columns([ROW]))


@dataclass(frozen=True)
class EventTable:
    name: str
    time_column: str | None
    store_column: str | None
    columns: tuple[str, ...]
    key: tuple[str, ...]


ASSIGNMENTS = EventTable(
    "offer_assignments",
    "assigned_at",
    None,
    ("customer_id", "offer_id"),
    ("customer_id", "offer_id", "assigned_at"),
)
REDEMPTIONS = EventTable(
    "offer_redemptions",
    "redeemed_at",
    "store_id",
    ("customer_id", "offer_id", "order_id", "store_id"),
    ("customer_id", "offer_id", "redeemed_at"),
)
WEATHER = EventTable(
    "weather",
    None,
    None,
    ("store_id", "date", "temp_c", "precip_mm", "condition"),
    ("store_id", "date"),
)


def events_stream(
    source: SourceFile,
    spec: EventTable,
    ctx: Context,
    all_orders: pa.Array,
    stage: LakeStage,
    log: ProblemLog,
) -> int:
    """Check and stage an event table batch by batch; rows already in the lake are skipped
    when identical and refused when changed; duplicate keys are found across all batches."""
    collector = KeyCollector()
    before = existing_keys(spec.name)
    total = 0
    for first_row, raw in batches(source):
        events = parse_table(source, raw, log, first_row=first_row)
        if events is None:
            return 0
        total += events.num_rows
        _check_event_references(source.label, events, spec, ctx, all_orders, log)
        lake = _lake_events(events, spec, ctx)
        row_key = hash_rows(lake, list(spec.key))
        collector.add(row_key)
        row_hash = hash_rows(lake, [c for c in lake.column_names if c not in (ROW, "month")])
        seen, changed = before.classify(row_key, row_hash)
        if changed.any():
            log.add(
                source.label,
                spec.key[0],
                f"{'/'.join(spec.key)} exists already with "
                "different content; a change is not an overwrite",
                lake.column(ROW).to_numpy()[changed],
            )
        if not log:
            lake = lake.append_column("row_hash", pa.array(row_hash)).append_column(
                "row_key", pa.array(row_key)
            )
            stage.write(table=spec.name, data=lake.filter(pa.array(~seen)).drop_columns([ROW]))
    report_duplicates(source.label, list(spec.key), collector, log)
    return total


def _check_event_references(
    label: str,
    events: pa.Table,
    spec: EventTable,
    ctx: Context,
    all_orders: pa.Array,
    log: ProblemLog,
) -> None:
    names = events.column_names
    if "customer_id" in names and ctx.customer_ids is not None:
        check_reference(log, label, events, "customer_id", "customer", ctx.customer_ids)
    if "offer_id" in names:
        check_reference(log, label, events, "offer_id", "offer", ctx.offer_ids)
    if "order_id" in names:
        check_reference(log, label, events, "order_id", "order", all_orders)
    if "store_id" in names:
        check_reference(log, label, events, "store_id", "store", ctx.store_ids)


def _lake_events(events: pa.Table, spec: EventTable, ctx: Context) -> pa.Table:
    data = {
        c: events.column(c) if c in events.column_names else pa.nulls(events.num_rows, pa.string())
        for c in spec.columns
    }
    if spec.time_column is None:
        data["month"] = month_of(events.column("date"))
    else:
        stores = (
            events.column(spec.store_column).combine_chunks()
            if spec.store_column and spec.store_column in events.column_names
            else None
        )
        instants = localize(events, spec.time_column, stores, ctx.store_zones)
        zones = (
            zones_of(stores, ctx.store_zones)
            if stores is not None
            else pa.array(["UTC"] * events.num_rows, pa.string())
        )
        with_utc = events.set_column(
            events.column_names.index(spec.time_column), spec.time_column, instants
        )
        data[spec.time_column] = instants
        data["month"] = month_of(local_wall_time(with_utc, spec.time_column, zones))
    data[ROW] = events.column(ROW)
    return pa.table(data)
