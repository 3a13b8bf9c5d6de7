"""The import of one extract folder: validate everything, then write it all or nothing."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction

from offers.models import Daypart, Item, Offer, Store
from segments.ingest.contract import (
    ITEMS,
    OFFERS,
    ORDER_LINES,
    ORDERS,
    STORES,
)
from segments.ingest.parsing import ROW, find_files, parse_table, read_raw
from segments.ingest.problems import ImportRejected, ProblemLog
from segments.ingest.validation import (
    KnownIds,
    as_string_set,
    check_offers,
    check_reference,
    check_timezones,
    check_unique,
    local_wall_time,
    localize,
    month_of,
    zones_of,
)
from segments.lake import lake_read, lake_remove_orphans, lake_write
from segments.models import Customer, LakeFile

Progress = Callable[[str, int], None]
CATALOG_FIELDS = {
    "stores": ["name", "pricing_tier", "region", "timezone", "latitude", "longitude"],
    "items": ["name", "category", "price", "unit_cost"],
    "offers": [
        "name",
        "description",
        "category",
        "pricing_tiers",
        "dayparts",
        "channels",
        "item_ids",
        "discount_value",
        "valid_from",
        "valid_to",
        "image_sha256",
    ],
}


@dataclass
class ImportSummary:
    rows_in_files: dict[str, int] = field(default_factory=dict)
    rows_added: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in_files": self.rows_in_files,
            "rows_added": self.rows_added,
            "warnings": self.warnings,
        }


def history_import(*, folder: Path, run_id: int, progress: Progress) -> ImportSummary:
    log = ProblemLog()
    lake_remove_orphans()
    progress("reading files", 2)
    sources = find_files(folder, log)
    known = _known_ids()
    tables: dict[str, pa.Table] = {}
    for step, (name, source) in enumerate(sources.items()):
        progress(f"checking {source.label}", 5 + step * 4)
        parsed = parse_table(source, read_raw(source), log)
        if parsed is not None:
            tables[name] = parsed
            check_unique(source.label, parsed, source.table.key, log)
    if log or any(t.name not in tables for t in (STORES, ITEMS, ORDERS, ORDER_LINES, OFFERS)):
        raise ImportRejected(log)
    progress("checking references", 45)
    plan = _plan(folder, tables, sources, known, log)
    log.warnings.extend(plan.warnings)
    if log:
        raise ImportRejected(log)
    progress("writing the lake", 60)
    files = [
        f
        for name, data in plan.lake.items()
        for f in lake_write(table=name, data=data, run_id=run_id)
    ]
    progress("writing the catalog", 85)
    _commit(plan, files)
    return ImportSummary(plan.rows_in_files, plan.rows_added, log.warnings)


def _known_ids() -> KnownIds:
    existing_orders = lake_read(table="orders", columns=["order_id"]).column("order_id")
    return KnownIds(
        stores=dict(Store.objects.values_list("store_id", "timezone")),
        items=set(Item.objects.values_list("item_id", flat=True)),
        offers=set(Offer.objects.values_list("offer_id", flat=True)),
        customers=set(Customer.objects.values_list("customer_id", flat=True)),
        dayparts=set(Daypart.objects.values_list("name", flat=True)),
        tiers=set(Store.objects.values_list("pricing_tier", flat=True)),
        order_ids=existing_orders.combine_chunks()
        if len(existing_orders)
        else pa.array([], pa.string()),
    )


@dataclass
class Plan:
    catalog: dict[str, list[dict[str, Any]]]
    customers: pd.DataFrame
    images: dict[str, bytes]
    lake: dict[str, pa.Table]
    rows_in_files: dict[str, int]
    rows_added: dict[str, int]
    warnings: list[str]


def _plan(
    folder: Path,
    tables: dict[str, pa.Table],
    sources: dict[str, Any],
    known: KnownIds,
    log: ProblemLog,
) -> Plan:
    label = {name: source.label for name, source in sources.items()}
    stores, items, offers = tables["stores"], tables["items"], tables["offers"]
    orders, lines = tables["orders"], tables["order_lines"]
    check_timezones(label["stores"], stores, log)
    store_zones = {**known.stores, **_store_zones(stores)}
    store_ids = as_string_set(store_zones.keys())
    item_ids = as_string_set(items.column("item_id"), known.items)
    offer_ids = as_string_set(offers.column("offer_id"), known.offers)
    images = check_offers(label["offers"], offers, folder, known, log)
    check_reference(log, label["offers"], offers, "item_ids", "item", item_ids)

    customers = tables.get("customers")
    implied = customers is None
    customer_ids = as_string_set(
        customers.column("customer_id") if customers is not None else [],
        known.customers,
        orders.column("customer_id") if implied else [],
    )
    check_reference(log, label["orders"], orders, "store_id", "store", store_ids)
    if not implied:
        check_reference(log, label["orders"], orders, "customer_id", "customer", customer_ids)
    file_orders = orders.column("order_id").combine_chunks()
    _check_lines_orders(log, label["order_lines"], lines, file_orders, known.order_ids)
    check_reference(log, label["order_lines"], lines, "item_id", "item", item_ids)
    check_reference(log, label["order_lines"], lines, "offer_id", "offer", offer_ids)
    all_orders = as_string_set(file_orders, known.order_ids)
    for name in ("offer_assignments", "offer_redemptions"):
        if name in tables:
            check_reference(log, label[name], tables[name], "customer_id", "customer", customer_ids)
            check_reference(log, label[name], tables[name], "offer_id", "offer", offer_ids)
    if "offer_redemptions" in tables:
        redemptions = tables["offer_redemptions"]
        check_reference(
            log, label["offer_redemptions"], redemptions, "order_id", "order", all_orders
        )
        check_reference(
            log, label["offer_redemptions"], redemptions, "store_id", "store", store_ids
        )
    if "weather" in tables:
        check_reference(log, label["weather"], tables["weather"], "store_id", "store", store_ids)
    if log:
        return Plan({}, pd.DataFrame(), {}, {}, {}, {}, [])

    catalog = {
        "stores": _catalog_rows(stores, ["store_id", *CATALOG_FIELDS["stores"]]),
        "items": _catalog_rows(items, ["item_id", *CATALOG_FIELDS["items"]]),
        "offers": _offer_rows(offers, images),
    }
    new_catalog = {
        name: _new_catalog_rows(name, rows, label[name], log) for name, rows in catalog.items()
    }
    customer_frame = _customer_frame(customers, orders, implied)
    new_customers = _new_customers(customer_frame, label.get("customers", "orders"), log)
    lake = _lake_tables(tables, store_zones, items, label, log)
    rows_in_files = {name: t.num_rows for name, t in tables.items()}
    rows_added = {name: len(rows) for name, rows in new_catalog.items()}
    rows_added["customers"] = len(new_customers)
    rows_added.update({name: t.num_rows for name, t in lake.items()})
    unknown_tiers = (
        {t for o in catalog["offers"] for t in o["pricing_tiers"]}
        - {r["pricing_tier"] for r in catalog["stores"]}
        - known.tiers
    )
    warnings = (
        [f"{label['offers']}: pricing tiers no store has: {', '.join(sorted(unknown_tiers))}"]
        if unknown_tiers
        else []
    )
    return Plan(new_catalog, new_customers, images, lake, rows_in_files, rows_added, warnings)


def _store_zones(stores: pa.Table) -> dict[str, str]:
    zones = stores.column("timezone") if "timezone" in stores.column_names else None
    ids = stores.column("store_id").to_pylist()
    values = zones.to_pylist() if zones is not None else [None] * len(ids)
    return {sid: zone or "UTC" for sid, zone in zip(ids, values, strict=True) if sid}


def _check_lines_orders(
    log: ProblemLog, label: str, lines: pa.Table, file_orders: pa.Array, lake_orders: pa.Array
) -> None:
    """A line must belong to an order of this extract; lines of an order imported before
    cannot be added to or changed."""
    order_ids = lines.column("order_id")
    in_file = pc.is_in(order_ids, value_set=file_orders)
    in_lake = pc.is_in(order_ids, value_set=lake_orders)
    rows = lines.column(ROW)
    earlier = pc.and_(pc.invert(in_file), in_lake)
    if pc.any(earlier).as_py():
        log.add(
            label,
            "order_id",
            "belongs to an order imported earlier that is not in this "
            "extract (an imported order cannot change)",
            pc.filter(rows, earlier).to_numpy(),
        )
    check_reference(
        log,
        label,
        lines.filter(pc.invert(pc.or_(in_file, in_lake))),
        "order_id",
        "order",
        pa.array([], pa.string()),
    )


def _catalog_rows(table: pa.Table, columns: list[str]) -> list[dict[str, Any]]:
    present = [c for c in columns if c in table.column_names]
    rows = table.select([*present, ROW]).to_pylist()
    for row in rows:
        for column in columns:
            row.setdefault(column, None)
        for column in ("region", "category", "image"):
            if column in row and row[column] is None:
                row[column] = ""
        if "timezone" in columns:
            row["timezone"] = row["timezone"] or "UTC"
    return rows


def _offer_rows(offers: pa.Table, images: dict[str, bytes]) -> list[dict[str, Any]]:
    rows = _catalog_rows(offers, ["offer_id", *CATALOG_FIELDS["offers"][:-1], "image"])
    for row in rows:
        for column in ("pricing_tiers", "dayparts", "channels", "item_ids"):
            row[column] = row[column] or []
        content = images.get(row["offer_id"])
        row["image_sha256"] = hashlib.sha256(content).hexdigest() if content else ""
    return rows


def _comparable(name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    values = []
    for column in CATALOG_FIELDS[name]:
        value = row.get(column)
        if isinstance(value, (float, Decimal)):
            value = round(float(value), 4)
        if value == "" or value == []:
            value = None
        values.append(value)
    return tuple(values)


def _new_catalog_rows(
    name: str, rows: list[dict[str, Any]], label: str, log: ProblemLog
) -> list[dict[str, Any]]:
    """Rows that are new; an existing id with different content is a problem."""
    model: Any = {"stores": Store, "items": Item, "offers": Offer}[name]
    key = {"stores": "store_id", "items": "item_id", "offers": "offer_id"}[name]
    existing = {obj[key]: obj for obj in model.objects.values(key, *CATALOG_FIELDS[name])}
    new = []
    for row in rows:
        before = existing.get(row[key])
        if before is None:
            new.append(row)
            continue
        differs = [
            c
            for c, a, b in zip(
                CATALOG_FIELDS[name], _comparable(name, before), _comparable(name, row), strict=True
            )
            if a != b
        ]
        if differs:
            log.add(
                label,
                differs[0],
                f"{key} {row[key]!r} exists already with different "
                f"content ({', '.join(differs)}); a change is not an overwrite",
                np.array([row[ROW]]),
            )
    return new


def _customer_frame(customers: pa.Table | None, orders: pa.Table, implied: bool) -> pd.DataFrame:
    if customers is None:
        ids = pc.unique(pc.drop_null(orders.column("customer_id"))).to_pylist()
        return pd.DataFrame({"customer_id": ids, "joined_at": None, "attributes": "{}", ROW: 0})
    frame = customers.to_pandas()
    extra = [c for c in frame.columns if c not in ("customer_id", "joined_at", ROW)]
    if extra:
        frame["attributes"] = [
            json.dumps(r, sort_keys=True, default=str) for r in frame[extra].to_dict("records")
        ]
    else:
        frame["attributes"] = "{}"
    frame["joined_at"] = frame.get("joined_at")
    return frame[["customer_id", "joined_at", "attributes", ROW]]


def _new_customers(frame: pd.DataFrame, label: str, log: ProblemLog) -> pd.DataFrame:
    existing = pd.DataFrame.from_records(
        Customer.objects.values_list("customer_id", "joined_at", "attributes").iterator(
            chunk_size=50_000
        ),
        columns=["customer_id", "joined_at_before", "attributes_before"],
    )
    if existing.empty:
        return frame
    merged = frame.merge(existing, on="customer_id", how="left", indicator=True)
    seen = merged["_merge"] == "both"
    before = merged.loc[seen, "attributes_before"].map(lambda a: json.dumps(a, sort_keys=True))
    implied_only = merged.loc[seen, ROW] == 0
    changed = seen.copy()
    changed[seen] = ~implied_only & (
        (before != merged.loc[seen, "attributes"])
        | (
            merged.loc[seen, "joined_at"].astype(str)
            != merged.loc[seen, "joined_at_before"].astype(str)
        )
    )
    if changed.any():
        log.add(
            label,
            "customer_id",
            "customer exists already with different content; a change is not an overwrite",
            merged.loc[changed, ROW].to_numpy(),
        )
    return frame[~seen.to_numpy()]


def _content_hash(table: pa.Table, columns: list[str]) -> np.ndarray:
    frame = pd.DataFrame({c: _hashable(table.column(c)) for c in columns})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _hashable(values: pa.ChunkedArray | pa.Array) -> Any:
    """Numbers and instants as integers, text as text: hashing never formats a value."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        values = _as_integer_if_time(values)
    return values.to_pandas()


