"""Baseline: a plain pandas script doing the import's validation on the same folder.

Same checks as `import_data`: required files and columns, types, empty values, duplicate ids,
references between tables, positive quantities, time zones, offer images. It writes nothing.
Usage: python benchmarks/import_baseline_pandas.py FOLDER
"""

import sys
import zoneinfo
from pathlib import Path

import pandas as pd
from PIL import Image

problems: list[str] = []


def read(folder: Path, name: str) -> pd.DataFrame | None:
    for suffix in (".parquet", ".csv", ".csv.gz"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            if suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    return None


def bad(frame: pd.DataFrame, mask: pd.Series, table: str, column: str, reason: str) -> None:
    for row in (frame.index[mask.to_numpy()] + 2)[:100]:
        problems.append(f"{table}, row {row}, column {column}: {reason}")


def number(frame: pd.DataFrame, table: str, column: str, required: bool = True) -> pd.Series:
    raw = frame[column]
    values = pd.to_numeric(raw.replace("", None), errors="coerce")
    empty = raw.isna() | (raw.astype(str) == "")
    bad(frame, values.isna() & ~empty, table, column, "is not a number")
    if required:
        bad(frame, empty, table, column, "is empty")
    return values


def timestamp(frame: pd.DataFrame, table: str, column: str) -> pd.Series:
    values = pd.to_datetime(frame[column], errors="coerce", format="ISO8601", utc=False)
    bad(frame, values.isna(), table, column, "is not an ISO 8601 timestamp")
    return values


def unique(frame: pd.DataFrame, table: str, key: list[str]) -> None:
    bad(frame, frame.duplicated(subset=key), table, key[0], "duplicate")


def reference(frame: pd.DataFrame, table: str, column: str, known: pd.Series) -> None:
    values = frame[column]
    present = values.notna() & (values.astype(str) != "")
    bad(frame, present & ~values.isin(known), table, column, "refers to a missing row")


def main(folder: Path) -> int:
    stores, items = read(folder, "stores"), read(folder, "items")
    orders, lines = read(folder, "orders"), read(folder, "order_lines")
    offers, customers = read(folder, "offers"), read(folder, "customers")
    assignments, redemptions = read(folder, "offer_assignments"), read(folder, "offer_redemptions")
    weather = read(folder, "weather")
    assert stores is not None and items is not None and orders is not None
    assert lines is not None and offers is not None
    unique(stores, "stores", ["store_id"])
    zones = zoneinfo.available_timezones()
    bad(
        stores,
        ~stores["timezone"].isin(zones) & (stores["timezone"] != ""),
        "stores",
        "timezone",
        "unknown timezone",
    )
    unique(items, "items", ["item_id"])
    number(items, "items", "price", required=False)
    number(items, "items", "unit_cost", required=False)
    unique(orders, "orders", ["order_id"])
    reference(orders, "orders", "store_id", stores["store_id"])
    if customers is not None:
        unique(customers, "customers", ["customer_id"])
        reference(orders, "orders", "customer_id", customers["customer_id"])
    timestamp(orders, "orders", "ordered_at")
    number(orders, "orders", "total")
    reference(lines, "order_lines", "order_id", orders["order_id"])
    reference(lines, "order_lines", "item_id", items["item_id"])
    reference(lines, "order_lines", "offer_id", offers["offer_id"])
    quantity = number(lines, "order_lines", "quantity")
    bad(lines, quantity <= 0, "order_lines", "quantity", "must be greater than 0")
    number(lines, "order_lines", "amount")
    unique(offers, "offers", ["offer_id"])
    for row, image in enumerate(offers["image"], start=2):
        if image:
            try:
                with Image.open(folder / image) as opened:
                    opened.verify()
            except OSError:
                problems.append(f"offers, row {row}, column image: not an image")
    for table, frame, column in (
        ("offer_assignments", assignments, "assigned_at"),
        ("offer_redemptions", redemptions, "redeemed_at"),
    ):
        if frame is not None:
            unique(frame, table, ["customer_id", "offer_id", column])
            timestamp(frame, table, column)
            reference(frame, table, "offer_id", offers["offer_id"])
            if customers is not None:
                reference(frame, table, "customer_id", customers["customer_id"])
    if redemptions is not None:
        reference(redemptions, "offer_redemptions", "order_id", orders["order_id"])
    if weather is not None:
        unique(weather, "weather", ["store_id", "date"])
        reference(weather, "weather", "store_id", stores["store_id"])
        number(weather, "weather", "temp_c")
    print(f"baseline: {len(problems)} problems, {len(orders):,} orders, {len(lines):,} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
