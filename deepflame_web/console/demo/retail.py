"""Write the retail demo chain: a grocer's history in the import format of DATA_CONTRACT.md.

Shaped after a grocer's public loyalty data: large baskets over thousands of items, coupons on
item sets valid about six weeks, many past assignments, and redemptions that carry a date only
(no time, order or store). The hidden tastes, staples and effect maps go to `<OUT>.truth/`.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from deepflame_web.console.demo.period import Period, build_period
from deepflame_web.console.demo.retail_catalog import (
    DEPARTMENTS,
    RETAIL_CHANNELS,
    Catalog,
    RetailOffer,
    RetailStore,
    build_catalog,
    build_retail_offers,
    build_retail_stores,
)
from deepflame_web.console.demo.retail_effects import draw_retail_effects, effects_truth
from deepflame_web.console.demo.retail_simulate import (
    RetailChunk,
    RetailWorld,
    build_retail_world,
    simulate_retail_chunk,
)
from deepflame_web.console.demo.tables import (
    ORDER_LINES_SCHEMA,
    ORDERS_SCHEMA,
    digit_chars,
    local_timestamps,
    numbered_ids,
    strings_from_chars,
    take_strings,
)
from offers.columns import OFFER_COLUMNS

RETAIL_CHUNK_CUSTOMERS = 5_000
"""Smaller than the restaurant's chunks: each order is crossed with the ~50 live coupons."""
ORDER_ID_WIDTH = 10
ASSIGNED_AT_UTC = "T10:00:00+00:00"
"""Coupons are loaded onto cards early on launch day, before any US store opens."""

RETAIL_CUSTOMERS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("joined_at", pa.string()), ("home_zip", pa.string())]
)
RETAIL_ASSIGNMENTS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("offer_id", pa.string()), ("assigned_at", pa.string())]
)
RETAIL_REDEMPTIONS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("offer_id", pa.string()), ("redeemed_at", pa.string())]
)
"""No order or store: a grocer's coupon redemption carries its date only."""
TASTES_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("month", pa.string()),
        ("department_share", pa.list_(pa.float32())),
    ]
)
STAPLES_SCHEMA = pa.schema([("customer_id", pa.string()), ("item_id", pa.string())])
SHOPPERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("switch_month", pa.string()),
        ("weekly_trips", pa.float64()),
        ("basket_lines", pa.float64()),
        ("staple_share", pa.float64()),
        ("response", pa.float64()),
    ]
)


@dataclass
class RetailCounts:
    customers: int = 0
    orders: int = 0
    order_lines: int = 0
    offer_assignments: int = 0
    offer_redemptions: int = 0
    switchers: int = 0
    redemptions_by_month: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RetailDemo:
    stores: int
    items: int
    offers: int
    counts: RetailCounts


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def retail_chain_generate(
    *, out_dir: Path, truth_dir: Path, customers: int, months: int, seed: int, start: date
) -> RetailDemo:
    """Write the retail chain's files into `out_dir` and its hidden truth into `truth_dir`
    (both exist and are empty)."""
    period = build_period(start, months)
    stores = build_retail_stores(_rng(seed, 10))
    catalog = build_catalog(_rng(seed, 12))
    offers = build_retail_offers(_rng(seed, 13), catalog, period.start, period.end)
    effects = draw_retail_effects(
        _rng(seed, 14), len(DEPARTMENTS), np.array([o.discount_depth for o in offers])
    )
    world = build_retail_world(
        seed=seed,
        customers=customers,
        period=period,
        stores=stores,
        catalog=catalog,
        offers=offers,
        effects=effects,
    )
    _write_stores(out_dir / "stores.csv", stores)
    _write_items(out_dir / "items.csv", catalog)
    _write_offers(out_dir / "offers.csv", offers, catalog)
    counts = _write_history(out_dir, truth_dir, world)
    names = [d.name for d in DEPARTMENTS]
    params = {
        "regime": "retail",
        "seed": seed,
        "customers": customers,
        "months": period.months,
        "start": start.isoformat(),
        "end": (period.end - timedelta(days=1)).isoformat(),
        "month_labels": list(period.month_labels),
        "departments": names,
        "effects": effects_truth(effects, names, [o.offer_id for o in offers]),
        "redemptions_by_month": counts.redemptions_by_month,
    }
    (truth_dir / "params.json").write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return RetailDemo(
        stores=len(stores), items=len(catalog.item_ids), offers=len(offers), counts=counts
    )


def _write_table_csv(path: Path, columns: dict[str, list[str]]) -> None:
    pacsv.write_csv(
        pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()}),
        path,
        write_options=pacsv.WriteOptions(quoting_style="needed"),
    )


def _write_stores(path: Path, stores: list[RetailStore]) -> None:
    _write_table_csv(
        path,
        {
            "store_id": [s.store_id for s in stores],
            "name": [s.name for s in stores],
            "pricing_tier": [s.pricing_tier for s in stores],
            "region": [s.city.region for s in stores],
            "timezone": [s.city.timezone for s in stores],
            "latitude": [str(s.latitude) for s in stores],
            "longitude": [str(s.longitude) for s in stores],
        },
    )


