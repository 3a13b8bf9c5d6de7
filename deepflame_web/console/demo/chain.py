"""The demo chain's fixed catalog: restaurant locations, menu items and offers with their text.

Names are invented for the fictional DeepFlame chain. Offers read like a real chain's so that a
text encoder has something to work with, and their restrictions (tier, daypart, channel, dates)
are the ones the assignment engine has to respect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

PRICING_TIERS: tuple[str, ...] = ("value", "standard", "premium")
TIER_PRICE_FACTOR: tuple[float, ...] = (0.92, 1.0, 1.12)


@dataclass(frozen=True)
class City:
    """A metro area: where stores stand, their time zone and their climate (daily mean
    temperature over the year and its seasonal swing, share of days with rain)."""

    name: str
    region: str
    timezone: str
    latitude: float
    longitude: float
    mean_temp_c: float
    temp_amplitude_c: float
    rain_days_share: float
    zip_prefix: str


EASTERN, CENTRAL, MOUNTAIN = "America/New_York", "America/Chicago", "America/Denver"
ARIZONA, PACIFIC = "America/Phoenix", "America/Los_Angeles"

CITIES: tuple[City, ...] = (
    City("New York", "Northeast", EASTERN, 40.71, -74.01, 13.0, 12.0, 0.33, "100"),
    City("Boston", "Northeast", EASTERN, 42.36, -71.06, 11.0, 13.0, 0.33, "021"),
    City("Atlanta", "Southeast", EASTERN, 33.75, -84.39, 17.5, 9.5, 0.3, "303"),
    City("Miami", "Southeast", EASTERN, 25.76, -80.19, 25.5, 3.5, 0.35, "331"),
    City("Chicago", "Midwest", CENTRAL, 41.88, -87.63, 10.5, 14.0, 0.31, "606"),
    City("Minneapolis", "Midwest", CENTRAL, 44.98, -93.27, 8.0, 16.0, 0.3, "554"),
    City("Dallas", "South Central", CENTRAL, 32.78, -96.8, 19.5, 10.5, 0.22, "752"),
    City("Houston", "South Central", CENTRAL, 29.76, -95.37, 21.0, 8.0, 0.28, "770"),
    City("Denver", "Mountain", MOUNTAIN, 39.74, -104.99, 10.5, 11.5, 0.2, "802"),
    City("Salt Lake City", "Mountain", MOUNTAIN, 40.76, -111.89, 11.5, 13.0, 0.2, "841"),
    City("Phoenix", "Southwest", ARIZONA, 33.45, -112.07, 24.0, 10.0, 0.08, "850"),
    City("Los Angeles", "West Coast", PACIFIC, 34.05, -118.24, 18.5, 4.5, 0.1, "900"),
    City("San Diego", "West Coast", PACIFIC, 32.72, -117.16, 17.5, 4.0, 0.1, "921"),
    City("Las Vegas", "Southwest", PACIFIC, 36.17, -115.14, 20.5, 12.0, 0.06, "891"),
    City("Seattle", "Pacific Northwest", PACIFIC, 47.61, -122.33, 11.5, 7.5, 0.42, "981"),
    City("Portland", "Pacific Northwest", PACIFIC, 45.52, -122.68, 12.5, 8.0, 0.4, "972"),
)


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    pricing_tier: str
    city: City
    latitude: float
    longitude: float


def store_count_for(customers: int) -> int:
    """About one restaurant per 5,000 customers, never fewer than 12 nor more than 200."""
    return max(12, min(200, customers // 5000))


def build_stores(rng: np.random.Generator, count: int) -> list[Store]:
    """Spread stores over the cities in turn; the first three cover the three tiers."""
    tiers = rng.choice(len(PRICING_TIERS), size=count, p=[0.3, 0.45, 0.25])
    tiers[:3] = rng.permutation(3)
    stores = []
    for index in range(count):
        city = CITIES[index % len(CITIES)]
        number = index // len(CITIES) + 1
        jitter = rng.uniform(-0.08, 0.08, size=2) if number > 1 else np.zeros(2)
        stores.append(
            Store(
                store_id=f"S{index + 1:03d}",
                name=f"DeepFlame {city.name} #{number}",
                pricing_tier=PRICING_TIERS[tiers[index]],
                city=city,
                latitude=round(city.latitude + float(jitter[0]), 4),
                longitude=round(city.longitude + float(jitter[1]), 4),
            )
        )
    return stores


@dataclass(frozen=True)
class Item:
    item_id: str
    name: str
    category: str
    price: float
    unit_cost: float


ITEMS: tuple[Item, ...] = (
    Item("BUR01", "Flame King Burger", "burgers", 6.49, 1.95),
    Item("BUR02", "Double Flame King", "burgers", 8.49, 2.70),
    Item("BUR03", "Flame Jr.", "burgers", 3.69, 1.25),
    Item("BUR04", "Bacon Cheddar Stacker", "burgers", 6.99, 2.25),
    Item("BUR05", "Smokehouse BBQ Burger", "burgers", 7.49, 2.30),
    Item("BUR06", "Cheeseburger", "burgers", 1.89, 0.80),
    Item("BUR07", "Double Cheeseburger", "burgers", 2.99, 1.20),
    Item("BUR08", "Hamburger", "burgers", 1.59, 0.70),
    Item("BUR09", "Angus Steakhouse Burger", "burgers", 8.99, 2.60),
    Item("BUR10", "Garden Flame Plant Burger", "burgers", 7.29, 2.60),
    Item("CHK01", "Crispy Chicken Sandwich", "chicken", 5.99, 1.80),
    Item("CHK02", "Spicy Crispy Chicken Sandwich", "chicken", 6.29, 1.85),
    Item("CHK03", "Royal Chicken Club", "chicken", 7.49, 2.20),
    Item("CHK04", "Chicken Nuggets 8 pc", "chicken", 3.99, 1.10),
    Item("CHK05", "Chicken Nuggets 20 pc", "chicken", 7.99, 2.30),
    Item("CHK06", "Chicken Fries 9 pc", "chicken", 4.49, 1.30),
    Item("CHK07", "Grilled Chicken Wrap", "chicken", 5.49, 1.70),
    Item("CHK08", "Chicken Jr.", "chicken", 1.99, 0.85),
    Item("BRK01", "Sausage, Egg & Cheese Croissant Sandwich", "breakfast", 4.29, 1.30),
    Item("BRK02", "Bacon, Egg & Cheese Croissant Sandwich", "breakfast", 4.49, 1.35),
    Item("BRK03", "Croissant Sandwich Meal", "breakfast", 6.49, 2.05),
    Item("BRK04", "Fully Loaded Biscuit", "breakfast", 4.79, 1.45),
    Item("BRK05", "Sausage Biscuit", "breakfast", 1.99, 0.65),
    Item("BRK06", "French Toast Sticks 5 pc", "breakfast", 2.49, 0.55),
    Item("BRK07", "Pancake Platter", "breakfast", 4.99, 1.20),
    Item("BRK08", "Breakfast Burrito Jr.", "breakfast", 1.49, 0.55),
    Item("BRK09", "Big Breakfast Burrito", "breakfast", 5.29, 1.60),
    Item("BRK10", "Hash Brown Bites", "breakfast", 1.79, 0.35),
    Item("SID01", "Small Fries", "sides", 2.29, 0.45),
    Item("SID02", "Medium Fries", "sides", 2.99, 0.55),
    Item("SID03", "Large Fries", "sides", 3.49, 0.65),
    Item("SID04", "Onion Rings", "sides", 3.29, 0.70),
    Item("SID05", "Mozzarella Sticks 4 pc", "sides", 3.49, 0.95),
    Item("SID06", "Side Salad", "sides", 3.29, 1.00),
    Item("SID07", "Loaded Tots", "sides", 3.79, 0.90),
    Item("DRK01", "Small Soft Drink", "drinks", 1.49, 0.15),
    Item("DRK02", "Medium Soft Drink", "drinks", 1.99, 0.20),
    Item("DRK03", "Large Soft Drink", "drinks", 2.39, 0.25),
    Item("DRK04", "Bottled Water", "drinks", 1.79, 0.30),
    Item("DRK05", "Orange Juice", "drinks", 2.49, 0.70),
    Item("DRK06", "Sweet Iced Tea", "drinks", 1.99, 0.15),
    Item("HOT01", "Small Hot Coffee", "hot_drinks", 1.29, 0.20),
    Item("HOT02", "Medium Hot Coffee", "hot_drinks", 1.79, 0.25),
    Item("HOT03", "Cappuccino", "hot_drinks", 3.49, 0.55),
    Item("HOT04", "Caramel Latte", "hot_drinks", 3.99, 0.60),
    Item("HOT05", "Hot Chocolate", "hot_drinks", 2.29, 0.40),
    Item("HOT06", "Hot Tea", "hot_drinks", 1.49, 0.15),
    Item("FRZ01", "Vanilla Shake", "frozen_drinks", 3.79, 0.85),
    Item("FRZ02", "Chocolate Shake", "frozen_drinks", 3.79, 0.90),
    Item("FRZ03", "Strawberry Shake", "frozen_drinks", 3.79, 0.90),
    Item("FRZ04", "Frozen Cherry Slush", "frozen_drinks", 1.99, 0.25),
    Item("FRZ05", "Frozen Blue Raspberry Slush", "frozen_drinks", 1.99, 0.25),
    Item("FRZ06", "Iced Caramel Frappe", "frozen_drinks", 4.29, 0.85),
    Item("DES01", "Soft Serve Cone", "desserts", 1.29, 0.30),
    Item("DES02", "Chocolate Fudge Sundae", "desserts", 2.49, 0.55),
    Item("DES03", "Baked Apple Pie", "desserts", 1.99, 0.45),
    Item("DES04", "Chocolate Chip Cookies 2 pc", "desserts", 1.49, 0.30),
    Item("DES05", "Fudge Sundae Pie", "desserts", 2.79, 0.70),
    Item("DES06", "Cookie Crumble Swirl", "desserts", 3.49, 0.80),
    Item("KID01", "Kids Cheeseburger Meal", "kids_meals", 4.99, 1.70),
    Item("KID02", "Kids Nuggets Meal", "kids_meals", 4.99, 1.60),
    Item("KID03", "Kids Hamburger Meal", "kids_meals", 4.49, 1.50),
    Item("KID04", "Kids Chicken Jr. Meal", "kids_meals", 4.79, 1.60),
)

BREAKFAST_DRINK_IDS: frozenset[str] = frozenset({"DRK04", "DRK05"})
"""Soft drinks are not poured before 10:30; water and orange juice are."""

NOT_AT_BREAKFAST: frozenset[str] = frozenset({"burgers", "chicken", "sides", "kids_meals"})

ALL_DAY_EXCEPT_BREAKFAST = ("lunch", "afternoon", "dinner", "late_night")
DAYTIME = ("lunch", "afternoon", "dinner")


@dataclass(frozen=True)
class OfferSpec:
    """An offer as marketing wrote it; `timing` says how its dates sit in the demo period.

    `kind` is the mechanic: "price" (the line costs `value`), "free", "percent" (`value` off as
    a fraction) or "amount_off" (`value` off the line).
    """

    name: str
    description: str
    category: str
    item_ids: tuple[str, ...]
    kind: str
    value: float
    quantity: int = 1
    tiers: tuple[str, ...] = ()
    dayparts: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    timing: str = "always"


def _offer(
    name: str,
    description: str,
    category: str,
    items: str,
    kind: str,
    value: float,
    *,
    quantity: int = 1,
    tiers: tuple[str, ...] = (),
    dayparts: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
    timing: str = "always",
) -> OfferSpec:
    """Shorthand for the table below: `items` is the `|`-separated list of the contract."""
    return OfferSpec(
        name=name,
        description=description,
        category=category,
        item_ids=tuple(items.split("|")),
        kind=kind,
        value=value,
        quantity=quantity,
        tiers=tiers,
        dayparts=dayparts,
        channels=channels,
        timing=timing,
    )


NB = ALL_DAY_EXCEPT_BREAKFAST
BF = ("breakfast",)
LN = ("late_night",)

OFFER_SPECS: tuple[OfferSpec, ...] = (
    _offer(
        "$3 Croissant Sandwich Meal",
        "$3 Croissant Sandwich meal, 6-10:30am: sausage, egg and cheese on a buttery "
        "croissant with hash brown bites and a small coffee.",
        "breakfast",
        "BRK03",
        "price",
        3.0,
        dayparts=("06:00-10:30",),
    ),
    _offer(
        "2 for $5 Fully Loaded Biscuits",
        "Two fully loaded biscuits stacked with sausage, bacon, ham and egg for $5, breakfast"
        " hours only.",
        "breakfast",
        "BRK04",
        "price",
        5.0,
        quantity=2,
        dayparts=BF,
    ),
    _offer(
        "Free Hash Brown Bites in the app",
        "Free hash brown bites with any breakfast sandwich ordered ahead in the app, until "
        "10:30am.",
        "breakfast",
        "BRK10",
        "free",
        0.0,
        dayparts=BF,
        channels=("mobile_app",),
    ),
    _offer(
        "$1 Coffee Mornings",
        "Any size hot coffee for $1 before 10:30am. Freshly brewed every 30 minutes.",
        "hot_drinks",
        "HOT01|HOT02",
        "price",
        1.0,
        dayparts=BF,
    ),
    _offer(
        "French Toast Sticks for $1.49",
        "Five golden French toast sticks with maple syrup for $1.49, breakfast only.",
        "breakfast",
        "BRK06",
        "price",
        1.49,
        dayparts=BF,
    ),
    _offer(
        "2 for $2 Breakfast Burrito Jr.",
        "Two breakfast burritos with sausage, scrambled egg and cheese for $2, 5-10:30am at "
        "value and standard restaurants.",
        "breakfast",
        "BRK08",
        "price",
        2.0,
        quantity=2,
        tiers=("value", "standard"),
        dayparts=BF,
    ),
    _offer(
        "$1 off the Pancake Platter",
        "$1 off the pancake platter with sausage and syrup. Limited time, breakfast hours.",
        "breakfast",
        "BRK07",
        "amount_off",
        1.0,
        dayparts=BF,
        timing="lto",
    ),
    _offer(
        "Drive-thru Latte $2",
        "A creamy caramel latte for $2 at the drive-thru, 5-10:30am. Your commute, warmer.",
        "hot_drinks",
        "HOT04",
        "price",
        2.0,
        dayparts=BF,
        channels=("drive_thru",),
    ),
    _offer(
        "Big Breakfast Burrito 25% off",
        "Big breakfast burrito with eggs, sausage, hash browns and salsa, 25% off in the app "
        "before 10:30am.",
        "breakfast",
        "BRK09",
        "percent",
        0.25,
        dayparts=BF,
        channels=("mobile_app",),
        timing="lto",
    ),
    _offer(
        "Croissant Sandwich $2.49",
        "Bacon, egg and cheese croissant sandwich for $2.49 at value restaurants, breakfast only.",
        "breakfast",
        "BRK02",
        "price",
        2.49,
        tiers=("value",),
        dayparts=BF,
        timing="ending",
    ),
    _offer(
        "2 for $6 Flame Jr.",
        "2 for $6 Flame Jr.: two flame-grilled junior burgers with lettuce, tomato and mayo.",
        "burgers",
        "BUR03",
        "price",
        6.0,
        quantity=2,
        dayparts=NB,
    ),
    _offer(
        "$5 Flame King",
        "The flame-grilled Flame King burger with tomatoes, lettuce, pickles and onions for $5.",
        "burgers",
        "BUR01",
        "price",
        5.0,
        dayparts=NB,
    ),
    _offer(
        "$1 off Double Flame King",
        "$1 off the Double Flame King: two quarter-pound flame-grilled patties.",
        "burgers",
        "BUR02",
        "amount_off",
        1.0,
        dayparts=NB,
        timing="open",
    ),
    _offer(
        "Free Cheeseburger with any app order",
        "Free cheeseburger with any mobile app order of $10 or more.",
        "burgers",
        "BUR06",
        "free",
        0.0,
        dayparts=NB,
        channels=("mobile_app",),
    ),
    _offer(
        "Angus Steakhouse Burger $2 off",
        "$2 off the Angus Steakhouse burger with crispy onions and steak sauce, at premium "
        "restaurants.",
        "burgers",
        "BUR09",
        "amount_off",
        2.0,
        tiers=("premium",),
        dayparts=NB,
    ),
    _offer(
        "Bacon Cheddar Stacker $4.99",
        "The Bacon Cheddar Stacker for $4.99 for a limited time: smoky bacon, melted cheddar,"
        " stacker sauce.",
        "burgers",
        "BUR04",
        "price",
        4.99,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "Smokehouse BBQ Burger launch $5.99",
        "New Smokehouse BBQ burger with onion rings and hickory sauce, $5.99 during launch weeks.",
        "burgers",
        "BUR05",
        "price",
        5.99,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "Garden Flame Plant Burger 30% off",
        "30% off the plant-based Garden Flame burger, flame-grilled like the original.",
        "burgers",
        "BUR10",
        "percent",
        0.3,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "Late-night Double Cheeseburger $1.99",
        "Double cheeseburger for $1.99 after 9pm. Late-night cravings, handled.",
        "burgers",
        "BUR07",
        "price",
        1.99,
        dayparts=LN,
    ),
    _offer(
        "$1 Hamburger",
        "A classic flame-grilled hamburger for $1 at value restaurants.",
        "burgers",
        "BUR08",
        "price",
        1.0,
        tiers=("value",),
        dayparts=NB,
    ),
    _offer(
        "Double Flame King $3 off on delivery",
        "$3 off the Double Flame King when you order delivery.",
        "burgers",
        "BUR02",
        "amount_off",
        3.0,
        dayparts=NB,
        channels=("delivery",),
    ),
    _offer(
        "Kiosk Flame King 20% off",
        "Order at the kiosk and get 20% off a Flame King burger.",
        "burgers",
        "BUR01",
        "percent",
        0.2,
        dayparts=NB,
        channels=("kiosk",),
    ),
    _offer(
        "8 pc Nuggets for $1.99",
        "Eight crispy white-meat chicken nuggets for $1.99 with your favorite dip.",
        "chicken",
        "CHK04",
        "price",
        1.99,
        dayparts=NB,
    ),
    _offer(
        "20 pc Nuggets $5 on delivery",
        "Twenty chicken nuggets for $5 on delivery orders. Share them, or don't.",
        "chicken",
        "CHK05",
        "price",
        5.0,
        dayparts=NB,
        channels=("delivery",),
    ),
    _offer(
        "Spicy Crispy Chicken $4 in the app",
        "Spicy crispy chicken sandwich for $4 when you order ahead in the app.",
        "chicken",
        "CHK02",
        "price",
        4.0,
        dayparts=NB,
        channels=("mobile_app",),
    ),
    _offer(
        "Chicken Fries $2.99 late night",
        "Nine chicken fries for $2.99 after 9pm.",
        "chicken",
        "CHK06",
        "price",
        2.99,
        dayparts=LN,
    ),
    _offer(
        "Royal Chicken Club $2 off",
        "$2 off the Royal Chicken Club with bacon and swiss at standard and premium restaurants.",
        "chicken",
        "CHK03",
        "amount_off",
        2.0,
        tiers=("standard", "premium"),
        dayparts=NB,
    ),
    _offer(
        "2 for $7 Crispy Chicken Sandwiches",
        "Two crispy chicken sandwiches for $7, limited time only.",
        "chicken",
        "CHK01",
        "price",
        7.0,
        quantity=2,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "Grilled Chicken Wrap $1 off at lunch",
        "$1 off the grilled chicken wrap, 10:30am-2pm.",
        "chicken",
        "CHK07",
        "amount_off",
        1.0,
        dayparts=("10:30-14:00",),
    ),
    _offer(
        "Chicken Jr. 2 for $3",
        "Two Chicken Jr. sandwiches for $3 at value restaurants.",
        "chicken",
        "CHK08",
        "price",
        3.0,
        quantity=2,
        tiers=("value",),
        dayparts=NB,
    ),
    _offer(
        "Half-price 8 pc Nuggets, while it lasts",
        "Half-price eight-piece chicken nuggets while the promotion lasts.",
        "chicken",
        "CHK04",
        "percent",
        0.5,
        dayparts=NB,
        timing="ending",
    ),
    _offer(
        "Free medium fries with any mobile order",
        "Free medium fries with any mobile order. Hot, salty, golden.",
        "sides",
        "SID02",
        "free",
        0.0,
        dayparts=NB,
        channels=("mobile_app",),
    ),
    _offer(
        "$1 fries, any size",
        "Any size fries for $1 all afternoon and evening.",
        "sides",
        "SID01|SID02|SID03",
        "price",
        1.0,
        dayparts=NB,
    ),
    _offer(
        "Onion Rings $1.49",
        "Crispy battered onion rings for $1.49.",
        "sides",
        "SID04",
        "price",
        1.49,
        dayparts=NB,
    ),
    _offer(
        "Mozzarella Sticks $1.99 after 9pm",
        "Four mozzarella sticks with marinara for $1.99 after 9pm.",
        "sides",
        "SID05",
        "price",
        1.99,
        dayparts=LN,
    ),
    _offer(
        "Half-price Loaded Tots at the kiosk",
        "Loaded tots with cheese and bacon at half price when you order at the kiosk.",
        "sides",
        "SID07",
        "percent",
        0.5,
        dayparts=NB,
        channels=("kiosk",),
    ),
    _offer(
        "Free Side Salad at premium restaurants",
        "A free garden side salad with any lunch or dinner at premium restaurants.",
        "sides",
        "SID06",
        "free",
        0.0,
        tiers=("premium",),
        dayparts=("lunch", "dinner"),
    ),
    _offer(
        "Large Fries for the price of Small",
        "Large fries for the price of small, from now on.",
        "sides",
        "SID03",
        "price",
        2.29,
        dayparts=NB,
        timing="starting",
    ),
    _offer(
        "Loaded Tots launch 2 for $5",
        "New loaded tots: two orders for $5 during launch.",
        "sides",
        "SID07",
        "price",
        5.0,
        quantity=2,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "$1 any size soft drink",
        "Any size fountain soft drink for $1 at value restaurants.",
        "drinks",
        "DRK01|DRK02|DRK03",
        "price",
        1.0,
        tiers=("value",),
        dayparts=NB,
    ),
    _offer(
        "Free medium soft drink at the kiosk",
        "A free medium soft drink with any kiosk order.",
        "drinks",
        "DRK02",
        "free",
        0.0,
        dayparts=NB,
        channels=("kiosk",),
    ),
    _offer(
        "Sweet Iced Tea $1, 2-5pm",
        "Sweet iced tea for $1 every afternoon, 2-5pm.",
        "drinks",
        "DRK06",
        "price",
        1.0,
        dayparts=("afternoon",),
    ),
    _offer(
        "Orange Juice $1 with breakfast",
        "A cold orange juice for $1 with any breakfast order.",
        "drinks",
        "DRK05",
        "price",
        1.0,
        dayparts=BF,
    ),
    _offer(
        "Bottled Water 2 for $2",
        "Two bottles of water for $2.",
        "drinks",
        "DRK04",
        "price",
        2.0,
        quantity=2,
        timing="starting",
    ),
    _offer(
        "Large soft drink $1.29 on delivery",
        "A large soft drink for $1.29 with delivery orders.",
        "drinks",
        "DRK03",
        "price",
        1.29,
        dayparts=NB,
        channels=("delivery",),
    ),
    _offer(
        "Afternoon Cappuccino half price, 2-5pm",
        "Half-price cappuccino every afternoon from 2 to 5pm.",
        "hot_drinks",
        "HOT03",
        "percent",
        0.5,
        dayparts=("14:00-17:00",),
    ),
    _offer(
        "Hot Chocolate $1",
        "Rich hot chocolate with whipped topping for $1, all day.",
        "hot_drinks",
        "HOT05",
        "price",
        1.0,
        timing="ending",
    ),
    _offer(
        "Free Hot Tea in the app",
        "A free hot tea with any meal ordered in the app.",
        "hot_drinks",
        "HOT06",
        "free",
        0.0,
        channels=("mobile_app",),
    ),
    _offer(
        "Caramel Latte $1 off",
        "$1 off a caramel latte at standard and premium restaurants.",
        "hot_drinks",
        "HOT04",
        "amount_off",
        1.0,
        tiers=("standard", "premium"),
    ),
    _offer(
        "Medium Hot Coffee for 50 cents",
        "Medium hot coffee for 50 cents, limited time.",
        "hot_drinks",
        "HOT02",
        "price",
        0.5,
        timing="lto",
    ),
    _offer(
        "$2 Shakes after 9pm",
        "Any classic shake, vanilla, chocolate or strawberry, for $2 after 9pm.",
        "frozen_drinks",
        "FRZ01|FRZ02|FRZ03",
        "price",
        2.0,
        dayparts=LN,
    ),
    _offer(
        "Half-price Slush 2-5pm",
        "Frozen cherry or blue raspberry slush at half price, 2-5pm.",
        "frozen_drinks",
        "FRZ04|FRZ05",
        "percent",
        0.5,
        dayparts=("14:00-17:00",),
    ),
    _offer(
        "Iced Caramel Frappe $2.50 in the app",
        "Iced caramel frappe for $2.50 when you order ahead in the app.",
        "frozen_drinks",
        "FRZ06",
        "price",
        2.5,
        channels=("mobile_app",),
    ),
    _offer(
        "Strawberry Shake $1.99 special",
        "Strawberry shake for $1.99 while the special lasts.",
        "frozen_drinks",
        "FRZ03",
        "price",
        1.99,
        timing="lto",
    ),
    _offer(
        "Free Slush with delivery",
        "A free frozen cherry slush with any delivery order.",
        "frozen_drinks",
        "FRZ04",
        "free",
        0.0,
        dayparts=NB,
        channels=("delivery",),
    ),
    _offer(
        "Chocolate Shake $1 off",
        "$1 off a chocolate shake at premium restaurants.",
        "frozen_drinks",
        "FRZ02",
        "amount_off",
        1.0,
        tiers=("premium",),
    ),
    _offer(
        "$1 Baked Apple Pie",
        "A warm baked apple pie for $1, any time of day.",
        "desserts",
        "DES03",
        "price",
        1.0,
    ),
    _offer(
        "Free cookies with any mobile order",
        "Two free chocolate chip cookies with any mobile order.",
        "desserts",
        "DES04",
        "free",
        0.0,
        dayparts=NB,
        channels=("mobile_app",),
    ),
    _offer(
        "Late-night Sundae $1",
        "Chocolate fudge sundae for $1 after 9pm.",
        "desserts",
        "DES02",
        "price",
        1.0,
        dayparts=LN,
    ),
    _offer(
        "Cookie Crumble Swirl $2",
        "Soft serve swirled with cookie crumbles for $2, limited time.",
        "desserts",
        "DES06",
        "price",
        2.0,
        dayparts=NB,
        timing="lto",
    ),
    _offer(
        "Fudge Sundae Pie 2 for $4",
        "Two slices of fudge sundae pie for $4.",
        "desserts",
        "DES05",
        "price",
        4.0,
        quantity=2,
        timing="open",
    ),
    _offer(
        "Soft Serve Cone 50 cents",
        "Vanilla soft serve cone for 50 cents in the afternoon and evening.",
        "desserts",
        "DES01",
        "price",
        0.5,
        tiers=("value", "standard"),
        dayparts=("afternoon", "dinner"),
    ),
    _offer(
        "Kids eat for $2.99, 5-9pm",
        "Any kids meal for $2.99 from 5 to 9pm: a main, a side, a drink and a toy.",
        "kids_meals",
        "KID01|KID02|KID03|KID04",
        "price",
        2.99,
        dayparts=("17:00-21:00",),
    ),
    _offer(
        "Kids Nuggets Meal $3.49",
        "Kids nuggets meal with fries, a drink and a toy for $3.49.",
        "kids_meals",
        "KID02",
        "price",
        3.49,
        dayparts=DAYTIME,
        timing="open",
    ),
    _offer(
        "Free Kids Meal at dinner",
        "A free kids hamburger meal with two adult burgers, dinner time at the kiosk or counter.",
        "kids_meals",
        "KID03",
        "free",
        0.0,
        dayparts=("dinner",),
        channels=("kiosk", "counter"),
    ),
    _offer(
        "Kids Cheeseburger Meal $1 off in the app",
        "$1 off a kids cheeseburger meal ordered in the app.",
        "kids_meals",
        "KID01",
        "amount_off",
        1.0,
        dayparts=DAYTIME,
        channels=("mobile_app",),
    ),
    _offer(
        "Kids Chicken Jr. Meal $2.99",
        "Kids Chicken Jr. meal for $2.99 at value restaurants, limited time.",
        "kids_meals",
        "KID04",
        "price",
        2.99,
        tiers=("value",),
        dayparts=DAYTIME,
        timing="lto",
    ),
)


@dataclass(frozen=True)
class Offer:
    """An offer with its id, dates and money value resolved for one demo period."""

    offer_id: str
    spec: OfferSpec
    discount_value: float
    valid_from: date | None
    valid_to: date | None

    @property
    def image(self) -> str:
        return f"images/{self.offer_id}.png"


def offer_discount_value(spec: OfferSpec, prices: dict[str, float]) -> float:
    """Money off the regular (standard tier) price of the offer's first item, per redemption."""
    regular = prices[spec.item_ids[0]] * spec.quantity
    if spec.kind == "price":
        return round(max(regular - spec.value, 0.0), 2)
    if spec.kind == "free":
        return round(regular, 2)
    if spec.kind == "percent":
        return round(regular * spec.value, 2)
    return round(min(spec.value, regular), 2)


