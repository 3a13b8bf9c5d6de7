"""Everything the per-chunk simulation shares, turned into numpy lookup tables once.

Catalog, stores, offers, weather and personas become arrays indexed by small integers, so that
each simulated order is answered by fancy indexing instead of Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from deepflame_web.console.demo.chain import (
    BREAKFAST_DRINK_IDS,
    ITEMS,
    NOT_AT_BREAKFAST,
    PRICING_TIERS,
    TIER_PRICE_FACTOR,
    Offer,
    OfferSpec,
    Store,
)
from deepflame_web.console.demo.period import Period
from deepflame_web.console.demo.personas import CATEGORIES, CHANNELS, DAYPARTS, PersonaTables
from deepflame_web.console.demo.restaurant_effects import RestaurantEffects
from deepflame_web.console.demo.weather import Weather

DAYPART_WINDOWS: dict[str, tuple[int, int]] = {
    "breakfast": (5 * 60, 10 * 60 + 30),
    "lunch": (10 * 60 + 30, 14 * 60),
    "afternoon": (14 * 60, 17 * 60),
    "dinner": (17 * 60, 21 * 60),
    "late_night": (21 * 60, 5 * 60),
}
"""The contract's default dayparts in minutes of store local time; late night wraps midnight."""

VISIT_WINDOWS: np.ndarray = np.array([[300, 330], [630, 210], [840, 180], [1020, 240], [1260, 240]])
"""Start minute and length in which visits of each daypart fall. Late-night visits stop at 01:00
so that no local time falls into a daylight-saving gap or overlap (01:00-03:00 local)."""

BREAKFAST = DAYPARTS.index("breakfast")
LATE_NIGHT = DAYPARTS.index("late_night")
CATEGORY = {name: index for index, name in enumerate(CATEGORIES)}
OFFER_KINDS: tuple[str, ...] = ("price", "free", "percent", "amount_off")
NEVER = 10**6


def _window_minutes(start: int, end: int) -> np.ndarray:
    minutes = np.zeros(1440, dtype=bool)
    if start < end:
        minutes[start:end] = True
    else:
        minutes[start:] = True
        minutes[:end] = True
    return minutes


def daypart_minutes(spec: str) -> np.ndarray:
    """Minutes of the day an offer daypart covers: a daypart name or an `HH:MM-HH:MM` window."""
    if spec in DAYPART_WINDOWS:
        return _window_minutes(*DAYPART_WINDOWS[spec])
    first, last = spec.split("-")
    start_h, start_m = (int(part) for part in first.split(":"))
    end_h, end_m = (int(part) for part in last.split(":"))
    return _window_minutes(start_h * 60 + start_m, end_h * 60 + end_m)


def minute_dayparts() -> np.ndarray:
    """The daypart index of every minute of the day."""
    parts = np.zeros(1440, dtype=np.int8)
    for index, name in enumerate(DAYPARTS):
        parts[daypart_minutes(name)] = index
    return parts


def item_availability() -> np.ndarray:
    """[daypart, item]: breakfast food only before 10:30, no lunch menu or soft drinks before,
    and no kids meals late at night."""
    available = np.ones((len(DAYPARTS), len(ITEMS)), dtype=bool)
    for column, item in enumerate(ITEMS):
        if item.category == "breakfast":
            available[:, column] = False
            available[BREAKFAST, column] = True
        if item.category in NOT_AT_BREAKFAST:
            available[BREAKFAST, column] = False
        if item.category == "drinks" and item.item_id not in BREAKFAST_DRINK_IDS:
            available[BREAKFAST, column] = False
        if item.category == "kids_meals":
            available[LATE_NIGHT, column] = False
    return available


@dataclass(frozen=True)
class ItemTable:
    """The items a persona picks from in one category at (or outside) breakfast, as a CDF."""

    items: np.ndarray
    cdf: np.ndarray


