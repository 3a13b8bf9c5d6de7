"""A small catalog for the catalog pages: three tiers in three time zones, items and offers."""

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from offers.models import Item, Offer, Store

TODAY = dt.date(2026, 3, 15)
STORES = [
    ("S001", "Main St", "value", "Northeast", "America/New_York"),
    ("S002", "Harbor", "value", "Northeast", "America/New_York"),
    ("S003", "Lakeside", "core", "Midwest", "America/Chicago"),
    ("S004", "Sunset Blvd", "premium", "West", "America/Los_Angeles"),
    ("S005", "Airport", "premium", "West", "America/Los_Angeles"),
    ("S006", "Downtown", "premium", "Midwest", "America/Chicago"),
]
ITEMS = [
    ("BRK03", "Croissant Sandwich", "breakfast", "3.49"),
    ("DRK01", "Hot Coffee", "hot_drinks", "1.29"),
    ("BUR01", "Double Burger", "burgers", "5.99"),
    ("SID02", "Loaded Fries", "sides", "2.99"),
]


def png_bytes(color: str = "#d35400", text: str = "", size: tuple[int, int] = (320, 200)) -> bytes:
    """A flat offer picture: a colored card, a plate and the offer's words."""
    width, height = size
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width - 150, height - 150, width + 30, height + 30), fill="#fff3e0")
    draw.ellipse((width - 120, height - 120, width, height), fill="#f5b041")
    if text:
        font = ImageFont.load_default(size=30)
        draw.multiline_text((18, 18), text.replace(" ", "\n", 2), fill="white", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def offer_create(**fields: Any) -> Offer:
    defaults: dict[str, Any] = {
        "name": f"Offer {fields['offer_id']}",
        "description": "A plain test offer.",
    }
    return Offer.objects.create(**{**defaults, **fields})


def catalog_create() -> dict[str, Offer]:
    for store_id, name, tier, region, zone in STORES:
        Store.objects.create(
            store_id=store_id, name=name, pricing_tier=tier, region=region, timezone=zone
        )
    for item_id, name, category, price in ITEMS:
        Item.objects.create(item_id=item_id, name=name, category=category, price=Decimal(price))
    return {
        "croissant": offer_create(
            offer_id="OF-100",
            name="$3 Croissant Sandwich Meal",
            description="Sausage, egg and cheese on a buttery croissant with a small coffee.",
            category="breakfast",
            dayparts=["breakfast"],
            item_ids=["BRK03", "DRK01"],
            discount_value=Decimal("3.00"),
            valid_from=dt.date(2026, 3, 1),
            valid_to=dt.date(2026, 3, 31),
        ),
        "late": offer_create(
            offer_id="OF-200",
            name="Midnight Burger Deal",
            description="Double burger and fries after dark, in the app only.",
            category="burgers",
            pricing_tiers=["premium"],
            dayparts=["23:00-01:30"],
            channels=["mobile_app"],
            item_ids=["BUR01", "SID02", "GONE9"],
            valid_from=dt.date(2026, 1, 1),
        ),
        "lunch": offer_create(
            offer_id="OF-300",
            name="Lunch Combo Upgrade",
            description="Free upgrade to large fries with any lunch combo.",
            category="sides",
            pricing_tiers=["value", "core"],
            dayparts=["lunch"],
            channels=["drive_thru", "counter"],
            valid_from=dt.date(2026, 1, 1),
            valid_to=dt.date(2026, 2, 28),
        ),
        "summer": offer_create(
            offer_id="OF-400",
            name="Summer Shake",
            description="Any shake for $2 this summer.",
            category="desserts",
            valid_from=dt.date(2026, 6, 1),
        ),
    }