def _offer_dates(
    timing: str, lto_rank: int, lto_total: int, start: date, end: date
) -> tuple[date | None, date | None]:
    """Where an offer's dates sit: always on, open-ended, limited-time, or ending / starting."""
    days = (end - start).days
    if timing == "open":
        return None, None
    if timing == "ending":
        return start - timedelta(days=90), start + timedelta(days=max(days // 2, 1) - 1)
    if timing == "starting":
        return start + timedelta(days=days * 2 // 5), end + timedelta(days=60)
    if timing == "lto":
        length = max(7, min(42, days // 4))
        room = max(days - length, 0)
        offset = room * (lto_rank + 1) // (lto_total + 1)
        first = start + timedelta(days=offset)
        return first, min(first + timedelta(days=length - 1), end - timedelta(days=1))
    return start - timedelta(days=60), end + timedelta(days=90)


def build_offers(start: date, end: date) -> list[Offer]:
    """Resolve ids, dates (relative to the demo period) and money value of every offer."""
    prices = {item.item_id: item.price for item in ITEMS}
    lto_total = sum(spec.timing == "lto" for spec in OFFER_SPECS)
    offers, lto_rank = [], 0
    for index, spec in enumerate(OFFER_SPECS):
        valid_from, valid_to = _offer_dates(spec.timing, lto_rank, lto_total, start, end)
        lto_rank += spec.timing == "lto"
        offers.append(
            Offer(
                offer_id=f"OF{index + 1:03d}",
                spec=spec,
                discount_value=offer_discount_value(spec, prices),
                valid_from=valid_from,
                valid_to=valid_to,
            )
        )
    return offers
