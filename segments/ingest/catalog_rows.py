"""The catalog side of an import: stores, items, offers and customers in the database."""

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.db.models import F
from django.utils import timezone

from deepflame_web.core.bulk import bulk_insert
from offers.columns import OFFER_COLUMNS, OFFER_LIST_COLUMNS
from offers.images import image_store
from offers.models import AuditEntry, Item, Offer, Store
from offers.services import (
    CONTENT_FIELDS,
    audit_record,
    offer_content_changed,
    offer_snapshot,
)
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


KEEP_EDITS, TAKE_EXTRACT = "keep-edits", "take-extract"
OFFER_POLICIES = (KEEP_EDITS, TAKE_EXTRACT)
"""What an import does with an offer the extract gives with other content than the product
has: keep the edits made in the product (the default), or take the extract's."""
OFFER_IMPORT_ACTION = "offer_import"
"""The audit action of an offer the extract overwrote: product edits before it are undone."""
SHOWN_CHARS = 60


@dataclass
class OfferChanges:
    """Offers of the extract that differ from the product's, resolved by the policy."""

    overwrite: list[dict[str, Any]] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


def offer_changes(
    rows: list[dict[str, Any]], label: str, log: ProblemLog, policy: str
) -> tuple[list[dict[str, Any]], OfferChanges]:
    """New offers, and what to do with the existing ones the extract gives otherwise.

    keep-edits: a row that differs only in fields edited in the product (the audit log says
    which, since the last import that overwrote the offer) is skipped and listed; a row that
    differs in a field nobody edited in the product is still an error, as for every other
    table. take-extract: every differing row overwrites the product's offer, and is listed."""
    fields_ = CATALOG_FIELDS["offers"]
    existing = {o["offer_id"]: o for o in Offer.objects.values("offer_id", *fields_)}
    new, changes = [], OfferChanges()
    differing: list[tuple[dict[str, Any], list[str]]] = []
    for row in rows:
        before = existing.get(row["offer_id"])
        if before is None:
            new.append(row)
            continue
        old, given = comparable("offers", before), comparable("offers", row)
        differs = [c for c, a, b in zip(fields_, old, given, strict=True) if a != b]
        if differs:
            differing.append((row, differs))
    edits = _product_edits([row["offer_id"] for row, _ in differing])
    for row, differs in differing:
        offer_id, before = row["offer_id"], existing[row["offer_id"]]
        edited, editor = edits.get(offer_id, (set(), ""))
        not_edited = [c for c in differs if c not in edited]
        where = f"{label}, row {row[ROW]}: offer {offer_id!r}"
        if policy == KEEP_EDITS and not_edited:
            log.add(
                label,
                not_edited[0],
                f"offer_id {offer_id!r} exists already with different content "
                f"({', '.join(not_edited)}), not edited in the product; a change is not an "
                "overwrite (import with the extract's offers, --offers take-extract, to take it)",
                np.array([row[ROW]]),
            )
            continue
        shown = "; ".join(
            f"{c}: product {_shown(before[c])}, extract {_shown(row[c])}" for c in differs
        )
        if policy == KEEP_EDITS:
            changes.differences.append(
                f"{where}: kept the product's edit by {editor or 'the system'} ({shown})"
            )
        else:
            changes.overwrite.append(row)
            changes.differences.append(f"{where}: the extract overwrites the product's ({shown})")
    return new, changes


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _product_edits(offer_ids: list[str]) -> dict[str, tuple[set[str], str]]:
    """Per offer, the fields changed in the product since an import last overwrote it, and
    who changed them last (a created offer counts as every field edited)."""
    edits: dict[str, tuple[set[str], str]] = {}
    entries = (
        AuditEntry.objects.filter(object_type="offer", object_id__in=offer_ids)
        .order_by("created_at", "id")
        .values_list("object_id", "action", "before", "after", "username")
    )
    for offer_id, action, before, after, username in entries.iterator():
        if action == OFFER_IMPORT_ACTION:
            edits.pop(offer_id, None)
            continue
        after = after or {}
        changed = {k for k in after if before is None or before.get(k) != after.get(k)}
        changed = {"image_sha256" if k == "image" else k for k in changed}
        fields_before, _ = edits.get(offer_id, (set(), ""))
        edits[offer_id] = (fields_before | changed, username or "the system")
    return edits


