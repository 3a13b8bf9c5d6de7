"""The import of one extract folder: validate everything, then make it visible all at once.

Catalog tables and orders are read whole (they are what other rows refer to); lines and
events are read in batches and staged in the lake as they pass. Staged files stay invisible
until the database transaction that adds the catalog, the customers and their manifest rows
commits; on any problem they are deleted and nothing changes.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from django.db import transaction

from deepflame_web.core.lake import LakeStage, lake_read, lake_remove_orphans
from deepflame_web.core.lake_tables import OFFER_ASSIGNMENTS, OFFER_REDEMPTIONS, WEATHER
from deepflame_web.core.models import LakeFile
from offers.images import image_store
from offers.models import Daypart, Item, Offer, Store
from segments.ingest import catalog_rows as catalog
from segments.ingest.catalog_rows import KEEP_EDITS
from segments.ingest.contract import ITEMS, OFFERS, ORDERS, STORES
from segments.ingest.events import (
    Context,
    events_stream,
    lines_stream,
    orders_finish,
    orders_prepare,
)
from segments.ingest.parsing import ROW, SourceFile, find_files, parse_table, read_raw
from segments.ingest.problems import ImportRejected, ProblemLog, reading
from segments.ingest.repeats import Repeats, report_conflicts
from segments.ingest.validation import (
    TIMEZONES,
    KnownIds,
    as_string_set,
    check_offers,
    check_reference,
    check_timezones,
)
from segments.models import Customer

Progress = Callable[[str, int], None]
WHOLE_TABLES = ("stores", "items", "offers", "customers", "orders")
EVENT_TABLES = ((65, OFFER_ASSIGNMENTS), (80, OFFER_REDEMPTIONS), (88, WEATHER))
"""The event tables, staged after the orders, each with the progress its stage starts at."""


@dataclass
class ImportSummary:
    rows_in_files: dict[str, int] = field(default_factory=dict)
    rows_added: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    """Columns the contract does not name, by file (customers keep theirs as attributes)."""
    repeats_skipped: dict[str, int] = field(default_factory=dict)
    """Rows that repeated an earlier row of their file exactly, by file."""
    offers_policy: str = KEEP_EDITS
    offer_differences: list[str] = field(default_factory=list)
    """Offers the extract gives otherwise than the product has, and what the policy did."""
    rows_updated: dict[str, int] = field(default_factory=dict)
    """Offers the extract overwrote, customers an earlier extract implied and this one lists."""
    dry_run: bool = False
    """Checked and summed up only: nothing was written."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in_files": self.rows_in_files,
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "warnings": self.warnings,
            "ignored_columns": self.ignored_columns,
            "repeats_skipped": self.repeats_skipped,
            "offers_policy": self.offers_policy,
            "offer_differences": self.offer_differences,
            "dry_run": self.dry_run,
        }


@dataclass
class Catalog:
    stores: list[dict[str, Any]]
    items: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    customers: pd.DataFrame
    images: dict[str, bytes]
    filled_customers: pd.DataFrame
    """Customers an earlier extract implied, now listed with their join date or attributes."""
    offer_changes: catalog.OfferChanges


def history_import(
    *,
    folder: Path,
    run_id: int,
    progress: Progress,
    offers_policy: str = KEEP_EDITS,
    dry_run: bool = False,
) -> ImportSummary:
    """Import the folder, all or nothing. A problem with the data raises ImportRejected with
    every problem found; anything unexpected raises ImportFailed naming the file and column
    it was reading, so the user never gets a bare exception or a traceback.

    `offers_policy` says what an offer edited in the product and given otherwise by the
    extract becomes (catalog_rows.OFFER_POLICIES); `dry_run` checks and sums up, writes
    nothing."""
    if offers_policy not in catalog.OFFER_POLICIES:
        raise ValueError(f"unknown offers policy {offers_policy!r}")
    log = ProblemLog()
    with reading(""):
        lake_remove_orphans()
    stage = LakeStage(run_id)
    try:
        with reading(""):
            summary, new_catalog = _validate_and_stage(folder, stage, log, progress, offers_policy)
        if log:
            raise ImportRejected(log)
        summary.offers_policy = offers_policy
        if dry_run:
            summary.dry_run = True
            stage.discard()
            return summary
        progress("making it visible", 92)
        with reading(""):
            _commit(new_catalog, stage.files)
    except BaseException:
        stage.discard()
        raise
    return summary


