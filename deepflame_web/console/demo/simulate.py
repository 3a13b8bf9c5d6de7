"""Behavior of one chunk of customers over the whole period, vectorized with numpy.

A chunk is simulated in stages (customers, visits, baskets, offers, money); each stage works on
whole arrays, with Python loops only over months, personas or item tables. Orders of a chunk are
kept sorted by customer and time so that sequence effects (favorites, the next main following
the previous one) can be built with cumulative array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepflame_web.console.demo.chain import ITEMS
from deepflame_web.console.demo.personas import CATEGORIES, CHANNELS, DRIFT_SHARE, LAPSING, PERSONAS
from deepflame_web.console.demo.weather import COLD_C, HOT_C, RAINY_MM
from deepflame_web.console.demo.world import BREAKFAST, CATEGORY, LATE_NIGHT, VISIT_WINDOWS, World

ITEM_CATEGORY = np.array([CATEGORY[item.category] for item in ITEMS], dtype=np.int64)
HOME_STORE_SHARE = 0.85
MAIN_STICKINESS = 0.7
OFFERS_PER_WEEK = 3
ASSIGNMENT_CADENCE_WEEKS = 4
ANONYMOUS_SHARE = 0.05
MAX_REDEEM_CHANCE = 0.9
# The app's deals tab: how often an order on each channel (CHANNELS order) looks at it.
DEAL_BROWSE_CHANCE = np.array([0.08, 0.5, 0.2, 0.06, 0.3])
DEAL_RESPONSE = 2.0
FAVORITE_OFFER_BOOST = 1.5
"""Kept small: the favorite item is one input of the model, so it must be one effect among
several (the previous visit's categories and drifting tastes are the others)."""
# (category, factor on hot days, factor on cold or wet days) for the taste of an offer.
WEATHER_OFFER_BOOST: tuple[tuple[str, float, float], ...] = (
    ("frozen_drinks", 3.0, 0.3),
    ("desserts", 1.8, 0.7),
    ("hot_drinks", 0.3, 2.5),
)
LOYALTY_TIERS: tuple[str, ...] = ("member", "silver", "gold")
SIDE_WITH_CHICKEN = 0.75
SIDE_WITHOUT_MAIN = 0.3
DRINK_WITHOUT_MAIN = 0.6
"""A persona's `side` and `drink` chances are those of an order with a burger; other orders
take a side less often, and a drink less often when there is no main to wash down."""


@dataclass(frozen=True)
class Customers:
    """The hidden truth and fixed traits of a chunk's customers (index = position in chunk)."""

    first_number: int
    persona_month: np.ndarray
    drift_month: np.ndarray
    joined_day: np.ndarray
    loyalty_tier: np.ndarray
    zip_code: np.ndarray
    home_store: np.ndarray
    second_store: np.ndarray
    frequency: np.ndarray
    favorites: np.ndarray
    lapse_age: np.ndarray
    habit: np.ndarray
    drift: TasteDrift

    @property
    def count(self) -> int:
        return len(self.joined_day)


@dataclass(frozen=True)
class TasteDrift:
    """Each customer's taste for offers of one category rises over the months and for another
    falls, by `rate` in log-taste a month (hidden: the model sees only the purchases)."""

    rising: np.ndarray
    falling: np.ndarray
    rate: np.ndarray

    def factor(self, customer: np.ndarray, month: np.ndarray, category: np.ndarray) -> np.ndarray:
        """[order, candidate]: the drift of the customer's taste for the offers' categories."""
        c, m = customer[:, None], month[:, None]
        sign = (category == self.rising[c]).astype(np.float64) - (category == self.falling[c])
        return np.exp(sign * self.rate[c] * m)


def draw_taste_drift(rng: np.random.Generator, world: World, n: int) -> TasteDrift:
    rising = rng.integers(0, len(CATEGORIES), size=n)
    falling = (rising + rng.integers(1, len(CATEGORIES), size=n)) % len(CATEGORIES)
    return TasteDrift(rising, falling, rng.uniform(0.0, world.effects.drift_rate_max, size=n))


@dataclass(frozen=True)
class TasteInputs:
    """What an order's taste for an offer depends on beyond persona and offer."""

    favorites: np.ndarray
    drift: TasteDrift
    previous_categories: np.ndarray
    """[order]: bitmask of the categories of the customer's previous order (0 if none)."""


@dataclass(frozen=True)
class Visits:
    """One row per order; `customer` is the chunk position, or -1 for an anonymous order.

    `persona` is the customer's true persona that month; `style` the persona whose habits the
    order follows (the same, except for lapsing customers, who keep their former habits).
    """

    customer: np.ndarray
    persona: np.ndarray
    style: np.ndarray
    day: np.ndarray
    second: np.ndarray
    daypart: np.ndarray
    channel: np.ndarray
    store: np.ndarray

    @property
    def count(self) -> int:
        return len(self.customer)

    def take(self, index: np.ndarray) -> Visits:
        return Visits(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    @staticmethod
    def concat(first: Visits, second: Visits) -> Visits:
        return Visits(
            **{
                name: np.concatenate([getattr(first, name), getattr(second, name)])
                for name in Visits.__dataclass_fields__
            }
        )


@dataclass(frozen=True)
class Lines:
    """Order lines; `offer` is the redeemed offer's index or -1."""

    order: np.ndarray
    item: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray
    offer: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """Everything one chunk contributes to the output tables."""

    customers: Customers
    visits: Visits
    total: np.ndarray
    gross_margin: np.ndarray
    lines: Lines
    assigned: np.ndarray
    redeemed_orders: np.ndarray
    redeemed_offers: np.ndarray


def draw_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), probabilities.shape[1] - 1)