def _item_tables(personas: PersonaTables, available: np.ndarray) -> list[ItemTable | None]:
    """One table per (persona, category, at breakfast); price taste tilts choice within a
    category, so value seekers and premium regulars end up with different margins."""
    category = np.array([CATEGORY[item.category] for item in ITEMS])
    log_price = np.log([item.price for item in ITEMS])
    tables: list[ItemTable | None] = []
    for taste in personas.price_taste:
        for cat in range(len(CATEGORIES)):
            in_category = category == cat
            z = (log_price - log_price[in_category].mean()) / log_price[in_category].std()
            for at_breakfast in (0, 1):
                daypart = BREAKFAST if at_breakfast else DAYPARTS.index("lunch")
                items = np.flatnonzero(in_category & available[daypart])
                if len(items) == 0:
                    tables.append(None)
                    continue
                weights = np.exp(taste * z[items])
                cdf = np.cumsum(weights) / weights.sum()
                tables.append(ItemTable(items=items, cdf=cdf))
    return tables


@dataclass(frozen=True)
class OfferTables:
    """Offers as arrays: category, eligibility masks, dates as day numbers, mechanics."""

    category: np.ndarray
    tier_ok: np.ndarray
    channel_ok: np.ndarray
    minute_ok: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    pool: np.ndarray
    pool_size: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    quantity: np.ndarray
    appeal: np.ndarray
    live_in_week: list[np.ndarray]


def _offer_minutes(
    spec: OfferSpec, available: np.ndarray, minute_daypart: np.ndarray
) -> np.ndarray:
    """Minutes of the day the offer can be redeemed: its dayparts (all day when empty), and
    only while one of its items is on the menu."""
    minutes = np.ones(1440, dtype=bool)
    if spec.dayparts:
        minutes = np.logical_or.reduce([daypart_minutes(d) for d in spec.dayparts])
    item_index = {item.item_id: index for index, item in enumerate(ITEMS)}
    columns = [item_index[item_id] for item_id in spec.item_ids]
    sold = np.asarray(available[:, columns].any(axis=1))
    return minutes & sold[minute_daypart]