def _validate_and_stage(
    folder: Path, stage: LakeStage, log: ProblemLog, progress: Progress, offers_policy: str
) -> tuple[ImportSummary, Catalog]:
    progress("reading files", 2)
    sources = find_files(folder, log)
    known = _known_ids()
    tables, rows_in_files = _read_whole_tables(sources, log, progress)
    required = (STORES, ITEMS, ORDERS, OFFERS)
    if any(t.name not in tables for t in required) or "order_lines" not in sources:
        raise ImportRejected(log)
    progress("checking the catalog", 25)
    ctx, new_catalog = _check_catalog(folder, tables, sources, known, log, offers_policy)
    progress("checking orders", 30)
    with reading(sources["orders"].label):
        orders = orders_prepare(tables["orders"], sources["orders"].label, ctx, log)
    summary = ImportSummary(rows_in_files=rows_in_files)
    progress("checking and staging order lines", 40)
    with reading(sources["order_lines"].label):
        summary.rows_in_files["order_lines"] = lines_stream(
            sources["order_lines"], orders, ctx, stage, log
        )
    with reading(sources["orders"].label):
        orders_finish(orders, sources["orders"].label, stage, log)
    all_orders = as_string_set(orders.table.column("order_id"), ctx.lake_order_ids)
    del orders, tables
    for percent, spec in EVENT_TABLES:
        if spec.name in sources:
            progress(f"checking and staging {sources[spec.name].label}", percent)
            summary.rows_in_files[spec.name] = events_stream(
                sources[spec.name], spec, ctx, all_orders, stage, log
            )
    summary.rows_added = {
        "stores": len(new_catalog.stores),
        "items": len(new_catalog.items),
        "offers": len(new_catalog.offers),
        "customers": len(new_catalog.customers),
    }
    for name in ("orders", "order_lines", *(spec.name for _, spec in EVENT_TABLES)):
        summary.rows_added[name] = stage.rows(name)
    summary.rows_updated = {
        "offers": len(new_catalog.offer_changes.overwrite),
        "customers": len(new_catalog.filled_customers),
    }
    summary.offer_differences = new_catalog.offer_changes.differences
    summary.warnings = log.warnings
    summary.ignored_columns = log.ignored_columns
    summary.repeats_skipped = log.repeats_skipped
    for label, count in log.repeats_skipped.items():
        log.warn(f"{label}: {count} row(s) repeating an earlier row exactly were skipped")
    return summary, new_catalog


def _known_ids() -> KnownIds:
    existing_orders = lake_read(table="orders", columns=["order_id"]).column("order_id")
    return KnownIds(
        stores=dict(Store.objects.values_list("store_id", "timezone")),
        items=set(Item.objects.values_list("item_id", flat=True)),
        offers=set(Offer.objects.values_list("offer_id", flat=True)),
        customers=set(),
        dayparts=set(Daypart.objects.values_list("name", flat=True)),
        tiers=set(Store.objects.values_list("pricing_tier", flat=True)),
        order_ids=existing_orders.combine_chunks()
        if len(existing_orders)
        else pa.array([], pa.string()),
    )


