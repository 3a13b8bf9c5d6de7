"""The lake side of an import: orders, lines, assignments, redemptions and weather.

Large tables are read in batches, checked, and written to the run's staged lake files batch
by batch, so memory stays bounded by the batch and the orders (which lines refer to).
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepflame_web.core.hashing import IdIndex, hash_rows
from deepflame_web.core.lake import LakeStage, lake_append
from deepflame_web.core.lake_tables import ORDER_LINES, ORDERS, LakeTable, wall_times, zones_of
from segments.ingest.contract import Kind
from segments.ingest.parsing import LOCAL_SUFFIX, ROW, SourceFile, parse_table, raw_batches
from segments.ingest.problems import ProblemLog, reading
from segments.ingest.repeats import Repeats, report_conflicts
from segments.ingest.validation import check_reference, localize


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
    customers_where: str = ""
    """Where a customer id is looked for, as the problems name it."""


@dataclass
class Orders:
    """The orders of the extract in lake form, plus what their lines add up to."""

    table: pa.Table
    lines_hash: np.ndarray
    lines_cost: np.ndarray


def orders_prepare(orders: pa.Table, label: str, ctx: Context, log: ProblemLog) -> Orders:
    check_reference(log, label, orders, "store_id", "store", ctx.store_ids)
    if ctx.customer_ids is not None:
        check_reference(
            log, label, orders, "customer_id", "customer", ctx.customer_ids, ctx.customers_where
        )
    store_ids = orders.column("store_id").combine_chunks()
    ordered_at = localize(orders, "ordered_at", store_ids, ctx.store_zones)
    zones = zones_of(store_ids, ctx.store_zones)
    local = wall_times(ordered_at, zones, orders.column("ordered_at" + LOCAL_SUFFIX))
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
    for first_row, raw in raw_batches(source, log):
        lines = None if raw is None else parse_table(source, raw, log, first_row=first_row)
        if lines is None:
            return total
        total += lines.num_rows
        position = index.positions(lines.column("order_id"))
        _check_line_orders(source.label, lines, position, ctx, log)
        check_reference(log, source.label, lines, "item_id", "item", ctx.item_ids)
        check_reference(log, source.label, lines, "offer_id", "offer", ctx.offer_ids)
        # Lines of other problems still count towards their order's hash, so an unchanged
        # order imported before is not reported as changed beside the real problems.
        placed = pc.is_valid(position)
        if not pc.all(placed).as_py():
            lines, position = lines.filter(placed), position.filter(placed)
        positions = position.to_numpy(zero_copy_only=False).astype(np.int64)
        content = [
            c
            for c in ("order_id", "item_id", "quantity", "amount", "offer_id")
            if c in lines.column_names
        ]
        np.add.at(orders.lines_hash, positions, hash_rows(lines, content))
        np.add.at(orders.lines_cost, positions, _line_costs(lines, costs))
        if log:
            continue
        keep = pc.invert(pc.take(in_lake_before, position))
        lake = _lake_lines(lines, orders.table, position).filter(keep)
        # A line lies in its order's month: the order's wall time places it.
        lake_append(
            table=ORDER_LINES,
            rows=lake,
            stage=stage,
            given_wall_times=lake.column("ordered_at_local"),
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
            "ordered_at_local": pc.take(orders.column("ordered_at_local"), position),
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
    appended = lake_append(
        table=ORDERS,
        rows=table,
        stage=stage,
        given_wall_times=table.column("ordered_at_local"),
        children_hash=orders.lines_hash,
        write=not log,
    )
    if appended.conflicts.any():
        log.add(
            label,
            "order_id",
            "order_id exists already with different content (the order "
            "or its lines); a change is not an overwrite",
            table.column(ROW).to_numpy()[appended.conflicts],
        )


def events_stream(
    source: SourceFile,
    spec: LakeTable,
    ctx: Context,
    all_orders: pa.Array,
    stage: LakeStage,
    log: ProblemLog,
) -> int:
    """Check and stage an event table batch by batch; rows already in the lake are skipped
    when identical and refused when changed; a row repeating an earlier one of the file is
    skipped when identical and refused when its content differs, across all batches."""
    repeats = Repeats()
    total = 0
    for first_row, raw in raw_batches(source, log):
        events = None if raw is None else parse_table(source, raw, log, first_row=first_row)
        if events is None:
            break
        total += events.num_rows
        with reading(source.label):
            _check_event_references(source.label, events, ctx, all_orders, log)
            lake, given_wall_times = _lake_events(source, events, spec, ctx)
            verdict = repeats.sort_out(lake, list(spec.key), list(spec.content), streamed=True)
            report_conflicts(source.label, list(spec.key), lake, verdict, log)
            keep = pa.array(~verdict.identical)
            lake = lake.filter(keep)
            if given_wall_times is not None:
                given_wall_times = given_wall_times.filter(keep)
            appended = lake_append(
                table=spec,
                rows=lake,
                stage=stage,
                store_zones=ctx.store_zones,
                given_wall_times=given_wall_times,
                write=not log,
            )
        if appended.conflicts.any():
            log.add(
                source.label,
                spec.key[0],
                f"{'/'.join(spec.key)} exists already with "
                "different content; a change is not an overwrite",
                lake.column(ROW).to_numpy()[appended.conflicts],
            )
    if repeats.skipped:
        log.repeats_skipped[source.label] = repeats.skipped
    return total


def _check_event_references(
    label: str,
    events: pa.Table,
    ctx: Context,
    all_orders: pa.Array,
    log: ProblemLog,
) -> None:
    names = events.column_names
    if "customer_id" in names and ctx.customer_ids is not None:
        check_reference(
            log, label, events, "customer_id", "customer", ctx.customer_ids, ctx.customers_where
        )
    if "offer_id" in names:
        check_reference(log, label, events, "offer_id", "offer", ctx.offer_ids)
    if "order_id" in names:
        check_reference(log, label, events, "order_id", "order", all_orders)
    if "store_id" in names:
        check_reference(log, label, events, "store_id", "store", ctx.store_ids)


def _lake_events(
    source: SourceFile, events: pa.Table, spec: LakeTable, ctx: Context
) -> tuple[pa.Table, pa.ChunkedArray | None]:
    """The table's columns (absent optional ones empty) with instants in UTC, and the wall
    times the file gave without an offset (None for a table partitioned by a date)."""
    data = {
        c: events.column(c) if c in events.column_names else pa.nulls(events.num_rows, pa.string())
        for c in spec.columns
    }
    data[ROW] = events.column(ROW)
    time = spec.month_column
    if source.table.column(time).kind != Kind.TIMESTAMP:
        return pa.table(data), None
    stores = (
        events.column(spec.store_column).combine_chunks()
        if spec.store_column and spec.store_column in events.column_names
        else None
    )
    data[time] = localize(events, time, stores, ctx.store_zones)
    return pa.table(data), events.column(time + LOCAL_SUFFIX)