def _write_items(path: Path, catalog: Catalog) -> None:
    _write_table_csv(
        path,
        {
            "item_id": catalog.item_ids,
            "name": catalog.names,
            "category": [DEPARTMENTS[d].name for d in catalog.department],
            "price": [f"{p:.2f}" for p in catalog.price],
            "unit_cost": [f"{c:.2f}" for c in catalog.unit_cost],
        },
    )


def _write_offers(path: Path, offers: list[RetailOffer], catalog: Catalog) -> None:
    """No image, dayparts or channels: a grocer's coupon is good all day on any channel."""
    blank = [""] * len(offers)
    columns = {
        "offer_id": [o.offer_id for o in offers],
        "name": [o.name for o in offers],
        "description": [o.description for o in offers],
        "image": blank,
        "category": [DEPARTMENTS[o.department].name for o in offers],
        "pricing_tiers": ["|".join(o.tiers) for o in offers],
        "dayparts": blank,
        "channels": blank,
        "item_ids": ["|".join(catalog.item_ids[i] for i in o.items) for o in offers],
        "discount_value": [f"{o.discount_value:.2f}" for o in offers],
        "valid_from": [o.valid_from.isoformat() for o in offers],
        "valid_to": [o.valid_to.isoformat() for o in offers],
    }
    _write_table_csv(path, {name: columns[name] for name in OFFER_COLUMNS})


def _customer_id_width(customers: int) -> int:
    return max(7, len(str(customers)))


def _write_history(out_dir: Path, truth_dir: Path, world: RetailWorld) -> RetailCounts:
    counts = RetailCounts()
    targets = {
        "orders": (out_dir / "orders.parquet", ORDERS_SCHEMA),
        "order_lines": (out_dir / "order_lines.parquet", ORDER_LINES_SCHEMA),
        "offer_assignments": (out_dir / "offer_assignments.parquet", RETAIL_ASSIGNMENTS_SCHEMA),
        "offer_redemptions": (out_dir / "offer_redemptions.parquet", RETAIL_REDEMPTIONS_SCHEMA),
        "tastes": (truth_dir / "tastes.parquet", TASTES_SCHEMA),
        "staples": (truth_dir / "staples.parquet", STAPLES_SCHEMA),
        "shoppers": (truth_dir / "shoppers.parquet", SHOPPERS_SCHEMA),
    }
    with ExitStack() as stack:
        writers = {
            name: stack.enter_context(pq.ParquetWriter(path, schema))
            for name, (path, schema) in targets.items()
        }
        customers_csv = stack.enter_context(
            pacsv.CSVWriter(
                out_dir / "customers.csv",
                RETAIL_CUSTOMERS_SCHEMA,
                write_options=pacsv.WriteOptions(quoting_style="needed"),
            )
        )
        for index, first in enumerate(range(0, world.customers, RETAIL_CHUNK_CUSTOMERS)):
            size = min(RETAIL_CHUNK_CUSTOMERS, world.customers - first)
            chunk = simulate_retail_chunk(world, index, first + 1, size)
            writes = _chunk_tables(world, chunk, counts)
            customers_csv.write_table(writes.pop("customers"))
            for name, table in writes.items():
                writers[name].write_table(table)
    return counts


def _chunk_tables(
    world: RetailWorld, chunk: RetailChunk, counts: RetailCounts
) -> dict[str, pa.Table]:
    """Every table's rows for one chunk; order ids continue where the last chunk stopped."""
    shoppers, trips, lines = chunk.shoppers, chunk.trips, chunk.lines
    numbers = shoppers.first_number + np.arange(shoppers.count)
    customer_ids = numbered_ids("C", numbers, _customer_id_width(world.customers))
    order_ids = numbered_ids("O", counts.orders + 1 + np.arange(trips.count), ORDER_ID_WIDTH)
    tables = {
        "customers": _customers_table(world.period, chunk, customer_ids),
        "orders": _orders_table(world, chunk, customer_ids, order_ids),
        "order_lines": _order_lines_table(world, chunk, order_ids),
        "offer_assignments": _assignments_table(world, chunk, customer_ids),
        "offer_redemptions": _redemptions_table(world, chunk, customer_ids),
        **_truth_tables(world, chunk, customer_ids),
    }
    redeemed_month = world.period.day_month[trips.day[chunk.redemptions.order]]
    for month, label in enumerate(world.period.month_labels):
        counts.redemptions_by_month[label] = counts.redemptions_by_month.get(label, 0) + int(
            (redeemed_month == month).sum()
        )
    counts.customers += shoppers.count
    counts.orders += trips.count
    counts.order_lines += len(lines.order)
    counts.offer_assignments += tables["offer_assignments"].num_rows
    counts.offer_redemptions += tables["offer_redemptions"].num_rows
    counts.switchers += int((shoppers.switch_month >= 0).sum())
    return tables