def _lake_tables(
    tables: dict[str, pa.Table],
    store_zones: dict[str, str],
    items: pa.Table,
    label: dict[str, str],
    log: ProblemLog,
) -> dict[str, pa.Table]:
    orders, lines = _orders_and_lines(tables["orders"], tables["order_lines"], store_zones, items)
    lake = {"orders": orders, "order_lines": lines}
    if "offer_assignments" in tables:
        lake["offer_assignments"] = _timed(
            tables["offer_assignments"],
            "assigned_at",
            None,
            store_zones,
            ["customer_id", "offer_id"],
        )
    if "offer_redemptions" in tables:
        lake["offer_redemptions"] = _timed(
            tables["offer_redemptions"],
            "redeemed_at",
            "store_id",
            store_zones,
            ["customer_id", "offer_id", "order_id", "store_id"],
        )
    if "weather" in tables:
        weather = tables["weather"]
        lake["weather"] = pa.table(
            {
                **{c: weather.column(c) for c in ("store_id", "date", "temp_c", "precip_mm")},
                "condition": weather.column("condition")
                if "condition" in weather.column_names
                else pa.nulls(weather.num_rows, pa.string()),
                "month": pc.strftime(weather.column("date"), format="%Y-%m"),
                ROW: weather.column(ROW),
            }
        )
    keys = {
        "orders": ["order_id"],
        "order_lines": None,
        "offer_assignments": ["customer_id", "offer_id", "assigned_at"],
        "offer_redemptions": ["customer_id", "offer_id", "redeemed_at"],
        "weather": ["store_id", "date"],
    }
    result = {}
    for name, data in lake.items():
        result[name] = _drop_existing(name, data, keys[name], lake, label.get(name, name), log)
    kept_orders = result["orders"].column("order_id")
    result["order_lines"] = lines.filter(pc.is_in(lines.column("order_id"), value_set=kept_orders))
    return {name: data.drop_columns([ROW]) for name, data in result.items()}


