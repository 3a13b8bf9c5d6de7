"""The retail demo chain's catalog: grocery departments, thousands of invented products,
stores, and coupons on item sets with the text a marketer would write.

Names come from seeded word lists so that two seeds give two different catalogs; the offer
text names the products, brand, department and discount, which is what the text encoder reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from deepflame_web.console.demo.chain import CITIES, PRICING_TIERS, City

TIER_PRICE_FACTOR: tuple[float, ...] = (0.94, 1.0, 1.09)
RETAIL_CHANNELS: tuple[str, ...] = ("in_store", "delivery")
STORE_COUNT = 20
ITEM_COUNT = 3000
OFFERS_PER_MONTH = 33
OFFER_WEEKS = (6, 10)
"""An offer runs six to ten weeks, about eight, a little longer than a grocer's six-week coupon
so that a four-week holdout holds about a quarter of redemptions on new launches."""


@dataclass(frozen=True)
class Department:
    name: str
    blurb: str
    products: tuple[str, ...]
    sizes: tuple[str, ...]
    price: float


def _department(name: str, blurb: str, products: str, sizes: str, price: float) -> Department:
    """Shorthand for the table below: product types and pack sizes as `|`-separated lists."""
    return Department(name, blurb, tuple(products.split("|")), tuple(sizes.split("|")), price)


DEPARTMENTS: tuple[Department, ...] = (
    _department(
        "dairy",
        "fresh from the dairy case",
        "Greek Yogurt|Whole Milk|Skim Milk|Butter|Cottage Cheese|Sour Cream|Cream Cheese|Kefir",
        "500 g|1 L|2 L|250 g",
        3.2,
    ),
    _department(
        "cheese",
        "sliced, shredded and aged",
        "Cheddar|Mozzarella|Swiss Slices|Parmesan|Brie|Pepper Jack|Feta",
        "200 g|400 g|8 oz",
        4.8,
    ),
    _department(
        "eggs",
        "farm eggs for every breakfast",
        "Large Eggs|Free Range Eggs|Egg Whites|Brown Eggs",
        "6 ct|12 ct|18 ct",
        3.9,
    ),
    _department(
        "bakery",
        "baked fresh every morning",
        "Sourdough Loaf|Whole Wheat Bread|Bagels|Croissants|Tortillas|Hamburger Buns|Muffins",
        "1 loaf|6 ct|8 ct|12 ct",
        3.4,
    ),
    _department(
        "produce",
        "crisp fruit and vegetables",
        "Bananas|Gala Apples|Baby Spinach|Carrots|Avocados|Strawberries|Red Onions|Romaine Hearts",
        "1 lb|2 lb|bag|each",
        2.6,
    ),
    _department(
        "meat",
        "butcher-cut beef, pork and chicken",
        "Chicken Breasts|Ground Beef|Pork Chops|Bacon|Chicken Thighs|Sirloin Steak|Italian Sausage",
        "1 lb|2 lb|family pack",
        7.8,
    ),
    _department(
        "seafood",
        "fresh and frozen from the sea",
        "Atlantic Salmon|Shrimp|Cod Fillets|Tuna Steaks|Tilapia",
        "8 oz|1 lb|2 lb",
        9.5,
    ),
    _department(
        "deli",
        "sliced to order at the deli",
        "Smoked Turkey|Black Forest Ham|Hummus|Rotisserie Chicken|Potato Salad|Salami",
        "8 oz|1 lb|each",
        5.6,
    ),
    _department(
        "frozen_meals",
        "ready in minutes from the freezer",
        "Frozen Pizza|Chicken Pot Pie|Burritos|Lasagna|Stir Fry Kit|Dumplings",
        "1 ct|4 ct|family size",
        5.2,
    ),
    _department(
        "frozen_vegetables",
        "frozen at peak freshness",
        "Sweet Peas|Mixed Vegetables|Broccoli Florets|Sweet Corn|Cauliflower Rice",
        "12 oz|1 lb|2 lb",
        2.4,
    ),
    _department(
        "ice_cream",
        "scoops, bars and sorbets",
        "Vanilla Ice Cream|Chocolate Ice Cream|Ice Cream Bars|Mango Sorbet|Frozen Yogurt",
        "1 pint|1.5 qt|6 ct",
        4.6,
    ),
    _department(
        "snacks",
        "chips, crackers and popcorn",
        "Potato Chips|Tortilla Chips|Pretzels|Popcorn|Cheese Crackers|Rice Cakes",
        "5 oz|10 oz|family size",
        3.3,
    ),
    _department(
        "candy",
        "sweets and chocolate",
        "Milk Chocolate Bar|Gummy Bears|Dark Chocolate|Mints|Caramels",
        "1.5 oz|5 oz|share size",
        2.2,
    ),
    _department(
        "cookies",
        "cookies and sweet biscuits",
        "Chocolate Chip Cookies|Sandwich Cookies|Oatmeal Cookies|Shortbread|Graham Crackers",
        "8 oz|14 oz|family size",
        3.5,
    ),
    _department(
        "cereal",
        "breakfast cereal and oatmeal",
        "Corn Flakes|Granola|Rolled Oats|Honey Oat Clusters|Bran Flakes|Frosted Rings",
        "12 oz|18 oz|family size",
        4.1,
    ),
    _department(
        "coffee",
        "whole bean, ground and pods",
        "Ground Coffee|Whole Bean Coffee|Coffee Pods|Instant Coffee|Cold Brew",
        "12 oz|24 ct|1 lb",
        7.9,
    ),
    _department(
        "tea",
        "black, green and herbal teas",
        "Green Tea|English Breakfast Tea|Chamomile Tea|Chai|Iced Tea Mix",
        "20 ct|40 ct|100 ct",
        3.8,
    ),
    _department(
        "soft_drinks",
        "sodas and sparkling water",
        "Cola|Lemon Lime Soda|Sparkling Water|Ginger Ale|Root Beer|Energy Drink",
        "2 L|12 pk|6 pk",
        4.4,
    ),
    _department(
        "juice",
        "juices and smoothies",
        "Orange Juice|Apple Juice|Cranberry Juice|Green Smoothie|Lemonade",
        "52 oz|1 gal|6 pk",
        3.9,
    ),
    _department(
        "water",
        "still water by the case",
        "Spring Water|Purified Water|Alkaline Water|Flavored Water",
        "24 pk|1 gal|6 pk",
        4.2,
    ),
    _department(
        "beer_wine",
        "beer, wine and cider",
        "Lager|IPA|Cabernet Sauvignon|Pinot Grigio|Hard Cider|Rose",
        "6 pk|12 pk|750 ml",
        11.5,
    ),
    _department(
        "pasta_rice",
        "pasta, rice and grains",
        "Spaghetti|Penne|Jasmine Rice|Brown Rice|Quinoa|Egg Noodles",
        "1 lb|2 lb|5 lb",
        2.3,
    ),
    _department(
        "canned_goods",
        "canned beans, tomatoes and fish",
        "Black Beans|Diced Tomatoes|Chunk Light Tuna|Chickpeas|Sweet Corn Cans|Coconut Milk",
        "15 oz|28 oz|4 pk",
        1.8,
    ),
    _department(
        "soup",
        "soups, broths and stocks",
        "Chicken Noodle Soup|Tomato Soup|Chicken Broth|Vegetable Stock|Ramen Cups",
        "10 oz|32 oz|6 pk",
        2.5,
    ),
    _department(
        "condiments",
        "sauces, dressings and spreads",
        "Ketchup|Mayonnaise|Yellow Mustard|Ranch Dressing|Salsa|Peanut Butter|Strawberry Jam",
        "12 oz|20 oz|30 oz",
        3.6,
    ),
    _department(
        "baking",
        "flour, sugar and baking mixes",
        "Flour|Granulated Sugar|Brownie Mix|Baking Soda|Chocolate Chips|Vanilla Extract",
        "2 lb|5 lb|12 oz",
        3.4,
    ),
    _department(
        "household",
        "cleaning and laundry",
        "Laundry Detergent|Dish Soap|All Purpose Cleaner|Trash Bags|Sponges",
        "50 oz|20 ct|3 pk",
        7.2,
    ),
    _department(
        "paper_goods",
        "paper towels and tissue",
        "Paper Towels|Toilet Paper|Facial Tissue|Napkins",
        "6 roll|12 roll|4 pk",
        9.8,
    ),
    _department(
        "personal_care",
        "soap, shampoo and toothpaste",
        "Shampoo|Body Wash|Toothpaste|Deodorant|Hand Soap|Razors",
        "12 oz|2 pk|each",
        6.1,
    ),
    _department(
        "baby",
        "diapers, wipes and baby food",
        "Diapers|Baby Wipes|Baby Food Pouches|Infant Formula",
        "size 3|80 ct|4 pk",
        14.5,
    ),
    _department(
        "pet",
        "food and treats for pets",
        "Dry Dog Food|Cat Food Cans|Dog Treats|Cat Litter",
        "5 lb|12 pk|20 lb",
        10.5,
    ),
)

VARIANTS: tuple[str, ...] = (
    "Organic", "Classic", "Original", "Lite", "Family Size", "Low Sodium", "Honey", "Vanilla",
    "Spicy", "Unsweetened", "Extra Large", "Whole Grain", "Sea Salt", "Reduced Fat", "Natural",
    "Double", "Mini", "Premium", "Everyday", "Gluten Free",
)  # fmt: skip
BRAND_HEADS: tuple[str, ...] = (
    "Har", "Bel", "Kes", "Nor", "Ash", "Wil", "Cor", "Mar", "Tal", "Bri", "Dun", "Elm", "Fen",
    "Gold", "Hol", "Iron", "Lake", "Mea", "Oak", "Pine", "Red", "Sil", "Stone", "Sun",
)  # fmt: skip
BRAND_TAILS: tuple[str, ...] = (
    "vale",
    "mont",
    "ford",
    "wick",
    "brook",
    "field",
    "haven",
    "ridge",
    "wood",
    "dale",
    "ton",
)
BRAND_SUFFIXES: tuple[str, ...] = ("", " Farms", " & Co", " Kitchen", " Naturals", " Select")
STORE_BRAND = "Cornerstone"
"""The chain's own label: present in every department, cheaper than the national brands."""