def _read_whole_tables(
    sources: dict[str, SourceFile], log: ProblemLog, progress: Progress
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """The tables others refer to, parsed, without the rows that repeat an earlier row
    exactly; and how many rows each file held."""
    tables: dict[str, pa.Table] = {}
    rows_in_files: dict[str, int] = {}
    for step, name in enumerate(n for n in WHOLE_TABLES if n in sources):
        source = sources[name]
        progress(f"checking {source.label}", 5 + step * 4)
        raw = read_raw(source, log)
        parsed = None if raw is None else parse_table(source, raw, log)
        if parsed is None:
            continue
        rows_in_files[name] = parsed.num_rows
        with reading(source.label):
            key = list(source.table.key)
            content = [c for c in parsed.column_names if c != ROW]
            repeats = Repeats()
            verdict = repeats.sort_out(parsed, key, content, streamed=False)
            report_conflicts(source.label, key, parsed, verdict, log)
            if repeats.skipped:
                log.repeats_skipped[source.label] = repeats.skipped
                parsed = parsed.filter(pa.array(~verdict.identical))
        tables[name] = parsed
    return tables, rows_in_files


def _check_catalog(
    folder: Path,
    tables: dict[str, pa.Table],
    sources: dict[str, SourceFile],
    known: KnownIds,
    log: ProblemLog,
    offers_policy: str,
) -> tuple[Context, Catalog]:
    label = {name: source.label for name, source in sources.items()}
    stores, items, offers = tables["stores"], tables["items"], tables["offers"]
    with reading(label["stores"], "timezone"):
        check_timezones(label["stores"], stores, log)
    # An unknown zone is already a reported problem; UTC lets the other checks go on.
    store_zones = {
        store: zone if zone in TIMEZONES else "UTC"
        for store, zone in {**known.stores, **catalog.store_zones(stores)}.items()
    }
    item_ids = as_string_set(items.column("item_id"), known.items)
    with reading(label["offers"]):
        images = check_offers(label["offers"], offers, folder, known, log)
    check_reference(log, label["offers"], offers, "item_ids", "item", item_ids)
    customers = tables.get("customers")
    implied = customers is None

    customer_ids = (
        None
        if implied
        else as_string_set(
            customers.column("customer_id"),  # type: ignore[union-attr]
            Customer.objects.values_list("customer_id", flat=True),
        )
    )
    ctx = Context(
        store_zones=store_zones,
        store_ids=as_string_set(store_zones.keys()),
        item_ids=item_ids,
        offer_ids=as_string_set(offers.column("offer_id"), known.offers),
        customer_ids=customer_ids,
        lake_order_ids=known.order_ids,
        unit_costs=_unit_costs(items),
        customers_where=""
        if implied
        else f"not in {label['customers']} nor among the customers imported before",
    )
    rows: dict[str, list[dict[str, Any]]] = {}
    new: dict[str, list[dict[str, Any]]] = {}
    for name, table in (("stores", stores), ("items", items)):
        with reading(label[name]):
            rows[name] = catalog.catalog_rows(
                table, [table_key(name), *catalog.CATALOG_FIELDS[name]]
            )
            new[name] = catalog.new_catalog_rows(name, rows[name], label[name], log)
    with reading(label["offers"]):
        rows["offers"] = catalog.offer_rows(offers, images)
        new["offers"], offer_changes = catalog.offer_changes(
            rows["offers"], label["offers"], log, offers_policy
        )
    customers_label = label.get("customers", label["orders"])
    with reading(customers_label):
        frame = catalog.customer_frame(customers, tables["orders"], implied)
        new_customers, filled = catalog.new_customers(frame, customers_label, log)
    _warn_unknown_tiers(rows, known, label["offers"], log)
    return ctx, Catalog(
        new["stores"], new["items"], new["offers"], new_customers, images, filled, offer_changes
    )


def table_key(name: str) -> str:
    return {"stores": "store_id", "items": "item_id", "offers": "offer_id"}[name]


def _unit_costs(items: pa.Table) -> dict[str, float | None]:
    costs = {
        i: (float(c) if c is not None else None)
        for i, c in Item.objects.values_list("item_id", "unit_cost")
    }
    if "unit_cost" in items.column_names:
        costs.update(
            zip(
                items.column("item_id").to_pylist(),
                items.column("unit_cost").to_pylist(),
                strict=True,
            )
        )
    return costs


def _warn_unknown_tiers(
    rows: dict[str, list[dict[str, Any]]], known: KnownIds, label: str, log: ProblemLog
) -> None:
    offered = {t for offer in rows["offers"] for t in offer["pricing_tiers"]}
    unknown = offered - {r["pricing_tier"] for r in rows["stores"]} - known.tiers
    if unknown:
        log.warn(f"{label}: pricing tiers no store has: {', '.join(sorted(unknown))}")


def _commit(new: Catalog, files: list[LakeFile]) -> None:
    """One transaction: catalog, customers and the lake manifest become visible together."""
    with transaction.atomic():
        with reading("the stores", verb="writing"):
            Store.objects.bulk_create(Store(**catalog.fields(r)) for r in new.stores)
        with reading("the items", verb="writing"):
            Item.objects.bulk_create(Item(**catalog.fields(r)) for r in new.items)
        with reading("the offers", verb="writing"):
            offers = []
            for row in new.offers:
                content = new.images.get(row["offer_id"])
                if content is not None:
                    row["image"] = image_store(content=content).path
                offers.append(Offer(**catalog.fields(row)))
            Offer.objects.bulk_create(offers)
            catalog.offers_overwrite(new.offer_changes.overwrite, new.images)
        with reading("the customers", verb="writing"):
            catalog.insert_customers(new.customers)
            catalog.fill_customers(new.filled_customers)
        with reading("the lake manifest", verb="writing"):
            LakeFile.objects.bulk_create(files, batch_size=1000)