def _orders_and_lines(
    orders: pa.Table, lines: pa.Table, store_zones: dict[str, str], items: pa.Table
) -> tuple[pa.Table, pa.Table]:
    zones = zones_of(orders.column("store_id").combine_chunks(), store_zones)
    ordered_at = localize(
        orders, "ordered_at", orders.column("store_id").combine_chunks(), store_zones
    )
    local = local_wall_time(
        orders.set_column(orders.column_names.index("ordered_at"), "ordered_at", ordered_at),
        "ordered_at",
        zones,
    )
    month = month_of(local)
    position = pc.index_in(lines.column("order_id"), value_set=orders.column("order_id"))
    cost = _line_cost(lines, items)
    line_hash = _content_hash(
        lines,
        ["order_id", "item_id", "quantity", "amount", "offer_id"]
        if "offer_id" in lines.column_names
        else ["order_id", "item_id", "quantity", "amount"],
    )
    positions = position.to_numpy(zero_copy_only=False)
    lines_hash = np.zeros(orders.num_rows, dtype=np.uint64)
    np.add.at(lines_hash, positions, line_hash)
    order_cost = np.zeros(orders.num_rows)
    np.add.at(order_cost, positions, np.nan_to_num(cost, nan=np.inf))
    total = orders.column("total").to_numpy(zero_copy_only=False)
    given_margin = (
        orders.column("gross_margin").to_numpy(zero_copy_only=False)
        if "gross_margin" in orders.column_names
        else np.full(orders.num_rows, np.nan)
    )
    derived = np.where(np.isfinite(order_cost), total - order_cost, np.nan)
    margin = np.where(np.isnan(given_margin), derived, given_margin)
    order_hash = _content_hash(
        orders,
        [
            c
            for c in (
                "customer_id",
                "store_id",
                "ordered_at",
                "ordered_at__local",
                "channel",
                "total",
                "gross_margin",
            )
            if c in orders.column_names
        ],
    )
    lake_orders = pa.table(
        {
            "order_id": orders.column("order_id"),
            "customer_id": orders.column("customer_id"),
            "store_id": orders.column("store_id"),
            "ordered_at": ordered_at,
            "ordered_at_local": local,
            "channel": orders.column("channel"),
            "total": orders.column("total"),
            "gross_margin": pa.array(margin, mask=np.isnan(margin)),
            "month": month,
            "row_hash": pa.array(order_hash ^ (lines_hash * np.uint64(0x9E3779B97F4A7C15))),
            ROW: orders.column(ROW),
        }
    )
    lake_lines = pa.table(
        {
            "order_id": lines.column("order_id"),
            "item_id": lines.column("item_id"),
            "quantity": pc.cast(lines.column("quantity"), pa.int32()),
            "amount": lines.column("amount"),
            "offer_id": lines.column("offer_id")
            if "offer_id" in lines.column_names
            else pa.nulls(lines.num_rows, pa.string()),
            "customer_id": pc.take(orders.column("customer_id"), position),
            "store_id": pc.take(orders.column("store_id"), position),
            "ordered_at": pc.take(ordered_at, position),
            "month": pc.take(month, position),
            ROW: lines.column(ROW),
        }
    )
    return lake_orders, lake_lines


