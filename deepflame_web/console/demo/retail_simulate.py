"""Shoppers of the retail demo, one chunk of customers at a time, vectorized with numpy.

Customers have long-lived department tastes that drift month by month (and for a few switch
once), a few dozen staple items they buy again and again, about one trip a week and baskets of
a few to a few dozen lines. They hold coupons given to many customers at launch and redeem one
when they buy an item of its set while it is valid, with a chance made of hidden effects
(`retail_effects`): taste, staples, what the previous visit bought, weekday and store tier per
department, and the offer's appeal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepflame_web.console.demo.period import Period
from deepflame_web.console.demo.retail_catalog import (
    DEPARTMENTS,
    TIER_PRICE_FACTOR,
    Catalog,
    RetailOffer,
    RetailStore,
)
from deepflame_web.console.demo.retail_effects import RetailEffects
from deepflame_web.console.demo.simulate import draw_rows

WEEKDAY_SHARE = np.array([0.12, 0.12, 0.13, 0.14, 0.16, 0.19, 0.14])
OPENING_SECOND, OPEN_SECONDS = 8 * 3600, 13 * 3600
HOME_STORE_SHARE = 0.9
STAPLES = (15, 45)
TOP_DEPARTMENTS = 8
REDEEM_BASE = 0.028
AWARENESS_DAYS = 14.0
"""Customers notice a new coupon on their card over the first weeks after its launch."""
MAX_REDEEM_CHANCE = 0.9
ASSIGN_SHARE = (0.15, 0.4)


@dataclass(frozen=True)
class RetailWorld:
    """What every chunk shares, as arrays indexed by small integers."""

    seed: int
    customers: int
    period: Period
    stores: list[RetailStore]
    store_tier: np.ndarray
    catalog: Catalog
    tier_price: np.ndarray
    department_cdf: np.ndarray
    department_items: np.ndarray
    offers: list[RetailOffer]
    offer_department: np.ndarray
    offer_first_day: np.ndarray
    offer_last_day: np.ndarray
    offer_tier_ok: np.ndarray
    offer_items: np.ndarray
    offer_item_cdf: np.ndarray
    item_offer_ptr: np.ndarray
    item_offers: np.ndarray
    effects: RetailEffects

    @property
    def departments(self) -> int:
        return len(DEPARTMENTS)


def _grouped_cdf(group: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members sorted by group and a global CDF where group g spans [g, g + 1): a draw in
    group g is `searchsorted(cdf, g + u)`, one vectorized call for any mix of groups."""
    order = np.lexsort((np.arange(len(group)), group))
    g, w = group[order], weight[order]
    totals = np.bincount(g, weights=w)
    within = np.cumsum(w) - np.repeat(np.cumsum(totals) - totals, np.bincount(g))
    return order, g + within / totals[g]


def build_retail_world(
    *,
    seed: int,
    customers: int,
    period: Period,
    stores: list[RetailStore],
    catalog: Catalog,
    offers: list[RetailOffer],
    effects: RetailEffects,
) -> RetailWorld:
    tiers = ("value", "standard", "premium")
    department_items, department_cdf = _grouped_cdf(catalog.department, catalog.popularity)
    owner = np.concatenate([np.full(len(o.items), k) for k, o in enumerate(offers)])
    members = np.concatenate([o.items for o in offers])
    offer_items_sorted, offer_cdf = _grouped_cdf(owner, catalog.popularity[members])
    by_item = np.argsort(members, kind="stable")
    return RetailWorld(
        seed=seed,
        customers=customers,
        period=period,
        stores=stores,
        store_tier=np.array([tiers.index(s.pricing_tier) for s in stores]),
        catalog=catalog,
        tier_price=np.round(catalog.price[:, None] * np.array(TIER_PRICE_FACTOR)[None, :], 2),
        department_cdf=department_cdf,
        department_items=department_items,
        offers=offers,
        offer_department=np.array([o.department for o in offers]),
        offer_first_day=np.array([(o.valid_from - period.start).days for o in offers]),
        offer_last_day=np.array([(o.valid_to - period.start).days for o in offers]),
        offer_tier_ok=np.array([[not o.tiers or t in o.tiers for t in tiers] for o in offers]),
        offer_items=members[offer_items_sorted],
        offer_item_cdf=offer_cdf,
        item_offer_ptr=np.concatenate(
            [[0], np.cumsum(np.bincount(members, minlength=len(catalog.price)))]
        ),
        item_offers=owner[by_item],
        effects=effects,
    )


