"""Generate a demo restaurant chain's history in the import format of DATA_CONTRACT.md.

The demo goes through the same import as a real chain, so this module writes exactly the
contract's files; the hidden personas it simulated go to a sibling `<OUT>.truth/` folder so that
segmentation can be checked against them without ever being able to read them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from deepflame_web.console.demo.chain import (
    ITEMS,
    Offer,
    Store,
    build_offers,
    build_stores,
    store_count_for,
)
from deepflame_web.console.demo.images import write_offer_images
from deepflame_web.console.demo.period import Period, build_period
from deepflame_web.console.demo.personas import (
    CATEGORIES,
    CHANNELS,
    DRIFT_SHARE,
    PERSONAS,
    persona_definitions,
    persona_tables,
)
from deepflame_web.console.demo.restaurant_effects import (
    draw_restaurant_effects,
    restaurant_effects_truth,
)
from deepflame_web.console.demo.retail import retail_chain_generate
from deepflame_web.console.demo.simulate import (
    LOYALTY_TIERS,
    OFFERS_PER_WEEK,
    Chunk,
    simulate_chunk,
)
from deepflame_web.console.demo.tables import (
    ASSIGNMENTS_SCHEMA,
    CUSTOMERS_SCHEMA,
    ORDER_LINES_SCHEMA,
    ORDERS_SCHEMA,
    PERSONAS_SCHEMA,
    REDEMPTIONS_SCHEMA,
    digit_chars,
    local_timestamps,
    numbered_ids,
    strings_from_chars,
    take_strings,
)
from deepflame_web.console.demo.weather import CONDITIONS, Weather, simulate_weather
from deepflame_web.console.demo.world import World, build_world
from offers.columns import OFFER_COLUMNS

CHUNK_CUSTOMERS = 50_000
TASTE_DRIFT_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("rising", pa.string()),
        ("falling", pa.string()),
        ("log_rate_per_month", pa.float64()),
    ]
)
ASSIGNMENT_SLICE = 10_000
ORDER_ID_WIDTH = 10


class DemoArgumentError(ValueError):
    """The arguments cannot produce a demo: a non-empty output folder, no customers..."""


@dataclass(frozen=True)
class DemoSummary:
    """Where the demo went and how many rows each table got."""

    out_dir: Path
    truth_dir: Path
    stores: int
    items: int
    offers: int
    images: int
    customers: int
    orders: int
    order_lines: int
    offer_assignments: int
    offer_redemptions: int
    weather: int
    drifting_customers: int

    def row_counts(self) -> dict[str, int]:
        return {name: value for name, value in asdict(self).items() if not name.endswith("_dir")}


@dataclass
class _Counts:
    customers: int = 0
    orders: int = 0
    order_lines: int = 0
    offer_assignments: int = 0
    offer_redemptions: int = 0
    drift: list[dict[str, str]] = field(default_factory=list)


def truth_dir_for(out_dir: Path) -> Path:
    """The ground truth lives beside the data folder, never inside what gets imported."""
    return out_dir.with_name(out_dir.name + ".truth")


def _require_empty_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise DemoArgumentError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise DemoArgumentError(f"{folder} is not empty; give an empty or new folder")


REGIMES: tuple[str, ...] = ("restaurant", "retail")
DEFAULT_MONTHS = {"restaurant": 6, "retail": 9}


def _validate(customers: int, months: int, regime: str) -> None:
    if regime not in REGIMES:
        raise DemoArgumentError(f"regime must be one of {', '.join(REGIMES)}")
    if customers < 1:
        raise DemoArgumentError("customers must be at least 1")
    if months < 1:
        raise DemoArgumentError("months must be at least 1")


def demo_chain_generate(
    *,
    out_dir: Path,
    customers: int,
    months: int,
    seed: int,
    start: date,
    regime: str = "restaurant",
) -> DemoSummary:
    """Write a demo chain of `customers` loyalty customers over `months` calendar months:
    a quick-service restaurant chain, or (`regime="retail"`) a grocer.

    Deterministic for a seed. Big tables are streamed chunk by chunk, so memory stays bounded
    whatever the number of customers.
    """
    _validate(customers, months, regime)
    out_dir = Path(out_dir).resolve()
    truth_dir = truth_dir_for(out_dir)
    _require_empty_folder(out_dir)
    _require_empty_folder(truth_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    if regime == "retail":
        return _retail_generate(out_dir, truth_dir, customers, months, seed, start)

    period = build_period(start, months)
    stores = build_stores(_rng(seed, 0), store_count_for(customers))
    offers = build_offers(period.start, period.end)
    weather = simulate_weather(_rng(seed, 2), stores, period)
    world = build_world(
        seed=seed,
        customers=customers,
        period=period,
        stores=stores,
        offers=offers,
        weather=weather,
        personas=persona_tables(),
        preferred_tiers=[persona.preferred_tier for persona in PERSONAS],
        effects=draw_restaurant_effects(_rng(seed, 3), len(CATEGORIES)),
    )
    _write_stores(out_dir / "stores.csv", stores)
    _write_items(out_dir / "items.csv")
    _write_offers(out_dir / "offers.csv", offers)
    images = write_offer_images(offers, out_dir / "images", seed)
    weather_rows = _write_weather(out_dir / "weather.csv", stores, period, weather)
    counts = _write_history(out_dir, truth_dir, world)
    _write_params(truth_dir / "params.json", world, start, counts)
    return DemoSummary(
        out_dir=out_dir,
        truth_dir=truth_dir,
        stores=len(stores),
        items=len(ITEMS),
        offers=len(offers),
        images=images,
        customers=counts.customers,
        orders=counts.orders,
        order_lines=counts.order_lines,
        offer_assignments=counts.offer_assignments,
        offer_redemptions=counts.offer_redemptions,
        weather=weather_rows,
        drifting_customers=len(counts.drift),
    )


def _retail_generate(
    out_dir: Path, truth_dir: Path, customers: int, months: int, seed: int, start: date
) -> DemoSummary:
    demo = retail_chain_generate(
        out_dir=out_dir,
        truth_dir=truth_dir,
        customers=customers,
        months=months,
        seed=seed,
        start=start,
    )
    counts = demo.counts
    return DemoSummary(
        out_dir=out_dir,
        truth_dir=truth_dir,
        stores=demo.stores,
        items=demo.items,
        offers=demo.offers,
        images=0,
        customers=counts.customers,
        orders=counts.orders,
        order_lines=counts.order_lines,
        offer_assignments=counts.offer_assignments,
        offer_redemptions=counts.offer_redemptions,
        weather=0,
        drifting_customers=counts.switchers,
    )


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _write_csv(path: Path, header: list[str], rows: Iterator[list[Any]] | list[list[Any]]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            written += 1
    return written


def _write_stores(path: Path, stores: list[Store]) -> None:
    header = ["store_id", "name", "pricing_tier", "region", "timezone", "latitude", "longitude"]
    rows = [
        [
            s.store_id,
            s.name,
            s.pricing_tier,
            s.city.region,
            s.city.timezone,
            s.latitude,
            s.longitude,
        ]
        for s in stores
    ]
    _write_csv(path, header, rows)


def _write_items(path: Path) -> None:
    rows = [
        [item.item_id, item.name, item.category, f"{item.price:.2f}", f"{item.unit_cost:.2f}"]
        for item in ITEMS
    ]
    _write_csv(path, ["item_id", "name", "category", "price", "unit_cost"], rows)


def _write_offers(path: Path, offers: list[Offer]) -> None:
    header = list(OFFER_COLUMNS)
    rows = [  # in the order of OFFER_COLUMNS
        [
            offer.offer_id,
            offer.spec.name,
            offer.spec.description,
            offer.image,
            offer.spec.category,
            "|".join(offer.spec.tiers),
            "|".join(offer.spec.dayparts),
            "|".join(offer.spec.channels),
            "|".join(offer.spec.item_ids),
            f"{offer.discount_value:.2f}",
            offer.valid_from.isoformat() if offer.valid_from else "",
            offer.valid_to.isoformat() if offer.valid_to else "",
        ]
        for offer in offers
    ]
    _write_csv(path, header, rows)


def _write_weather(path: Path, stores: list[Store], period: Period, weather: Weather) -> int:
    dates = [period.date_of(day).isoformat() for day in range(period.days)]

    def rows() -> Iterator[list[Any]]:
        for s, store in enumerate(stores):
            for day, when in enumerate(dates):
                yield [
                    store.store_id,
                    when,
                    f"{weather.temp_c[s, day]:.1f}",
                    f"{weather.precip_mm[s, day]:.1f}",
                    CONDITIONS[weather.condition[s, day]],
                ]

    return _write_csv(path, ["store_id", "date", "temp_c", "precip_mm", "condition"], rows())


def _customer_id_width(customers: int) -> int:
    return max(7, len(str(customers)))


def _write_history(out_dir: Path, truth_dir: Path, world: World) -> _Counts:
    """Simulate chunk after chunk and append each to the streamed tables."""
    counts = _Counts()
    with ExitStack() as stack:
        writers = {
            "orders": pq.ParquetWriter(out_dir / "orders.parquet", ORDERS_SCHEMA),
            "order_lines": pq.ParquetWriter(out_dir / "order_lines.parquet", ORDER_LINES_SCHEMA),
            "offer_assignments": pq.ParquetWriter(
                out_dir / "offer_assignments.parquet", ASSIGNMENTS_SCHEMA
            ),
            "offer_redemptions": pq.ParquetWriter(
                out_dir / "offer_redemptions.parquet", REDEMPTIONS_SCHEMA
            ),
            "personas": pq.ParquetWriter(truth_dir / "personas.parquet", PERSONAS_SCHEMA),
            "taste_drift": pq.ParquetWriter(truth_dir / "taste_drift.parquet", TASTE_DRIFT_SCHEMA),
        }
        for writer in writers.values():
            stack.enter_context(writer)
        customers_csv = stack.enter_context(
            pacsv.CSVWriter(
                out_dir / "customers.csv",
                CUSTOMERS_SCHEMA,
                write_options=pacsv.WriteOptions(quoting_style="needed"),
            )
        )
        for index, first in enumerate(range(0, world.customers, CHUNK_CUSTOMERS)):
            size = min(CHUNK_CUSTOMERS, world.customers - first)
            chunk = simulate_chunk(world, index, first + 1, size)
            _write_chunk(world, chunk, writers, customers_csv, counts)
    return counts


@dataclass(frozen=True)
class _ChunkStrings:
    """The string columns several tables of a chunk share, built once."""

    customer_ids: pa.Array
    order_ids: pa.Array
    ordered_at: pa.Array
    store_ids: list[str]
    offer_ids: list[str]


def _write_chunk(
    world: World,
    chunk: Chunk,
    writers: dict[str, pq.ParquetWriter],
    customers_csv: pacsv.CSVWriter,
    counts: _Counts,
) -> None:
    """Append one chunk to every table; order ids continue where the last chunk stopped."""
    customers, visits = chunk.customers, chunk.visits
    numbers = customers.first_number + np.arange(customers.count)
    strings = _ChunkStrings(
        customer_ids=numbered_ids("C", numbers, _customer_id_width(world.customers)),
        order_ids=numbered_ids("O", counts.orders + 1 + np.arange(visits.count), ORDER_ID_WIDTH),
        ordered_at=local_timestamps(world.period, visits.day, visits.second),
        store_ids=[store.store_id for store in world.stores],
        offer_ids=[offer.offer_id for offer in world.offers],
    )
    customers_csv.write_table(_customers_table(world, chunk, strings.customer_ids))
    writers["orders"].write_table(_orders_table(chunk, strings))
    writers["order_lines"].write_table(_order_lines_table(chunk, strings))
    writers["offer_redemptions"].write_table(_redemptions_table(chunk, strings))
    counts.offer_assignments += _write_assignments(
        writers["offer_assignments"], world.period, chunk.assigned, strings
    )
    writers["personas"].write_table(_personas_table(world.period, chunk, strings.customer_ids))
    writers["taste_drift"].write_table(_taste_drift_table(chunk, strings.customer_ids))
    counts.drift.extend(_drift_records(world.period, chunk, strings.customer_ids))
    counts.customers += customers.count
    counts.orders += visits.count
    counts.order_lines += len(chunk.lines.order)
    counts.offer_redemptions += len(chunk.redeemed_orders)


def _orders_table(chunk: Chunk, strings: _ChunkStrings) -> pa.Table:
    visits = chunk.visits
    blank = pa.concat_arrays([strings.customer_ids, pa.array([""], type=pa.string())])
    customer = np.where(visits.customer >= 0, visits.customer, chunk.customers.count)
    return pa.table(
        {
            "order_id": strings.order_ids,
            "customer_id": blank.take(pa.array(customer)),
            "store_id": take_strings(strings.store_ids, visits.store),
            "ordered_at": strings.ordered_at,
            "channel": take_strings(CHANNELS, visits.channel),
            "total": chunk.total,
            "gross_margin": chunk.gross_margin,
        },
        schema=ORDERS_SCHEMA,
    )


def _order_lines_table(chunk: Chunk, strings: _ChunkStrings) -> pa.Table:
    lines = chunk.lines
    no_offer = len(strings.offer_ids)
    return pa.table(
        {
            "order_id": strings.order_ids.take(pa.array(lines.order)),
            "item_id": take_strings([item.item_id for item in ITEMS], lines.item),
            "quantity": lines.quantity,
            "amount": lines.amount,
            "offer_id": take_strings(
                [*strings.offer_ids, ""], np.where(lines.offer >= 0, lines.offer, no_offer)
            ),
        },
        schema=ORDER_LINES_SCHEMA,
    )


def _redemptions_table(chunk: Chunk, strings: _ChunkStrings) -> pa.Table:
    """A redemption happens on its order: same customer, store and (local) time."""
    rows = chunk.redeemed_orders
    return pa.table(
        {
            "customer_id": strings.customer_ids.take(pa.array(chunk.visits.customer[rows])),
            "offer_id": take_strings(strings.offer_ids, chunk.redeemed_offers),
            "redeemed_at": strings.ordered_at.take(pa.array(rows)),
            "order_id": strings.order_ids.take(pa.array(rows)),
            "store_id": take_strings(strings.store_ids, chunk.visits.store[rows]),
        },
        schema=REDEMPTIONS_SCHEMA,
    )


def _customers_table(world: World, chunk: Chunk, customer_ids: pa.Array) -> pa.Table:
    customers = chunk.customers
    joined = np.datetime64(world.period.start, "D") + customers.joined_day
    return pa.table(
        {
            "customer_id": customer_ids,
            "joined_at": pa.array(joined).cast(pa.string()),
            "loyalty_tier": take_strings(LOYALTY_TIERS, customers.loyalty_tier),
            "home_zip": strings_from_chars(digit_chars(customers.zip_code, 5)),
        },
        schema=CUSTOMERS_SCHEMA,
    )


def _write_assignments(
    writer: pq.ParquetWriter, period: Period, assigned: np.ndarray, strings: _ChunkStrings
) -> int:
    """Every Monday's offers (given out at 00:00 UTC, hence the explicit offset), written in
    slices of customers to keep the strings small."""
    mondays = [f"{monday.isoformat()}T00:00:00+00:00" for monday in period.week_mondays]
    written = 0
    for first in range(0, assigned.shape[0], ASSIGNMENT_SLICE):
        block = assigned[first : first + ASSIGNMENT_SLICE]
        customer, week, _ = np.nonzero(block >= 0)
        offer = block[block >= 0]
        writer.write_table(
            pa.table(
                {
                    "customer_id": strings.customer_ids.take(pa.array(first + customer)),
                    "offer_id": take_strings(strings.offer_ids, offer),
                    "assigned_at": take_strings(mondays, week),
                },
                schema=ASSIGNMENTS_SCHEMA,
            )
        )
        written += len(offer)
    return written


def _personas_table(period: Period, chunk: Chunk, customer_ids: pa.Array) -> pa.Table:
    persona_month = chunk.customers.persona_month
    n, months = persona_month.shape
    return pa.table(
        {
            "customer_id": customer_ids.take(pa.array(np.repeat(np.arange(n), months))),
            "month": take_strings(period.month_labels, np.tile(np.arange(months), n)),
            "persona": take_strings([p.name for p in PERSONAS], persona_month.ravel()),
        },
        schema=PERSONAS_SCHEMA,
    )


def _taste_drift_table(chunk: Chunk, customer_ids: pa.Array) -> pa.Table:
    drift = chunk.customers.drift
    return pa.table(
        {
            "customer_id": customer_ids,
            "rising": take_strings(CATEGORIES, drift.rising),
            "falling": take_strings(CATEGORIES, drift.falling),
            "log_rate_per_month": drift.rate,
        },
        schema=TASTE_DRIFT_SCHEMA,
    )


def _drift_records(period: Period, chunk: Chunk, customer_ids: pa.Array) -> list[dict[str, str]]:
    """Who switched persona, in which month, from what to what."""
    persona_month = chunk.customers.persona_month
    rows = np.flatnonzero(chunk.customers.drift_month >= 0)
    month = chunk.customers.drift_month[rows].astype(np.int64)
    ids = customer_ids.take(pa.array(rows)).to_pylist()
    before = persona_month[rows, month - 1]
    after = persona_month[rows, month]
    return [
        {
            "customer_id": ids[k],
            "month": period.month_labels[month[k]],
            "from": PERSONAS[before[k]].name,
            "to": PERSONAS[after[k]].name,
        }
        for k in range(len(rows))
    ]


def _write_params(path: Path, world: World, start: date, counts: _Counts) -> None:
    """The generator's settings and the hidden truth that is not per customer-month."""
    period = world.period
    params = {
        "seed": world.seed,
        "customers": world.customers,
        "months": period.months,
        "start": start.isoformat(),
        "end": (period.end - timedelta(days=1)).isoformat(),
        "month_labels": list(period.month_labels),
        "offers_per_week": OFFERS_PER_WEEK,
        "drift_share": DRIFT_SHARE,
        "personas": persona_definitions(),
        "drifts": counts.drift,
        "effects": restaurant_effects_truth(world.effects, CATEGORIES),
    }
    path.write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