def _line_cost(lines: pa.Table, items: pa.Table) -> np.ndarray:
    known_costs = {i: c for i, c in Item.objects.values_list("item_id", "unit_cost")}
    if "unit_cost" in items.column_names:
        known_costs.update(
            zip(
                items.column("item_id").to_pylist(),
                items.column("unit_cost").to_pylist(),
                strict=True,
            )
        )
    ids = pa.array(list(known_costs), pa.string())
    costs = pa.array(
        [float(c) if c is not None else None for c in known_costs.values()], pa.float64()
    )
    unit = pc.take(costs, pc.index_in(lines.column("item_id"), value_set=ids))
    quantity = pc.cast(lines.column("quantity"), pa.float64())
    return pc.multiply(unit, quantity).to_numpy(zero_copy_only=False).astype(float)


def _timed(
    table: pa.Table,
    column: str,
    store_column: str | None,
    zones: dict[str, str],
    keep: list[str],
) -> pa.Table:
    stores = (
        table.column(store_column).combine_chunks()
        if store_column and store_column in table.column_names
        else None
    )
    instants = localize(table, column, stores, zones)
    store_zone = (
        zones_of(stores, zones)
        if stores is not None
        else pa.array(["UTC"] * table.num_rows, pa.string())
    )
    local = local_wall_time(
        table.set_column(table.column_names.index(column), column, instants), column, store_zone
    )
    data = {
        c: table.column(c) if c in table.column_names else pa.nulls(table.num_rows, pa.string())
        for c in keep
    }
    return pa.table({**data, column: instants, "month": month_of(local), ROW: table.column(ROW)})