def _customers_table(period: Period, chunk: RetailChunk, customer_ids: pa.Array) -> pa.Table:
    joined = np.datetime64(period.start, "D") + chunk.shoppers.joined_day
    return pa.table(
        {
            "customer_id": customer_ids,
            "joined_at": pa.array(joined).cast(pa.string()),
            "home_zip": strings_from_chars(digit_chars(chunk.shoppers.zip_code, 5)),
        },
        schema=RETAIL_CUSTOMERS_SCHEMA,
    )


def _orders_table(
    world: RetailWorld, chunk: RetailChunk, customer_ids: pa.Array, order_ids: pa.Array
) -> pa.Table:
    trips = chunk.trips
    return pa.table(
        {
            "order_id": order_ids,
            "customer_id": customer_ids.take(pa.array(trips.customer)),
            "store_id": take_strings([s.store_id for s in world.stores], trips.store),
            "ordered_at": local_timestamps(world.period, trips.day, trips.second),
            "channel": take_strings(RETAIL_CHANNELS, trips.channel),
            "total": chunk.total,
            "gross_margin": chunk.gross_margin,
        },
        schema=ORDERS_SCHEMA,
    )


def _order_lines_table(world: RetailWorld, chunk: RetailChunk, order_ids: pa.Array) -> pa.Table:
    """Lines are not linked to coupons, as in a grocer's data: `offer_id` stays empty."""
    lines = chunk.lines
    return pa.table(
        {
            "order_id": order_ids.take(pa.array(lines.order)),
            "item_id": take_strings(world.catalog.item_ids, lines.item),
            "quantity": lines.quantity.astype(np.int32),
            "amount": chunk.amount,
            "offer_id": pa.array([""] * len(lines.order), pa.string()),
        },
        schema=ORDER_LINES_SCHEMA,
    )


def _assignments_table(world: RetailWorld, chunk: RetailChunk, customer_ids: pa.Array) -> pa.Table:
    """Given on launch day (or on the first day of the history for coupons already running)."""
    customer, offer = np.nonzero(chunk.held)
    first_day = np.maximum(world.offer_first_day, 0)
    stamps = [f"{world.period.date_of(int(d)).isoformat()}{ASSIGNED_AT_UTC}" for d in first_day]
    return pa.table(
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "offer_id": take_strings([o.offer_id for o in world.offers], offer),
            "assigned_at": take_strings(stamps, offer),
        },
        schema=RETAIL_ASSIGNMENTS_SCHEMA,
    )


def _redemptions_table(world: RetailWorld, chunk: RetailChunk, customer_ids: pa.Array) -> pa.Table:
    """The purchase day as a date without time: the import reads it as that day's midnight."""
    redemptions, trips = chunk.redemptions, chunk.trips
    day = trips.day[redemptions.order]
    return pa.table(
        {
            "customer_id": customer_ids.take(pa.array(trips.customer[redemptions.order])),
            "offer_id": take_strings([o.offer_id for o in world.offers], redemptions.offer),
            "redeemed_at": strings_from_chars(world.period.date_chars[day]),
        },
        schema=RETAIL_REDEMPTIONS_SCHEMA,
    )


def _float_lists(rows: np.ndarray) -> pa.Array:
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), rows.shape[1])
    return fixed.cast(pa.list_(pa.float32()))


def _truth_tables(
    world: RetailWorld, chunk: RetailChunk, customer_ids: pa.Array
) -> dict[str, pa.Table]:
    shoppers = chunk.shoppers
    n, months = shoppers.count, world.period.months
    taste = shoppers.taste.reshape(n * months, -1).astype(np.float32)
    has = shoppers.staple_cdf > np.concatenate([np.zeros((n, 1)), shoppers.staple_cdf[:, :-1]], 1)
    customer, slot = np.nonzero(has)
    staple_pairs = np.unique(customer * len(world.catalog.price) + shoppers.staples[customer, slot])
    switch = [
        world.period.month_labels[m] if m >= 0 else "" for m in shoppers.switch_month.tolist()
    ]
    return {
        "tastes": pa.table(
            {
                "customer_id": customer_ids.take(pa.array(np.repeat(np.arange(n), months))),
                "month": take_strings(world.period.month_labels, np.tile(np.arange(months), n)),
                "department_share": _float_lists(taste),
            },
            schema=TASTES_SCHEMA,
        ),
        "staples": pa.table(
            {
                "customer_id": customer_ids.take(
                    pa.array(staple_pairs // len(world.catalog.price))
                ),
                "item_id": take_strings(
                    world.catalog.item_ids, staple_pairs % len(world.catalog.price)
                ),
            },
            schema=STAPLES_SCHEMA,
        ),
        "shoppers": pa.table(
            {
                "customer_id": customer_ids,
                "switch_month": pa.array(switch, pa.string()),
                "weekly_trips": shoppers.weekly_trips,
                "basket_lines": shoppers.basket_lines,
                "staple_share": shoppers.staple_share,
                "response": shoppers.response,
            },
            schema=SHOPPERS_SCHEMA,
        ),
    }