CLOSINGS: tuple[str, ...] = (
    "Clip it to your card and save at checkout.",
    "Loaded to your loyalty card, no paper needed.",
    "Limit one per visit, while supplies last.",
    "Valid in store and on delivery orders.",
)

REGION_CITIES: tuple[City, ...] = tuple(
    city for city in CITIES if city.region in ("Midwest", "Northeast", "Southeast", "Mountain")
)


@dataclass(frozen=True)
class RetailStore:
    store_id: str
    name: str
    pricing_tier: str
    city: City
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Catalog:
    """Items as arrays (index = item), with the brand and product type each one has."""

    item_ids: list[str]
    names: list[str]
    department: np.ndarray
    brand: np.ndarray
    product: np.ndarray
    price: np.ndarray
    unit_cost: np.ndarray
    popularity: np.ndarray
    brands: list[str]


@dataclass(frozen=True)
class RetailOffer:
    """A coupon on a set of items (indices into the catalog), valid for whole days."""

    offer_id: str
    name: str
    description: str
    department: int
    items: np.ndarray
    discount_value: float
    discount_depth: float
    percent_off: bool
    tiers: tuple[str, ...]
    valid_from: date
    valid_to: date
    scope: str


def build_retail_stores(rng: np.random.Generator, count: int = STORE_COUNT) -> list[RetailStore]:
    """Stores over a few regions; the first three cover the three pricing tiers."""
    tiers = rng.choice(len(PRICING_TIERS), size=count, p=[0.3, 0.45, 0.25])
    tiers[:3] = rng.permutation(3)
    stores = []
    for index in range(count):
        city = REGION_CITIES[index % len(REGION_CITIES)]
        number = index // len(REGION_CITIES) + 1
        jitter = rng.uniform(-0.08, 0.08, size=2)
        stores.append(
            RetailStore(
                store_id=f"R{index + 1:03d}",
                name=f"Cornerstone Market {city.name} #{number}",
                pricing_tier=PRICING_TIERS[tiers[index]],
                city=city,
                latitude=round(city.latitude + float(jitter[0]), 4),
                longitude=round(city.longitude + float(jitter[1]), 4),
            )
        )
    return stores