def _drop_existing(
    name: str,
    data: pa.Table,
    key: list[str] | None,
    lake: dict[str, pa.Table],
    label: str,
    log: ProblemLog,
) -> pa.Table:
    """Rows already in the lake are skipped when identical and refused when changed."""
    if key is None:
        return data
    if "row_hash" not in data.column_names:
        content = [c for c in data.column_names if c not in (ROW, "month")]
        data = data.append_column("row_hash", pa.array(_content_hash(data, content)))
    data = data.append_column("row_key", _row_key(data, key))
    before = lake_read(table=name, columns=["row_key", "row_hash"])
    if before.num_rows == 0:
        return data
    position = pc.index_in(data.column("row_key"), value_set=before.column("row_key"))
    seen = pc.is_valid(position)
    before_hash = pc.take(before.column("row_hash"), position)
    changed = pc.fill_null(pc.and_(seen, pc.not_equal(before_hash, data.column("row_hash"))), False)
    if pc.any(changed).as_py():
        log.add(
            label,
            key[0],
            f"{'/'.join(key)} exists already with different content; a change is not an overwrite",
            pc.filter(data.column(ROW), changed).to_numpy(),
        )
    return data.filter(pc.invert(seen))


def _row_key(data: pa.Table, key: list[str]) -> pa.Array:
    parts = [pc.cast(_as_integer_if_time(data.column(c)), pa.string()) for c in key]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "\x1f")