def draw_items(
    rng: np.random.Generator,
    world: World,
    persona: np.ndarray,
    category: np.ndarray,
    at_breakfast: np.ndarray,
) -> np.ndarray:
    """A fresh item per row from the persona's taste within the category and daypart."""
    items = np.full(len(persona), -1, dtype=np.int32)
    key = (persona.astype(np.int64) * len(CATEGORIES) + category) * 2 + at_breakfast
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    for group_key, start, end in zip(keys, starts, ends, strict=True):
        table = world.item_tables[group_key]
        if table is None:
            raise ValueError(f"no item to draw for table {group_key}")
        rows = order[start:end]
        picks = np.searchsorted(table.cdf, rng.random(len(rows)), side="right")
        items[rows] = table.items[np.minimum(picks, len(table.items) - 1)]
    return items


def _favorites(rng: np.random.Generator, world: World, n: int) -> np.ndarray:
    """[customer, persona, category]: the item each customer keeps coming back for, per persona
    (a customer who drifts picks up the habits of the new persona)."""
    favorites = np.zeros((n, len(PERSONAS), len(CATEGORIES)), dtype=np.int32)
    for persona in range(len(PERSONAS)):
        for category in range(len(CATEGORIES)):
            at_breakfast = int(category == CATEGORY["breakfast"])
            favorites[:, persona, category] = draw_items(
                rng,
                world,
                np.full(n, persona),
                np.full(n, category),
                np.full(n, at_breakfast),
            )
    return favorites


