"""A small, valid extract in the contract format, written by hand so tests can break it."""

import csv
from pathlib import Path

from PIL import Image

TABLES: dict[str, list[dict[str, str]]] = {
    "stores": [
        {
            "store_id": "NY1",
            "name": "Times Sq",
            "pricing_tier": "premium",
            "region": "east",
            "timezone": "America/New_York",
            "latitude": "40.75",
            "longitude": "-73.98",
        },
        {
            "store_id": "LA1",
            "name": "Venice",
            "pricing_tier": "value",
            "region": "west",
            "timezone": "America/Los_Angeles",
            "latitude": "",
            "longitude": "",
        },
    ],
    "items": [
        {
            "item_id": "WHOP",
            "name": "Whopper",
            "category": "burgers",
            "price": "6.49",
            "unit_cost": "2.10",
        },
        {
            "item_id": "FRY",
            "name": "Fries",
            "category": "sides",
            "price": "2.99",
            "unit_cost": "0.40",
        },
        {
            "item_id": "COF",
            "name": "Coffee",
            "category": "hot_drinks",
            "price": "1.99",
            "unit_cost": "",
        },
    ],
    "customers": [
        {"customer_id": "C1", "joined_at": "2024-05-01", "loyalty_tier": "gold"},
        {"customer_id": "C2", "joined_at": "", "loyalty_tier": "none"},
    ],
    "offers": [
        {
            "offer_id": "O1",
            "name": "$1 coffee",
            "description": "Any size coffee for $1, 5-10:30am",
            "image": "images/o1.png",
            "category": "hot_drinks",
            "pricing_tiers": "",
            "dayparts": "breakfast",
            "channels": "",
            "item_ids": "COF",
            "discount_value": "1.00",
            "valid_from": "2025-01-01",
            "valid_to": "2025-12-31",
        },
        {
            "offer_id": "O2",
            "name": "Free fries",
            "description": "Free fries with any Whopper",
            "image": "",
            "category": "sides",
            "pricing_tiers": "premium|value",
            "dayparts": "11:00-14:00",
            "channels": "mobile_app|kiosk",
            "item_ids": "FRY|WHOP",
            "discount_value": "2.99",
            "valid_from": "",
            "valid_to": "",
        },
    ],
    "orders": [
        {
            "order_id": "A1",
            "customer_id": "C1",
            "store_id": "NY1",
            "ordered_at": "2025-01-31T23:30:00",
            "channel": "drive_thru",
            "total": "9.48",
            "gross_margin": "",
        },
        {
            "order_id": "A2",
            "customer_id": "",
            "store_id": "LA1",
            "ordered_at": "2025-02-01T07:15:00-08:00",
            "channel": "kiosk",
            "total": "1.00",
            "gross_margin": "0.80",
        },
        {
            "order_id": "A3",
            "customer_id": "C2",
            "store_id": "LA1",
            "ordered_at": "2025-02-01T01:00:00Z",
            "channel": "mobile_app",
            "total": "6.49",
            "gross_margin": "",
        },
    ],
    "order_lines": [
        {"order_id": "A1", "item_id": "WHOP", "quantity": "1", "amount": "6.49", "offer_id": ""},
        {"order_id": "A1", "item_id": "FRY", "quantity": "1", "amount": "2.99", "offer_id": ""},
        {"order_id": "A2", "item_id": "COF", "quantity": "1", "amount": "1.00", "offer_id": "O1"},
        {"order_id": "A3", "item_id": "WHOP", "quantity": "1", "amount": "6.49", "offer_id": ""},
    ],
    "offer_assignments": [
        {"customer_id": "C1", "offer_id": "O1", "assigned_at": "2025-01-20T09:00:00Z"},
    ],
    "offer_redemptions": [
        {
            "customer_id": "C1",
            "offer_id": "O1",
            "redeemed_at": "2025-02-01T07:15:00",
            "order_id": "A2",
            "store_id": "LA1",
        },
    ],
    "weather": [
        {
            "store_id": "NY1",
            "date": "2025-01-31",
            "temp_c": "-3.5",
            "precip_mm": "2.0",
            "condition": "snow",
        },
        {
            "store_id": "LA1",
            "date": "2025-02-01",
            "temp_c": "18",
            "precip_mm": "0",
            "condition": "",
        },
    ],
}


def write_folder(folder: Path, tables: dict[str, list[dict[str, str]]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (tables or TABLES).items():
        columns = list(dict.fromkeys(c for row in rows for c in row)) or ["id"]
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    (folder / "images").mkdir(exist_ok=True)
    Image.new("RGB", (16, 16), (120, 60, 20)).save(folder / "images" / "o1.png")
    return folder


def copy_tables() -> dict[str, list[dict[str, str]]]:
    return {name: [dict(row) for row in rows] for name, rows in TABLES.items()}