@dataclass(frozen=True)
class Shoppers:
    """The hidden traits of a chunk's customers (index = position in the chunk)."""

    first_number: int
    taste: np.ndarray
    """[customer, month, department]: share of the customer's non-staple lines."""
    switch_month: np.ndarray
    staples: np.ndarray
    staple_cdf: np.ndarray
    staple_share: np.ndarray
    weekly_trips: np.ndarray
    basket_lines: np.ndarray
    delivery_share: np.ndarray
    response: np.ndarray
    home_store: np.ndarray
    joined_day: np.ndarray
    zip_code: np.ndarray

    @property
    def count(self) -> int:
        return len(self.response)


def _log_tastes(rng: np.random.Generator, world: RetailWorld, n: int) -> np.ndarray:
    """Sparse log-preferences over departments around the chain's department popularity."""
    base = np.bincount(world.catalog.department, weights=world.catalog.popularity)
    return np.log(base / base.sum())[None, :] + np.log(
        rng.gamma(0.35, 1.0, size=(n, world.departments)) + 1e-4
    )


def _monthly_tastes(
    rng: np.random.Generator, world: RetailWorld, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Taste per month: a random walk on log-taste, and for a few customers a switch to a
    new profile at one month (a move, a new baby, a diet)."""
    months = world.period.months
    strengths = world.effects.strengths
    log_taste = np.repeat(_log_tastes(rng, world, n)[:, None, :], months, axis=1)
    steps = rng.normal(0.0, strengths["drift_sigma"], size=(n, months, world.departments))
    steps[:, 0] = 0.0
    log_taste += np.cumsum(steps, axis=1)
    switch = np.full(n, -1, dtype=np.int64)
    if months > 1:
        movers = np.flatnonzero(rng.random(n) < strengths["switch_share"])
        switch[movers] = rng.integers(1, months, size=len(movers))
        later = np.arange(months)[None, :] >= switch[movers, None]
        fresh = _log_tastes(rng, world, len(movers))[:, None, :]
        log_taste[movers] = np.where(later[..., None], fresh, log_taste[movers])
    taste = np.exp(log_taste - log_taste.max(axis=2, keepdims=True))
    return taste / taste.sum(axis=2, keepdims=True), switch


def pick_in_departments(
    rng: np.random.Generator, world: RetailWorld, department: np.ndarray
) -> np.ndarray:
    """An item per row in the given department, by the chain's item popularity."""
    position = np.searchsorted(world.department_cdf, department + rng.random(len(department)))
    return world.department_items[np.minimum(position, len(world.department_items) - 1)]


def _staples(
    rng: np.random.Generator, world: RetailWorld, first_taste: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[customer, slot]: a few dozen items bought again and again, from the departments the
    customer likes, and their cumulative weights (0 past the customer's count)."""
    n, slots = len(first_taste), STAPLES[1]
    department = draw_rows(rng, np.repeat(first_taste, slots, axis=0))
    staples = pick_in_departments(rng, world, department).reshape(n, slots)
    count = rng.integers(STAPLES[0], STAPLES[1] + 1, size=n)
    weight = rng.gamma(1.0, 1.0, size=(n, slots)) * (np.arange(slots)[None, :] < count[:, None])
    return staples, np.cumsum(weight, axis=1)


def simulate_shoppers(
    rng: np.random.Generator, world: RetailWorld, first_number: int, n: int
) -> Shoppers:
    taste, switch = _monthly_tastes(rng, world, n)
    staples, staple_cdf = _staples(rng, world, taste[:, 0])
    home = rng.integers(0, len(world.stores), size=n)
    return Shoppers(
        first_number=first_number,
        taste=taste,
        switch_month=switch,
        staples=staples,
        staple_cdf=staple_cdf,
        staple_share=rng.beta(4.0, 5.0, size=n),
        weekly_trips=np.clip(rng.gamma(2.0, 0.5, size=n), 0.08, 4.0),
        basket_lines=np.clip(rng.lognormal(np.log(10.5), 0.5, size=n), 3.0, 30.0),
        delivery_share=np.where(rng.random(n) < 0.2, rng.beta(2.0, 2.0, size=n), 0.0),
        response=rng.lognormal(0.0, 0.5, size=n),
        home_store=home,
        joined_day=-rng.integers(30, 2000, size=n),
        zip_code=rng.integers(10000, 99999, size=n),
    )


@dataclass(frozen=True)
class Trips:
    """One row per order, sorted by customer and local time."""

    customer: np.ndarray
    day: np.ndarray
    second: np.ndarray
    store: np.ndarray
    channel: np.ndarray

    @property
    def count(self) -> int:
        return len(self.customer)


def simulate_trips(rng: np.random.Generator, world: RetailWorld, shoppers: Shoppers) -> Trips:
    """Poisson trips per week at the customer's rate, on the chain's busier weekdays."""
    period = world.period
    weeks = period.weeks
    counts = rng.poisson(shoppers.weekly_trips[:, None], size=(shoppers.count, weeks))
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    customer, week = flat // weeks, flat % weeks
    first_monday = -period.start.weekday()
    day = first_monday + 7 * week + rng.choice(7, size=len(flat), p=WEEKDAY_SHARE)
    inside = (day >= 0) & (day < period.days)
    customer, day = customer[inside], day[inside]
    second = OPENING_SECOND + (OPEN_SECONDS * rng.beta(2.0, 2.0, size=len(day))).astype(np.int64)
    away = rng.random(len(day)) >= HOME_STORE_SHARE
    store = np.where(away, rng.integers(0, len(world.stores), size=len(day)), 0)
    store = np.where(away, store, shoppers.home_store[customer])
    channel = (rng.random(len(day)) < shoppers.delivery_share[customer]).astype(np.int64)
    order = np.lexsort((second, day, customer))
    return Trips(customer[order], day[order], second[order], store[order], channel[order])


@dataclass(frozen=True)
class Basket:
    """Distinct items per order, sorted by order."""

    order: np.ndarray
    item: np.ndarray
    quantity: np.ndarray


def _merge_lines(order: np.ndarray, item: np.ndarray, quantity: np.ndarray, width: int) -> Basket:
    key = order.astype(np.int64) * width + item
    unique, inverse = np.unique(key, return_inverse=True)
    return Basket(
        order=unique // width,
        item=unique % width,
        quantity=np.bincount(inverse, weights=quantity).astype(np.int64),
    )


def compose_baskets(
    rng: np.random.Generator, world: RetailWorld, shoppers: Shoppers, trips: Trips
) -> Basket:
    """Lines per order around the customer's usual basket size: staples with the customer's
    staple share, the rest by the month's department taste and item popularity."""
    size = 1 + rng.poisson(np.maximum(shoppers.basket_lines[trips.customer] - 1.0, 0.0))
    order = np.repeat(np.arange(trips.count), size)
    customer = trips.customer[order]
    from_staples = rng.random(len(order)) < shoppers.staple_share[customer]
    cdf = shoppers.staple_cdf[customer[from_staples]]
    slot = (cdf < rng.random(len(cdf))[:, None] * cdf[:, -1:]).sum(axis=1)
    item = np.empty(len(order), dtype=np.int64)
    item[from_staples] = shoppers.staples[customer[from_staples], slot]
    rest = np.flatnonzero(~from_staples)
    month = world.period.day_month[trips.day[order[rest]]]
    department = draw_rows(rng, shoppers.taste[customer[rest], month])
    item[rest] = pick_in_departments(rng, world, department)
    quantity = 1 + rng.poisson(0.3, size=len(order))
    return _merge_lines(order, item, quantity, len(world.catalog.price))


def assign_offers(rng: np.random.Generator, world: RetailWorld, shoppers: Shoppers) -> np.ndarray:
    """[customer, offer]: coupons given at launch to a random share of customers, somewhat
    more often to those whose favorite departments include the offer's (as a grocer targets)."""
    share = rng.uniform(*ASSIGN_SHARE, size=len(world.offers))
    first_taste = shoppers.taste[:, 0]
    top = np.argsort(-first_taste, axis=1)[:, :TOP_DEPARTMENTS]
    likes = np.zeros_like(first_taste, dtype=bool)
    np.put_along_axis(likes, top, True, axis=1)
    chance = share[None, :] * (0.7 + 0.6 * likes[:, world.offer_department])
    return rng.random(chance.shape, dtype=np.float32) < chance


def _department_masks(world: RetailWorld, basket: Basket, orders: int) -> np.ndarray:
    """[order]: bitmask of the departments the order bought."""
    masks = np.zeros(orders, dtype=np.int64)
    bits = np.int64(1) << world.catalog.department[basket.item].astype(np.int64)
    np.bitwise_or.at(masks, basket.order, bits)
    return masks


def previous_visit_masks(trips: Trips, masks: np.ndarray) -> np.ndarray:
    """[order]: departments of the same customer's previous order (0 for a first order)."""
    previous = np.zeros_like(masks)
    same = trips.customer[1:] == trips.customer[:-1]
    previous[1:] = np.where(same, masks[:-1], 0)
    return previous


@dataclass(frozen=True)
class Candidates:
    """(order, offer) pairs where the customer holds a live coupon that applies there."""

    order: np.ndarray
    offer: np.ndarray
    in_basket: np.ndarray


def _held_live_pairs(world: RetailWorld, trips: Trips, held: np.ndarray) -> Candidates:
    """Every live offer for each order, kept where the customer holds it and the store's tier
    allows it."""
    live = [
        np.flatnonzero((world.offer_first_day <= d) & (world.offer_last_day >= d))
        for d in range(world.period.days)
    ]
    live_count = np.array([len(x) for x in live])
    live_flat = np.concatenate(live)
    live_start = np.cumsum(live_count) - live_count
    per_order = live_count[trips.day]
    order = np.repeat(np.arange(trips.count), per_order)
    within = np.arange(len(order)) - np.repeat(np.cumsum(per_order) - per_order, per_order)
    offer = live_flat[live_start[trips.day[order]] + within]
    keep = held[trips.customer[order], offer]
    keep &= world.offer_tier_ok[offer, world.store_tier[trips.store[order]]]
    return Candidates(order[keep], offer[keep], np.zeros(keep.sum(), dtype=bool))


def _basket_offer_keys(world: RetailWorld, basket: Basket) -> np.ndarray:
    """Sorted keys order * offers + offer for every offer whose set a basket line is in."""
    ptr = world.item_offer_ptr
    per_line = ptr[basket.item + 1] - ptr[basket.item]
    line = np.repeat(np.arange(len(basket.item)), per_line)
    within = np.arange(len(line)) - np.repeat(np.cumsum(per_line) - per_line, per_line)
    offer = world.item_offers[ptr[basket.item[line]] + within]
    return np.unique(basket.order[line] * len(world.offers) + offer)


def find_candidates(
    world: RetailWorld, trips: Trips, basket: Basket, held: np.ndarray
) -> Candidates:
    pairs = _held_live_pairs(world, trips, held)
    keys = _basket_offer_keys(world, basket)
    pair_keys = pairs.order * len(world.offers) + pairs.offer
    found = np.searchsorted(keys, pair_keys)
    in_basket = (found < len(keys)) & (keys[np.minimum(found, len(keys) - 1)] == pair_keys)
    return Candidates(pairs.order, pairs.offer, in_basket)


def _staple_offers(world: RetailWorld, shoppers: Shoppers) -> np.ndarray:
    """[customer, offer]: the offer's set holds one of the customer's staples."""
    ptr = world.item_offer_ptr
    has = shoppers.staple_cdf > np.concatenate(
        [np.zeros((shoppers.count, 1)), shoppers.staple_cdf[:, :-1]], axis=1
    )
    customer, slot = np.nonzero(has)
    item = shoppers.staples[customer, slot]
    per = ptr[item + 1] - ptr[item]
    row = np.repeat(np.arange(len(item)), per)
    within = np.arange(len(row)) - np.repeat(np.cumsum(per) - per, per)
    result = np.zeros((shoppers.count, len(world.offers)), dtype=bool)
    result[customer[row], world.item_offers[ptr[item[row]] + within]] = True
    return result


def redemption_chance(
    world: RetailWorld,
    shoppers: Shoppers,
    trips: Trips,
    candidates: Candidates,
    follows_previous: np.ndarray,
) -> np.ndarray:
    """The chance that a held coupon is redeemed on an order: the product of the hidden
    effects, lower when the offer's item is not already in the basket."""
    effects, strength = world.effects, world.effects.strength
    order, offer = candidates.order, candidates.offer
    customer = trips.customer[order]
    department = world.offer_department[offer]
    month = world.period.day_month[trips.day[order]]
    taste = (world.departments * shoppers.taste[customer, month, department]) ** strength(
        "taste_power"
    )
    staple = _staple_offers(world, shoppers)[customer, offer]
    weekend = world.period.day_weekend[trips.day[order]].astype(np.int64)
    chance = (
        REDEEM_BASE
        * shoppers.response[customer]
        * taste
        * np.where(staple, strength("staple_boost"), 1.0)
        * np.where(follows_previous, strength("follow_boost"), 1.0)
        * effects.weekend_factor[department, weekend]
        * effects.tier_factor[department, world.store_tier[trips.store[order]]]
        * effects.appeal[offer]
        * np.where(candidates.in_basket, 1.0, strength("impulse"))
        * _awareness(world, trips, candidates)
    )
    return np.minimum(chance, MAX_REDEEM_CHANCE)


def _awareness(world: RetailWorld, trips: Trips, candidates: Candidates) -> np.ndarray:
    age = trips.day[candidates.order] - world.offer_first_day[candidates.offer]
    return 1.0 - np.exp(-(age + 1) / AWARENESS_DAYS)


@dataclass(frozen=True)
class Redemptions:
    order: np.ndarray
    offer: np.ndarray
    added_item: np.ndarray
    """The item the coupon made the customer add, or -1 when it was in the basket already."""


def redeem(
    rng: np.random.Generator,
    world: RetailWorld,
    shoppers: Shoppers,
    trips: Trips,
    basket: Basket,
    held: np.ndarray,
) -> Redemptions:
    """Each held coupon is redeemed at most once, on the first order that takes it."""
    candidates = find_candidates(world, trips, basket, held)
    masks = _department_masks(world, basket, trips.count)
    previous = previous_visit_masks(trips, masks)[candidates.order]
    predecessors = world.effects.predecessor_masks()[world.offer_department[candidates.offer]]
    chance = redemption_chance(world, shoppers, trips, candidates, (previous & predecessors) != 0)
    success = np.flatnonzero(rng.random(len(chance)) < chance)
    key = trips.customer[candidates.order[success]] * len(world.offers) + candidates.offer[success]
    _, first = np.unique(key, return_index=True)
    taken = success[np.sort(first)]
    order, offer = candidates.order[taken], candidates.offer[taken]
    position = np.searchsorted(world.offer_item_cdf, offer + rng.random(len(offer)))
    item = world.offer_items[np.minimum(position, len(world.offer_items) - 1)]
    return Redemptions(order, offer, np.where(candidates.in_basket[taken], -1, item))


@dataclass(frozen=True)
class RetailChunk:
    shoppers: Shoppers
    trips: Trips
    lines: Basket
    amount: np.ndarray
    total: np.ndarray
    gross_margin: np.ndarray
    held: np.ndarray
    redemptions: Redemptions


def _priced_lines(
    world: RetailWorld, trips: Trips, basket: Basket, redemptions: Redemptions
) -> tuple[Basket, np.ndarray]:
    """The basket with the items coupons added, and each line's net amount: one unit of the
    couponed item at the offer's discount (percent or money off, as its text says)."""
    added = redemptions.added_item >= 0
    lines = _merge_lines(
        np.concatenate([basket.order, redemptions.order[added]]),
        np.concatenate([basket.item, redemptions.added_item[added]]),
        np.concatenate([basket.quantity, np.ones(added.sum(), dtype=np.int64)]),
        len(world.catalog.price),
    )
    tier = world.store_tier[trips.store[lines.order]]
    unit = world.tier_price[lines.item, tier]
    amount = unit * lines.quantity
    offers = world.offers
    depth = np.array([o.discount_depth for o in offers])[redemptions.offer]
    value = np.array([o.discount_value for o in offers])[redemptions.offer]
    percent = np.array([o.percent_off for o in offers])[redemptions.offer]
    couponed = np.where(
        added,
        redemptions.added_item,
        _couponed_basket_item(world, lines, redemptions),
    )
    width = len(world.catalog.price)
    line_keys = lines.order * width + lines.item
    position = np.searchsorted(line_keys, redemptions.order * width + couponed)
    price = unit[position]
    discount = np.where(percent, depth * price, np.minimum(value, price))
    np.subtract.at(amount, position, discount)
    return lines, np.round(np.maximum(amount, 0.0), 2)


def _couponed_basket_item(
    world: RetailWorld, lines: Basket, redemptions: Redemptions
) -> np.ndarray:
    """For a coupon redeemed on an item already in the basket, that item (the first in its set)."""
    keys = _basket_offer_keys_by_line(world, lines)
    wanted = redemptions.order * len(world.offers) + redemptions.offer
    position = np.searchsorted(keys[0], wanted)
    return keys[1][np.minimum(position, len(keys[0]) - 1)]


def _basket_offer_keys_by_line(world: RetailWorld, lines: Basket) -> tuple[np.ndarray, np.ndarray]:
    ptr = world.item_offer_ptr
    per_line = ptr[lines.item + 1] - ptr[lines.item]
    line = np.repeat(np.arange(len(lines.item)), per_line)
    within = np.arange(len(line)) - np.repeat(np.cumsum(per_line) - per_line, per_line)
    offer = world.item_offers[ptr[lines.item[line]] + within]
    keys = lines.order[line] * len(world.offers) + offer
    sort = np.argsort(keys, kind="stable")
    return keys[sort], lines.item[line][sort]


def simulate_retail_chunk(
    world: RetailWorld, chunk_index: int, first_number: int, n: int
) -> RetailChunk:
    rng = np.random.default_rng(np.random.SeedSequence([world.seed, 11, chunk_index]))
    shoppers = simulate_shoppers(rng, world, first_number, n)
    trips = simulate_trips(rng, world, shoppers)
    basket = compose_baskets(rng, world, shoppers, trips)
    held = assign_offers(rng, world, shoppers)
    redemptions = redeem(rng, world, shoppers, trips, basket, held)
    lines, amount = _priced_lines(world, trips, basket, redemptions)
    total = np.round(np.bincount(lines.order, weights=amount, minlength=trips.count), 2)
    cost = np.bincount(
        lines.order,
        weights=lines.quantity * world.catalog.unit_cost[lines.item],
        minlength=trips.count,
    )
    return RetailChunk(
        shoppers=shoppers,
        trips=trips,
        lines=lines,
        amount=amount,
        total=total,
        gross_margin=np.round(total - cost, 2),
        held=held,
        redemptions=redemptions,
    )