def _drift(
    rng: np.random.Generator, world: World, base: np.ndarray, months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly DRIFT_SHARE of the chunk switches persona at a month boundary inside the period."""
    n = len(base)
    persona_month = np.repeat(base[:, None], months, axis=1)
    drift_month = np.full(n, -1, dtype=np.int16)
    if months < 2:
        return persona_month, drift_month
    movers = rng.choice(n, size=round(n * DRIFT_SHARE), replace=False)
    targets = draw_rows(rng, world.personas.drift_targets[base[movers]])
    switch = rng.integers(1, months, size=len(movers))
    drift_month[movers] = switch
    later = np.arange(months)[None, :] >= switch[:, None]
    persona_month[movers] = np.where(later, targets[:, None], persona_month[movers])
    return persona_month, drift_month


def _lapse_age(rng: np.random.Generator, persona_month: np.ndarray) -> np.ndarray:
    """Months since each customer became lapsing (base lapsing customers already were)."""
    n, months = persona_month.shape
    lapsing = persona_month == LAPSING
    became = np.where(lapsing.any(axis=1), lapsing.argmax(axis=1), 0)
    already = lapsing[:, 0] * rng.integers(1, 4, size=n)
    return np.arange(months)[None, :] - became[:, None] + already[:, None]


def _habits(rng: np.random.Generator, world: World, persona_month: np.ndarray) -> np.ndarray:
    """The persona whose habits a customer keeps while lapsing: the one they had before the
    lapse, or for customers lapsing from the start a regular persona drawn by share."""
    n = len(persona_month)
    regular_share = np.where(np.arange(len(PERSONAS)) == LAPSING, 0.0, world.personas.share)
    drawn = rng.choice(len(PERSONAS), size=n, p=regular_share / regular_share.sum())
    lapsing = persona_month == LAPSING
    became = lapsing.argmax(axis=1)
    before = persona_month[np.arange(n), np.maximum(became - 1, 0)]
    return np.where(lapsing.any(axis=1) & (became > 0), before, drawn)


def simulate_customers(
    rng: np.random.Generator, world: World, first_number: int, n: int, drift: TasteDrift
) -> Customers:
    """Personas (with drift), home stores, loyalty attributes and favorite items of a chunk."""
    tables = world.personas
    base = rng.choice(len(PERSONAS), size=n, p=tables.share).astype(np.int8)
    persona_month, drift_month = _drift(rng, world, base, world.period.months)
    home = np.zeros(n, dtype=np.int64)
    for persona in range(len(PERSONAS)):
        rows = np.flatnonzero(base == persona)
        weights = world.store_tier_weight[persona, world.store_tier]
        home[rows] = rng.choice(len(world.stores), size=len(rows), p=weights / weights.sum())
    neighbor = (rng.random(n) * world.store_neighbor_count[home]).astype(np.int64)
    frequency = rng.gamma(6.0, 1.0 / 6.0, size=n)
    expected = np.where(base == LAPSING, 0.3, 1.0 + tables.extra_visits[base]) * frequency
    loyalty = np.digitize(expected + rng.normal(0, 0.4, size=n), [1.3, 2.1])
    city_prefix = np.array([int(store.city.zip_prefix) for store in world.stores])[home]
    return Customers(
        first_number=first_number,
        persona_month=persona_month,
        drift_month=drift_month,
        joined_day=-rng.integers(14, 1500, size=n),
        loyalty_tier=loyalty,
        zip_code=city_prefix * 100 + rng.integers(1, 99, size=n),
        home_store=home,
        second_store=world.store_neighbors[home, neighbor],
        frequency=frequency,
        favorites=_favorites(rng, world, n),
        lapse_age=_lapse_age(rng, persona_month),
        habit=_habits(rng, world, persona_month),
        drift=drift,
    )


def _monthly_visit_counts(
    rng: np.random.Generator, world: World, customers: Customers
) -> np.ndarray:
    """[customer, month]: regulars come at least monthly; lapsing customers fade away."""
    tables = world.personas
    persona = customers.persona_month
    fraction = world.period.month_fraction[None, :]
    extra = tables.extra_visits[persona] * customers.frequency[:, None]
    active = np.where(
        fraction >= 1.0,
        1 + rng.poisson(extra),
        rng.poisson((1.0 + extra) * fraction),
    )
    lapse_rate = (
        tables.lapse_start_visits[persona]
        * tables.lapse_decay[persona] ** np.maximum(customers.lapse_age, 0)
        * customers.frequency[:, None]
        * fraction
    )
    return np.where(persona == LAPSING, rng.poisson(lapse_rate), active)


def _visit_days(
    rng: np.random.Generator, world: World, month: np.ndarray, persona: np.ndarray
) -> np.ndarray:
    """A day inside the visit's month, on a weekend with the persona's weekend share."""
    period = world.period
    weekend = rng.random(len(month)) < world.personas.weekend_share[persona]
    day = np.zeros(len(month), dtype=np.int32)
    for m in range(period.months):
        for is_weekend in (False, True):
            pool = period.days_of_month(m, weekend=is_weekend)
            if len(pool) == 0:
                pool = np.flatnonzero(period.day_month == m)
            rows = np.flatnonzero((month == m) & (weekend == is_weekend))
            day[rows] = pool[rng.integers(0, len(pool), size=len(rows))]
    return day


def _visit_seconds(rng: np.random.Generator, daypart: np.ndarray) -> np.ndarray:
    """Local second of the day, peaking in the middle of the daypart's window."""
    start, length = VISIT_WINDOWS[daypart, 0], VISIT_WINDOWS[daypart, 1]
    minute = (start + (length * rng.beta(2.0, 2.0, size=len(daypart))).astype(np.int64)) % 1440
    return minute * 60 + rng.integers(0, 60, size=len(daypart))


def simulate_visits(rng: np.random.Generator, world: World, customers: Customers) -> Visits:
    """Every known customer's orders, sorted by customer and local time."""
    counts = _monthly_visit_counts(rng, world, customers)
    months = world.period.months
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    customer, month = flat // months, flat % months
    persona = customers.persona_month[customer, month].astype(np.int64)
    style = np.where(persona == LAPSING, customers.habit[customer], persona)
    daypart = draw_rows(rng, world.personas.daypart_probs[style])
    at_home = rng.random(len(customer)) < HOME_STORE_SHARE
    visits = Visits(
        customer=customer,
        persona=persona,
        style=style,
        day=_visit_days(rng, world, month, style),
        second=_visit_seconds(rng, daypart),
        daypart=daypart,
        channel=draw_rows(rng, world.personas.channel_probs[style]),
        store=np.where(at_home, customers.home_store[customer], customers.second_store[customer]),
    )
    return visits.take(np.lexsort((visits.second, visits.day, visits.customer)))


def simulate_anonymous_visits(rng: np.random.Generator, world: World, n: int) -> Visits:
    """Walk-in orders without a loyalty id: a regular persona's habits, no app orders."""
    regular_share = np.where(np.arange(len(PERSONAS)) == LAPSING, 0.0, world.personas.share)
    persona = rng.choice(len(PERSONAS), size=n, p=regular_share / regular_share.sum())
    daypart = draw_rows(rng, world.personas.daypart_probs[persona])
    channel = draw_rows(rng, world.personas.channel_probs[persona])
    channel[channel == CHANNELS.index("mobile_app")] = CHANNELS.index("kiosk")
    visits = Visits(
        customer=np.full(n, -1),
        persona=persona,
        style=persona,
        day=rng.integers(0, world.period.days, size=n),
        second=_visit_seconds(rng, daypart),
        daypart=daypart,
        channel=channel,
        store=rng.integers(0, len(world.stores), size=n),
    )
    return visits.take(np.lexsort((visits.second, visits.day)))


def _sticky_main_category(
    rng: np.random.Generator, world: World, visits: Visits, rows: np.ndarray
) -> np.ndarray:
    """Burgers or chicken for the given orders: a customer's next main repeats the previous
    main's category with MAIN_STICKINESS, else it is a fresh pick by persona taste."""
    customer = visits.customer[rows]
    fresh_pick = np.where(
        rng.random(len(rows)) < world.personas.burger_share[visits.style[rows]],
        CATEGORY["burgers"],
        CATEGORY["chicken"],
    )
    first = np.ones(len(rows), dtype=bool)
    first[1:] = customer[1:] != customer[:-1]
    fresh = first | (customer < 0) | (rng.random(len(rows)) >= MAIN_STICKINESS)
    source = np.maximum.accumulate(np.where(fresh, np.arange(len(rows)), 0))
    return fresh_pick[source]


def _drink_category(rng: np.random.Generator, world: World, visits: Visits) -> np.ndarray:
    """Soft, hot or frozen drink: breakfast wants coffee, cold or wet days hot drinks, hot
    days frozen ones, late nights shakes."""
    temp = world.weather.temp_c[visits.store, visits.day]
    rain = world.weather.precip_mm[visits.store, visits.day] >= RAINY_MM
    weights = np.tile(np.array([0.72, 0.1, 0.18]), (visits.count, 1))
    weights[visits.daypart == BREAKFAST] = [0.2, 0.8, 0.0]
    weights[visits.daypart == LATE_NIGHT] = [0.55, 0.05, 0.4]
    chilly = (temp < COLD_C) | rain
    weights[chilly] *= [1.0, 4.0, 0.35]
    weights[temp > HOT_C] *= [1.0, 0.25, 3.0]
    choice = draw_rows(rng, weights)
    return np.array([CATEGORY["drinks"], CATEGORY["hot_drinks"], CATEGORY["frozen_drinks"]])[choice]


def _pick(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    favorites: np.ndarray,
    rows: np.ndarray,
    category: np.ndarray,
) -> np.ndarray:
    """The customer's favorite of the category when loyal and on sale, else a fresh pick."""
    persona = visits.style[rows]
    at_breakfast = (visits.daypart[rows] == BREAKFAST).astype(np.int64)
    fresh = draw_items(rng, world, persona, category, at_breakfast)
    customer = visits.customer[rows]
    known = customer >= 0
    favorite = np.full(len(rows), -1, dtype=np.int32)
    favorite[known] = favorites[customer[known], persona[known], category[known]]
    on_sale = world.item_available[visits.daypart[rows], np.maximum(favorite, 0)]
    loyal = rng.random(len(rows)) < world.personas.favorite_loyalty[visits.persona[rows]]
    return np.where(known & on_sale & loyal, favorite, fresh)


def compose_baskets(
    rng: np.random.Generator, world: World, visits: Visits, favorites: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The items of each order (order index, item, quantity), built from persona slots: a main,
    then a side and a drink that go with it, a dessert, kids meals for families."""
    tables = world.personas
    n = visits.count
    persona = visits.persona
    at_breakfast = visits.daypart == BREAKFAST
    late = visits.daypart == LATE_NIGHT
    has_main = rng.random(n) < np.where(
        at_breakfast, tables.breakfast_main[persona], tables.main[persona]
    )
    main_category = np.full(n, CATEGORY["breakfast"])
    lunch_menu_main = np.flatnonzero(has_main & ~at_breakfast)
    main_category[lunch_menu_main] = _sticky_main_category(rng, world, visits, lunch_menu_main)
    goes_with_side = np.where(main_category == CATEGORY["burgers"], 1.0, SIDE_WITH_CHICKEN)
    side_chance = tables.side[persona] * np.where(has_main, goes_with_side, SIDE_WITHOUT_MAIN)
    side = ~at_breakfast & (rng.random(n) < side_chance)
    drink_chance = tables.drink[persona] * np.where(has_main, 1.0, DRINK_WITHOUT_MAIN)
    drink = rng.random(n) < drink_chance
    dessert = rng.random(n) < tables.dessert[persona] * np.where(at_breakfast, 0.2, 1.0)
    kids = ~at_breakfast & ~late & (rng.random(n) < tables.kids_meal[persona])
    drink |= ~(has_main | side | dessert | kids)
    main_quantity = 1 + rng.poisson(tables.main_extra_quantity[persona])
    slots = [
        (has_main, main_category, main_quantity),
        (side, np.full(n, CATEGORY["sides"]), np.ones(n, dtype=np.int64)),
        (drink, _drink_category(rng, world, visits), 1 + rng.binomial(1, 0.08, size=n)),
        (dessert, np.full(n, CATEGORY["desserts"]), np.ones(n, dtype=np.int64)),
        (kids, np.full(n, CATEGORY["kids_meals"]), 1 + rng.binomial(2, 0.5, size=n)),
    ]
    orders, items, quantities = [], [], []
    for present, category, quantity in slots:
        rows = np.flatnonzero(present)
        orders.append(rows)
        items.append(_pick(rng, world, visits, favorites, rows, category[rows]))
        quantities.append(quantity[rows])
    order = np.concatenate(orders)
    sort = np.argsort(order, kind="stable")
    return order[sort], np.concatenate(items)[sort], np.concatenate(quantities)[sort]


def _distinct_offers(rng: np.random.Generator, pool: np.ndarray, n: int, k: int) -> np.ndarray:
    """k distinct offers from the pool for each of n customers (k is small)."""
    k = min(k, len(pool))
    chosen = np.empty((n, k), dtype=np.int64)
    for slot in range(k):
        rank = rng.integers(0, len(pool) - slot, size=n)
        taken = np.sort(chosen[:, :slot], axis=1)
        for column in range(slot):
            rank += rank >= taken[:, column]
        chosen[:, slot] = rank
    return pool[chosen]


def assign_offers(rng: np.random.Generator, world: World, n: int) -> np.ndarray:
    """[customer, week, slot]: a few distinct offers live that week, given on Mondays to one
    customer in ASSIGNMENT_CADENCE_WEEKS (staggered, so each customer gets a batch every few
    weeks, as a chain's campaign calendar does); a random policy, so that redemptions reveal
    taste rather than targeting."""
    assigned = np.full((n, world.period.weeks, OFFERS_PER_WEEK), -1, dtype=np.int16)
    cohort = rng.integers(0, ASSIGNMENT_CADENCE_WEEKS, size=n)
    for week, live in enumerate(world.offer.live_in_week):
        picked = _distinct_offers(rng, live, n, OFFERS_PER_WEEK)
        picked[cohort != week % ASSIGNMENT_CADENCE_WEEKS] = -1
        assigned[:, week, : picked.shape[1]] = picked
    return assigned


def _assignment_week(world: World, visits: Visits, rows: np.ndarray) -> np.ndarray:
    """The weekly batch an order can redeem from: offers are given out on Mondays at 00:00 UTC
    and stay usable until the customer's next batch, so the week is counted on the order's UTC
    time."""
    day, second = visits.day[rows], visits.second[rows]
    regime = (second >= 5 * 3600).astype(np.int64)
    offset = world.utc_offset[visits.store[rows], day, regime]
    since_first_monday = (day + world.period.start.weekday()) * 86400 + second - offset
    return since_first_monday // (7 * 86400)


def _latest_batch_week(assigned: np.ndarray, customer: np.ndarray, week: np.ndarray) -> np.ndarray:
    """The customer's most recent batch of offers (they stay usable until the next batch,
    ASSIGNMENT_CADENCE_WEEKS later); -1 when none was given yet."""
    batch = np.full(len(week), -1, dtype=np.int64)
    for back in range(ASSIGNMENT_CADENCE_WEEKS):
        candidate = week - back
        open_rows = np.flatnonzero((candidate >= 0) & (batch < 0))
        given = assigned[customer[open_rows], candidate[open_rows], 0] >= 0
        batch[open_rows[given]] = candidate[open_rows[given]]
    return batch


def _eligible(world: World, visits: Visits, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """[order, candidate]: the offer runs that day, in the store's tier, at that local minute
    and on that channel."""
    offers = world.offer
    day = visits.day[rows][:, None]
    tier = world.store_tier[visits.store[rows]][:, None]
    minute = (visits.second[rows] // 60)[:, None]
    channel = visits.channel[rows][:, None]
    return (
        (offers.first_day[candidates] <= day)
        & (day <= offers.last_day[candidates])
        & offers.tier_ok[candidates, tier]
        & offers.channel_ok[candidates, channel]
        & offers.minute_ok[candidates, minute]
    )


def _weather_boost(world: World, visits: Visits, rows: np.ndarray) -> np.ndarray:
    """[order, category]: hot days sell frozen drinks and desserts, cold or wet days coffee."""
    temp = world.weather.temp_c[visits.store[rows], visits.day[rows]]
    rain = world.weather.precip_mm[visits.store[rows], visits.day[rows]] >= RAINY_MM
    boost = np.ones((len(rows), len(CATEGORIES)))
    hot, chilly = temp > HOT_C, (temp < COLD_C) | rain
    for category, when_hot, when_chilly in WEATHER_OFFER_BOOST:
        boost[hot, CATEGORY[category]] *= when_hot
        boost[chilly, CATEGORY[category]] *= when_chilly
    return boost


def _offer_taste(
    world: World,
    visits: Visits,
    inputs: TasteInputs,
    rows: np.ndarray,
    candidates: np.ndarray,
) -> np.ndarray:
    """[order, candidate]: how much the customer wants the offer at that order: the persona's
    taste for its category (drifting over the months), its appeal, the weather, more when its
    category follows one of the previous visit's (a seeded map), and a little more when it is
    on the customer's favorite item of that category."""
    favorites = inputs.favorites
    offers = world.offer
    style = visits.style[rows][:, None]
    category = offers.category[candidates]
    weather = _weather_boost(world, visits, rows)[np.arange(len(rows))[:, None], category]
    favorite = favorites[visits.customer[rows][:, None], style, category]
    pool = offers.pool[candidates]
    in_pool = np.arange(pool.shape[-1]) < offers.pool_size[candidates][..., None]
    on_favorite = ((pool == favorite[..., None]) & in_pool).any(axis=-1)
    customer = visits.customer[rows]
    month = world.period.day_month[visits.day[rows]]
    predecessors = world.effects.predecessor_masks()[category]
    follows = (inputs.previous_categories[rows][:, None] & predecessors) != 0
    return (
        world.personas.offer_affinity[style, category]
        * offers.appeal[candidates]
        * weather
        * np.where(on_favorite, FAVORITE_OFFER_BOOST, 1.0)
        * np.where(follows, world.effects.follow_boost, 1.0)
        * inputs.drift.factor(customer, month, category)
    )


def _redeem_assigned(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    assigned: np.ndarray,
    inputs: TasteInputs,
) -> tuple[np.ndarray, np.ndarray]:
    """Which known orders redeem one of the customer's assigned offers (each assignment at most
    once, on its earliest chance)."""
    rows = np.flatnonzero(visits.customer >= 0)
    customer, week = visits.customer[rows], _assignment_week(world, visits, rows)
    in_period = week < world.period.weeks
    week = _latest_batch_week(assigned, customer, np.minimum(week, world.period.weeks - 1))
    candidates = assigned[customer, np.maximum(week, 0)].astype(np.int64)
    valid = (candidates >= 0) & (in_period & (week >= 0))[:, None]
    safe = np.where(valid, candidates, 0)
    eligible = valid & _eligible(world, visits, rows, safe)
    persona = visits.persona[rows][:, None]
    chance = np.minimum(
        world.personas.offer_response[persona] * _offer_taste(world, visits, inputs, rows, safe),
        MAX_REDEEM_CHANCE,
    )
    success = eligible & (rng.random(candidates.shape) < chance)
    score = np.where(success, rng.random(candidates.shape), np.inf)
    slot = score.argmin(axis=1)
    hit = np.isfinite(score[np.arange(len(rows)), slot])
    key = (customer[hit].astype(np.int64) * world.period.weeks + week[hit]) * OFFERS_PER_WEEK
    _, first = np.unique(key + slot[hit], return_index=True)
    return rows[hit][first], candidates[hit][first, slot[hit][first]]


def _redeem_app_deals(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    inputs: TasteInputs,
    taken: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders that redeem one of the deals every member sees in the app (any live offer):
    some orders browse the deals (most on the app), pick one by taste among those that apply
    there and then, and redeem it by their persona's response to offers. `taken` orders
    already redeem an assigned offer."""
    known = (visits.customer >= 0) & ~taken
    browse = rng.random(visits.count) < DEAL_BROWSE_CHANCE[visits.channel]
    rows = np.flatnonzero(known & browse)
    if not len(rows):
        return rows, rows
    every_offer = np.broadcast_to(
        np.arange(len(world.offer.category)), (len(rows), len(world.offer.category))
    )
    weight = _offer_taste(world, visits, inputs, rows, every_offer) * _eligible(
        world, visits, rows, every_offer
    )
    total = weight.sum(axis=1)
    open_rows = total > 0
    rows, weight, total = rows[open_rows], weight[open_rows], total[open_rows]
    chosen = draw_rows(rng, weight / total[:, None])
    taste = weight[np.arange(len(rows)), chosen]
    chance = np.minimum(
        DEAL_RESPONSE * world.personas.offer_response[visits.persona[rows]] * taste,
        MAX_REDEEM_CHANCE,
    )
    redeemed = rng.random(len(rows)) < chance
    return rows[redeemed], chosen[redeemed]


def redeem_offers(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    assigned: np.ndarray,
    inputs: TasteInputs,
) -> tuple[np.ndarray, np.ndarray]:
    """Which known orders redeem which offer (at most one per order): the customer's assigned
    offers first, then the app's deals. Only offers that apply count (valid that day, store
    tier, local time, channel); the chance grows with the customer's taste for the offer (the
    persona's category taste, the offer's appeal, the weather, the customer's favorite items)
    and the persona's response to offers."""
    assigned_rows, assigned_offers = _redeem_assigned(rng, world, visits, assigned, inputs)
    taken = np.zeros(visits.count, dtype=bool)
    taken[assigned_rows] = True
    deal_rows, deal_offers = _redeem_app_deals(rng, world, visits, inputs, taken)
    rows = np.concatenate([assigned_rows, deal_rows])
    offers = np.concatenate([assigned_offers, deal_offers])
    keep = np.argsort(rows, kind="stable")
    return rows[keep], offers[keep]


def _offer_lines(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    redeemed_rows: np.ndarray,
    redeemed_offers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The discounted line of each redemption: item from the offer, price by its mechanic."""
    offers = world.offer
    pick = (rng.random(len(redeemed_rows)) * offers.pool_size[redeemed_offers]).astype(np.int64)
    item = offers.pool[redeemed_offers, pick]
    quantity = offers.quantity[redeemed_offers]
    regular = world.tier_price[item, world.store_tier[visits.store[redeemed_rows]]] * quantity
    value, kind = offers.value[redeemed_offers], offers.kind[redeemed_offers]
    amount = np.select(
        [kind == 0, kind == 1, kind == 2],
        [np.minimum(value, regular), 0.0, regular * (1.0 - value)],
        np.maximum(regular - value, 0.0),
    )
    return item, quantity, np.round(amount, 2)


def build_lines(
    rng: np.random.Generator,
    world: World,
    visits: Visits,
    basket: tuple[np.ndarray, np.ndarray, np.ndarray],
    redeemed_rows: np.ndarray,
    redeemed_offers: np.ndarray,
) -> Lines:
    """Price the basket and add one line per redemption. An offer on an item already in the
    basket takes over those units (any extra units stay at the regular price), so the offer
    changes the price of what was bought rather than doubling it."""
    order, item, quantity = basket
    offer_item, offer_quantity, offer_amount = _offer_lines(
        rng, world, visits, redeemed_rows, redeemed_offers
    )
    width = len(world.item_cost)
    line_key = order.astype(np.int64) * width + item
    by_key = np.argsort(line_key, kind="stable")
    line_key, order, item, quantity = (
        line_key[by_key],
        order[by_key],
        item[by_key],
        quantity[by_key],
    )
    offer_key = redeemed_rows.astype(np.int64) * width + offer_item
    position = np.minimum(np.searchsorted(line_key, offer_key), max(len(line_key) - 1, 0))
    found = line_key[position] == offer_key if len(line_key) else np.zeros(0, dtype=bool)
    taken = np.zeros(len(order), dtype=np.int64)
    taken[position[found]] = offer_quantity[found]
    regular = np.maximum(quantity - taken, 0)
    kept = regular > 0
    unit_price = world.tier_price[item, world.store_tier[visits.store[order]]]
    all_order = np.concatenate([order[kept], redeemed_rows])
    sort = np.argsort(all_order, kind="stable")
    return Lines(
        order=all_order[sort],
        item=np.concatenate([item[kept], offer_item])[sort],
        quantity=np.concatenate([regular[kept], offer_quantity])[sort].astype(np.int32),
        amount=np.concatenate([np.round(unit_price * regular, 2)[kept], offer_amount])[sort],
        offer=np.concatenate([np.full(kept.sum(), -1), redeemed_offers])[sort],
    )


def previous_categories(visits: Visits, order: np.ndarray, item: np.ndarray) -> np.ndarray:
    """[order]: bitmask of the categories of the same customer's previous order; visits are
    sorted by customer and time, anonymous ones (customer -1) get 0."""
    masks = np.zeros(visits.count, dtype=np.int64)
    np.bitwise_or.at(masks, order, np.int64(1) << ITEM_CATEGORY[item])
    previous = np.zeros_like(masks)
    same = (visits.customer[1:] == visits.customer[:-1]) & (visits.customer[1:] >= 0)
    previous[1:] = np.where(same, masks[:-1], 0)
    return previous


def simulate_chunk(world: World, chunk_index: int, first_number: int, n: int) -> Chunk:
    """Simulate customers [first_number, first_number + n) and their anonymous neighbors."""
    rng = np.random.default_rng(np.random.SeedSequence([world.seed, 1, chunk_index]))
    drift_rng = np.random.default_rng(np.random.SeedSequence([world.seed, 4, chunk_index]))
    customers = simulate_customers(
        rng, world, first_number, n, draw_taste_drift(drift_rng, world, n)
    )
    known = simulate_visits(rng, world, customers)
    anonymous = round(known.count * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE))
    visits = Visits.concat(known, simulate_anonymous_visits(rng, world, anonymous))
    basket = compose_baskets(rng, world, visits, customers.favorites)
    assigned = assign_offers(rng, world, n)
    inputs = TasteInputs(
        favorites=customers.favorites,
        drift=customers.drift,
        previous_categories=previous_categories(visits, basket[0], basket[1]),
    )
    redeemed_rows, redeemed_offers = redeem_offers(rng, world, visits, assigned, inputs)
    lines = build_lines(rng, world, visits, basket, redeemed_rows, redeemed_offers)
    total = np.round(np.bincount(lines.order, weights=lines.amount, minlength=visits.count), 2)
    cost = np.bincount(
        lines.order, weights=lines.quantity * world.item_cost[lines.item], minlength=visits.count
    )
    return Chunk(
        customers=customers,
        visits=visits,
        total=total,
        gross_margin=np.round(total - cost, 2),
        lines=lines,
        assigned=assigned,
        redeemed_orders=redeemed_rows,
        redeemed_offers=redeemed_offers,
    )