def _brand_names(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct invented brand names from the seeded syllable lists."""
    names: list[str] = []
    while len(names) < count:
        name = (
            rng.choice(BRAND_HEADS) + rng.choice(BRAND_TAILS) + rng.choice(BRAND_SUFFIXES)
        ).strip()
        if name not in names:
            names.append(name)
    return names


def _items_per_department(rng: np.random.Generator, total: int) -> np.ndarray:
    share = rng.gamma(3.0, 1.0, size=len(DEPARTMENTS))
    return np.maximum(np.round(share / share.sum() * total).astype(np.int64), 20)


def build_catalog(rng: np.random.Generator, total: int = ITEM_COUNT) -> Catalog:
    """About `total` products: per department a few national brands and the store brand,
    each product a brand, variant, product type and size; prices around the department's."""
    counts = _items_per_department(rng, total)
    brand_pool = _brand_names(rng, 6 * len(DEPARTMENTS))
    brands: list[str] = [STORE_BRAND]
    department, brand, product, names, price = [], [], [], [], []
    for d, (dept, count) in enumerate(zip(DEPARTMENTS, counts, strict=True)):
        own = [len(brands) + k for k in range(int(rng.integers(3, 7)))]
        brands.extend(brand_pool[6 * d : 6 * d + len(own)])
        choices = np.array([0, *own])
        brand_of = choices[rng.integers(0, len(choices), size=count)]
        product_of = rng.integers(0, len(dept.products), size=count)
        variant = rng.integers(0, len(VARIANTS), size=count)
        size = rng.integers(0, len(dept.sizes), size=count)
        factor = np.exp(rng.normal(0.0, 0.35, size=count)) * np.where(brand_of == 0, 0.8, 1.0)
        for k in range(count):
            names.append(
                f"{brands[brand_of[k]]} {VARIANTS[variant[k]]} "
                f"{dept.products[product_of[k]]} {dept.sizes[size[k]]}"
            )
        department.append(np.full(count, d))
        brand.append(brand_of)
        product.append(product_of)
        price.append(np.maximum(np.round(dept.price * factor, 1) - 0.01, 0.49))
    prices = np.concatenate(price)
    n = len(prices)
    return Catalog(
        item_ids=[f"P{k + 1:05d}" for k in range(n)],
        names=_unique_names(names),
        department=np.concatenate(department),
        brand=np.concatenate(brand),
        product=np.concatenate(product),
        price=prices,
        unit_cost=np.round(prices * rng.uniform(0.55, 0.8, size=n), 2),
        popularity=rng.lognormal(0.0, 1.1, size=n),
        brands=brands,
    )


def _unique_names(names: list[str]) -> list[str]:
    """Two products drawn with the same words get a pack note so that shelves tell them apart."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} (pack {seen[name]})")
    return unique


def _offer_items(rng: np.random.Generator, catalog: Catalog, d: int) -> tuple[np.ndarray, str, str]:
    """An item set in department d: one product, a brand's range, or a product type across
    brands (a department subset of up to a couple of hundred items)."""
    in_department = np.flatnonzero(catalog.department == d)
    scope = rng.choice(["product", "brand", "type", "department"], p=[0.33, 0.33, 0.28, 0.06])
    dept = DEPARTMENTS[d]
    if scope == "department":
        return in_department, "department", f"all {dept.name.replace('_', ' ')}"
    if scope == "product":
        weights = catalog.popularity[in_department]
        item = int(rng.choice(in_department, p=weights / weights.sum()))
        return np.array([item]), "product", catalog.names[item]
    if scope == "brand":
        brand = int(rng.choice(catalog.brand[in_department]))
        items = in_department[catalog.brand[in_department] == brand]
        label = f"{catalog.brands[brand]} {dept.name.replace('_', ' ')}"
        return items, "brand", label
    product = int(rng.choice(catalog.product[in_department]))
    items = in_department[catalog.product[in_department] == product]
    return items, "type", f"any {dept.products[product]}"


def _offer_text(
    label: str,
    dept: Department,
    depth: float,
    money: float,
    scope: str,
    closing: str,
    percent: bool,
) -> tuple[str, str, float]:
    """Name, description and money value per redemption of a coupon."""
    if percent:
        share = round(depth * 100)
        name = f"{share}% off {label}"
        deal = f"Save {share}% on {label}"
    else:
        money = max(round(money * 4) / 4, 0.25)
        name = f"${money:.2f} off {label}"
        deal = f"Take ${money:.2f} off {label}"
    reach = {
        "product": "one product",
        "brand": "the whole range",
        "type": "every brand on the shelf",
        "department": "the whole aisle",
    }[scope]
    description = f"{deal}: {dept.blurb}, {reach}. {closing}"
    return name, description, round(money, 2)


def build_retail_offers(
    rng: np.random.Generator, catalog: Catalog, start: date, end: date
) -> list[RetailOffer]:
    """Coupons launched week after week (some already running when the history starts), so
    that new offers keep appearing; department by department popularity."""
    days = (end - start).days
    count = max(12, round(OFFERS_PER_MONTH * days / 30.4))
    dept_weight = np.bincount(catalog.department, weights=catalog.popularity)
    launch = np.sort(rng.integers(-35, max(days - 14, 1), size=count))
    offers = []
    for index in range(count):
        d = int(rng.choice(len(DEPARTMENTS), p=dept_weight / dept_weight.sum()))
        items, scope, label = _offer_items(rng, catalog, d)
        depth = float(rng.choice([0.1, 0.15, 0.2, 0.25, 0.3, 0.4]))
        money = depth * float(np.median(catalog.price[items]))
        percent = bool(rng.random() < 0.5)
        closing = str(rng.choice(CLOSINGS))
        name, description, value = _offer_text(
            label, DEPARTMENTS[d], depth, money, scope, closing, percent
        )
        valid_from = start + timedelta(days=int(launch[index]))
        weeks = int(rng.integers(OFFER_WEEKS[0], OFFER_WEEKS[1] + 1))
        tiers: tuple[str, ...] = ()
        if rng.random() < 0.08:
            tiers = ("premium",) if rng.random() < 0.4 else ("value", "standard")
        offers.append(
            RetailOffer(
                offer_id=f"CPN{index + 1:04d}",
                name=name,
                description=description,
                department=d,
                items=items,
                discount_value=value,
                discount_depth=depth,
                percent_off=percent,
                tiers=tiers,
                valid_from=valid_from,
                valid_to=valid_from + timedelta(days=7 * weeks - 1),
                scope=scope,
            )
        )
    return offers
