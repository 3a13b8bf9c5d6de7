"""The catalog side of an import: stores, items, offers and customers in the database."""

import hashlib
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.db.models import F

from deepflame_web.core.bulk import bulk_insert
from offers.columns import OFFER_COLUMNS, OFFER_LIST_COLUMNS
from offers.models import Item, Offer, Store
from segments.ingest.parsing import ROW
from segments.ingest.problems import ProblemLog
from segments.models import Customer, CustomerTotal

CATALOG_FIELDS = {
    "stores": ["name", "pricing_tier", "region", "timezone", "latitude", "longitude"],
    "items": ["name", "category", "price", "unit_cost"],
    # An offer's image is compared by its content, not by its path in the extract.
    "offers": [*(c for c in OFFER_COLUMNS if c not in ("offer_id", "image")), "image_sha256"],
}


def store_zones(stores: pa.Table) -> dict[str, str]:
    zones = stores.column("timezone") if "timezone" in stores.column_names else None
    ids = stores.column("store_id").to_pylist()
    values = zones.to_pylist() if zones is not None else [None] * len(ids)
    return {sid: zone or "UTC" for sid, zone in zip(ids, values, strict=True) if sid}


def catalog_rows(table: pa.Table, columns: list[str]) -> list[dict[str, Any]]:
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


def offer_rows(offers: pa.Table, images: dict[str, bytes]) -> list[dict[str, Any]]:
    rows = catalog_rows(offers, list(OFFER_COLUMNS))
    for row in rows:
        for column in OFFER_LIST_COLUMNS:
            row[column] = row[column] or []
        content = images.get(row["offer_id"])
        row["image_sha256"] = hashlib.sha256(content).hexdigest() if content else ""
    return rows


def comparable(name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    values = []
    for column in CATALOG_FIELDS[name]:
        value = row.get(column)
        if isinstance(value, (float, Decimal)):
            value = round(float(value), 4)
        if value == "" or value == []:
            value = None
        values.append(value)
    return tuple(values)


def new_catalog_rows(
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
                CATALOG_FIELDS[name], comparable(name, before), comparable(name, row), strict=True
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


def customer_frame(customers: pa.Table | None, orders: pa.Table, implied: bool) -> pd.DataFrame:
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


def new_customers(frame: pd.DataFrame, label: str, log: ProblemLog) -> pd.DataFrame:
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
    differs = ~implied_only & (
        (before != merged.loc[seen, "attributes"])
        | (
            merged.loc[seen, "joined_at"].astype(str)
            != merged.loc[seen, "joined_at_before"].astype(str)
        )
    )
    changed = np.zeros(len(merged), dtype=bool)
    changed[seen.to_numpy()] = differs.to_numpy(dtype=bool)
    if changed.any():
        log.add(
            label,
            "customer_id",
            "customer exists already with different content; a change is not an overwrite",
            merged.loc[changed, ROW].to_numpy(),
        )
    return frame[~seen.to_numpy()]


def fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != ROW}


def insert_customers(frame: pd.DataFrame) -> None:
    joined = pd.to_datetime(frame["joined_at"], errors="coerce").dt.strftime("%Y-%m-%d")
    rows = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "joined_at": joined.to_numpy(),
            "attributes": frame["attributes"].to_numpy(),
        }
    )
    bulk_insert(table=Customer._meta.db_table, frame=rows)
    # One import runs at a time (one active run per kind), so no lock is needed here.
    if not CustomerTotal.objects.filter(pk=1).update(customers=F("customers") + len(rows)):
        CustomerTotal.objects.create(pk=1, customers=len(rows))