def _listed(chosen: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    """Membership mask over `names`; an empty restriction allows every name."""
    return np.array([not chosen or name in chosen for name in names])


def _day_number(when: date | None, period: Period, default: int) -> int:
    return default if when is None else (when - period.start).days


def _offer_tables(
    offers: list[Offer], period: Period, available: np.ndarray, regular_price: np.ndarray
) -> OfferTables:
    item_index = {item.item_id: index for index, item in enumerate(ITEMS)}
    minute_daypart = minute_dayparts()
    widest = max(len(offer.spec.item_ids) for offer in offers)
    pool = np.zeros((len(offers), widest), dtype=np.int32)
    for row, offer in enumerate(offers):
        items = [item_index[item_id] for item_id in offer.spec.item_ids]
        pool[row, : len(items)] = items
    first_day = np.array([_day_number(o.valid_from, period, -NEVER) for o in offers])
    last_day = np.array([_day_number(o.valid_to, period, NEVER) for o in offers])
    regular = np.array([regular_price[pool[r, 0]] * o.spec.quantity for r, o in enumerate(offers)])
    discount = np.array([offer.discount_value for offer in offers])
    week_first = np.array([(monday - period.start).days for monday in period.week_mondays])
    live = [
        np.flatnonzero((first_day <= min(w0 + 6, period.days - 1)) & (last_day >= max(w0, 0)))
        for w0 in week_first
    ]
    return OfferTables(
        category=np.array([CATEGORY[offer.spec.category] for offer in offers]),
        first_day=first_day,
        last_day=last_day,
        pool=pool,
        pool_size=np.array([len(offer.spec.item_ids) for offer in offers]),
        kind=np.array([OFFER_KINDS.index(offer.spec.kind) for offer in offers]),
        value=np.array([offer.spec.value for offer in offers]),
        quantity=np.array([offer.spec.quantity for offer in offers]),
        appeal=0.7 + 0.6 * np.minimum(discount / regular / 0.5, 1.0),
        live_in_week=live,
        tier_ok=np.stack([_listed(o.spec.tiers, PRICING_TIERS) for o in offers]),
        channel_ok=np.stack([_listed(o.spec.channels, CHANNELS) for o in offers]),
        minute_ok=np.stack([_offer_minutes(o.spec, available, minute_daypart) for o in offers]),
    )


@dataclass(frozen=True)
class World:
    """The shared, read-only state of one demo run."""

    seed: int
    customers: int
    period: Period
    stores: list[Store]
    store_tier: np.ndarray
    store_neighbors: np.ndarray
    store_neighbor_count: np.ndarray
    store_tier_weight: np.ndarray
    item_cost: np.ndarray
    tier_price: np.ndarray
    item_tables: list[ItemTable | None]
    item_available: np.ndarray
    offers: list[Offer]
    offer: OfferTables
    weather: Weather
    personas: PersonaTables
    utc_offset: np.ndarray
    effects: RestaurantEffects


def _utc_offsets(stores: list[Store], period: Period) -> np.ndarray:
    """[store, day, regime]: seconds that local time is ahead of UTC shortly after midnight
    (regime 0) and from 05:00 on (regime 1); they differ only on daylight-saving days."""
    by_zone = {}
    for zone in sorted({store.city.timezone for store in stores}):
        tz = ZoneInfo(zone)
        offsets = np.empty((period.days, 2), dtype=np.int64)
        for day in range(period.days):
            when = period.date_of(day)
            for regime, hour in enumerate((0, 12)):
                local = datetime(when.year, when.month, when.day, hour, 30, tzinfo=tz)
                offsets[day, regime] = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
        by_zone[zone] = offsets
    return np.stack([by_zone[store.city.timezone] for store in stores])


def _tier_weights(personas: PersonaTables, preferred: list[str]) -> np.ndarray:
    """[persona, tier]: value seekers live near value restaurants, premium regulars near
    premium ones; everyone else is spread evenly."""
    weights = np.ones((len(preferred), len(PRICING_TIERS)))
    for row, tier in enumerate(preferred):
        if tier:
            weights[row] = 0.25
            weights[row, PRICING_TIERS.index(tier)] = 4.0
    return weights


def build_world(
    *,
    seed: int,
    customers: int,
    period: Period,
    stores: list[Store],
    offers: list[Offer],
    weather: Weather,
    personas: PersonaTables,
    preferred_tiers: list[str],
    effects: RestaurantEffects,
) -> World:
    """Turn the catalog and the simulated weather into the lookup tables of the simulation."""
    store_tier = np.array([PRICING_TIERS.index(store.pricing_tier) for store in stores])
    regions = [store.city.region for store in stores]
    neighbors = [[j for j, r in enumerate(regions) if r == region] for region in regions]
    widest = max(len(group) for group in neighbors)
    neighbor_table = np.array([group + [group[0]] * (widest - len(group)) for group in neighbors])
    price = np.array([item.price for item in ITEMS])
    tier_price = np.round(price[:, None] * np.array(TIER_PRICE_FACTOR)[None, :], 2)
    available = item_availability()
    return World(
        seed=seed,
        customers=customers,
        period=period,
        stores=stores,
        store_tier=store_tier,
        store_neighbors=neighbor_table,
        store_neighbor_count=np.array([len(group) for group in neighbors]),
        store_tier_weight=_tier_weights(personas, preferred_tiers),
        item_cost=np.array([item.unit_cost for item in ITEMS]),
        tier_price=tier_price,
        item_tables=_item_tables(personas, available),
        item_available=available,
        offers=offers,
        offer=_offer_tables(offers, period, available, price),
        weather=weather,
        personas=personas,
        utc_offset=_utc_offsets(stores, period),
        effects=effects,
    )