def _as_integer_if_time(values: Any) -> Any:
    if pa.types.is_date32(values.type):
        return pc.cast(pc.cast(values, pa.int32()), pa.int64())
    if pa.types.is_timestamp(values.type):
        return pc.cast(values, pa.int64())
    return values


def _commit(plan: Plan, files: list[LakeFile]) -> None:
    """One transaction: the catalog, the customers and the lake manifest become visible together."""
    media = Path(settings.MEDIA_ROOT) / "offers"
    with transaction.atomic():
        Store.objects.bulk_create(Store(**_fields(r)) for r in plan.catalog["stores"])
        Item.objects.bulk_create(Item(**_fields(r)) for r in plan.catalog["items"])
        offers = []
        for row in plan.catalog["offers"]:
            content = plan.images.get(row["offer_id"])
            if content is not None:
                media.mkdir(parents=True, exist_ok=True)
                name = f"{row['image_sha256'][:16]}{Path(row['image']).suffix.lower()}"
                (media / name).write_bytes(content)
                row["image"] = f"offers/{name}"
            offers.append(Offer(**_fields(row)))
        Offer.objects.bulk_create(offers)
        _insert_customers(plan.customers)
        LakeFile.objects.bulk_create(files)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != ROW}


def _insert_customers(frame: pd.DataFrame) -> None:
    batch = 50_000
    for start in range(0, len(frame), batch):
        chunk = frame.iloc[start : start + batch]
        Customer.objects.bulk_create(
            Customer(
                customer_id=r.customer_id,
                joined_at=None if pd.isna(r.joined_at) else r.joined_at,
                attributes=json.loads(r.attributes),
            )
            for r in chunk.itertuples(index=False)
        )