def offers_overwrite(rows: list[dict[str, Any]], images: dict[str, bytes]) -> None:
    """The extract's content over the product's, inside the import's transaction: a new
    revision (an open edit page's save is refused), an audit entry, a re-embedding when
    what the encoders read changed."""
    for row in rows:
        offer = Offer.objects.select_for_update().get(offer_id=row["offer_id"])
        before = offer_snapshot(offer)
        content_before = tuple(getattr(offer, c) for c in CONTENT_FIELDS)
        for column in CATALOG_FIELDS["offers"]:
            setattr(offer, column, row[column])
        content = images.get(offer.offer_id)
        offer.image = image_store(content=content).path if content is not None else ""
        offer.revision += 1
        offer.updated_by = None
        offer.updated_at = timezone.now()
        offer.save()
        offer.refresh_from_db()
        audit_record(
            user=None,
            action=OFFER_IMPORT_ACTION,
            object_type="offer",
            object_id=offer.offer_id,
            object_repr=str(offer),
            before=before,
            after=offer_snapshot(offer),
        )
        if tuple(getattr(offer, c) for c in CONTENT_FIELDS) != content_before:
            offer_content_changed(offer=offer)


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


def new_customers(
    frame: pd.DataFrame, label: str, log: ProblemLog
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers to add, and those to fill in: a customer an earlier extract only implied
    (named by orders, no join date, no attributes) takes the content a customers file lists
    for it; that completes the row, it does not change it. Any other difference is a problem."""
    existing = pd.DataFrame.from_records(
        Customer.objects.values_list("customer_id", "joined_at", "attributes").iterator(
            chunk_size=50_000
        ),
        columns=["customer_id", "joined_at_before", "attributes_before"],
    )
    if existing.empty:
        return frame, frame.iloc[0:0]
    merged = frame.merge(existing, on="customer_id", how="left", indicator=True)
    seen = merged["_merge"] == "both"
    before = merged.loc[seen, "attributes_before"].map(lambda a: json.dumps(a, sort_keys=True))
    implied_only = merged.loc[seen, ROW] == 0
    implied_before = merged.loc[seen, "joined_at_before"].isna() & (before == "{}")
    differs = ~implied_only & (
        (before != merged.loc[seen, "attributes"])
        | (
            merged.loc[seen, "joined_at"].astype(str)
            != merged.loc[seen, "joined_at_before"].astype(str)
        )
    )
    seen_mask = seen.to_numpy()
    fill = np.zeros(len(merged), dtype=bool)
    fill[seen_mask] = (differs & implied_before).to_numpy(dtype=bool)
    changed = np.zeros(len(merged), dtype=bool)
    changed[seen_mask] = (differs & ~implied_before).to_numpy(dtype=bool)
    if changed.any():
        log.add(
            label,
            "customer_id",
            "customer exists already with different content; a change is not an overwrite",
            merged.loc[changed, ROW].to_numpy(),
        )
    return frame[~seen_mask], frame[fill]


def fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != ROW}


FILL_BATCH = 5_000


def fill_customers(frame: pd.DataFrame) -> None:
    """Join dates and attributes for customers that an earlier extract only implied."""
    joined = pd.to_datetime(frame["joined_at"], errors="coerce").dt.date
    values = {
        cid: (None if pd.isna(j) else j, json.loads(attributes))
        for cid, j, attributes in zip(
            frame["customer_id"], joined, frame["attributes"], strict=True
        )
    }
    ids = list(values)
    for start in range(0, len(ids), FILL_BATCH):
        customers = list(Customer.objects.filter(customer_id__in=ids[start : start + FILL_BATCH]))
        for customer in customers:
            customer.joined_at, customer.attributes = values[customer.customer_id]
        Customer.objects.bulk_update(customers, ["joined_at", "attributes"])


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
