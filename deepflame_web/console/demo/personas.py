"""Hidden customer personas of the demo chain: the ground truth that segmentation must recover.

Each persona is a small table of behavior parameters. They are deliberately far apart on the
features a behavior segmentation looks at (daypart, channel, spend, margin, frequency, weekend
share, basket size, offer response), so that K-Means can find them again in the generated data.
About half of the members are lapsing, as in a real loyalty base; regulars visit at least once a
month, which keeps the history near two order lines per customer and month.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

DAYPARTS: tuple[str, ...] = ("breakfast", "lunch", "afternoon", "dinner", "late_night")
CHANNELS: tuple[str, ...] = ("drive_thru", "mobile_app", "kiosk", "counter", "delivery")
CATEGORIES: tuple[str, ...] = (
    "burgers",
    "chicken",
    "breakfast",
    "sides",
    "drinks",
    "hot_drinks",
    "frozen_drinks",
    "desserts",
    "kids_meals",
)


@dataclass(frozen=True)
class Persona:
    """Behavior parameters of one persona; probabilities are per order unless named otherwise."""

    name: str
    share: float
    description: str
    extra_monthly_visits: float
    """Active personas visit 1 + Poisson(this) times a month; lapsing ones use `lapse_*`."""
    weekend_share: float
    dayparts: dict[str, float]
    channels: dict[str, float]
    breakfast_main: float
    """Chance that a breakfast-hours order has a breakfast sandwich (else a drink or snack)."""
    main: float
    """Chance that an order outside breakfast hours has a burger or chicken main."""
    burger_share: float
    main_extra_quantity: float
    """Poisson mean of extra units of the main (families buy for everyone)."""
    side: float
    """Chance of a side with a burger main (less with chicken or without a main)."""
    drink: float
    dessert: float
    kids_meal: float
    price_taste: float
    """Slope of item choice on (standardized log) price: < 0 picks value items, > 0 premium."""
    favorite_loyalty: float
    """Chance of ordering the customer's favorite item of a category instead of a fresh pick."""
    offer_response: float
    offer_affinity: dict[str, float] = field(default_factory=dict)
    preferred_tier: str = ""
    lapse_start_visits: float = 0.0
    """A lapsing customer's visits a month when the lapse starts; they then shrink by
    `lapse_decay` each month. Daypart, channel, weekend share and item taste stay those of
    the customer's habit persona."""
    lapse_decay: float = 1.0


PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="breakfast_commuter",
        share=0.11,
        description="Weekday mornings at the drive-thru: a breakfast sandwich and a coffee.",
        extra_monthly_visits=0.75,
        weekend_share=0.04,
        dayparts={"breakfast": 0.95, "lunch": 0.05},
        channels={"drive_thru": 0.9, "mobile_app": 0.06, "counter": 0.04},
        breakfast_main=0.8,
        main=0.7,
        burger_share=0.5,
        main_extra_quantity=0.0,
        side=0.4,
        drink=0.85,
        dessert=0.02,
        kids_meal=0.0,
        price_taste=0.0,
        favorite_loyalty=0.75,
        offer_response=0.1,
        offer_affinity={"breakfast": 2.5, "hot_drinks": 2.5, "drinks": 0.6},
    ),
    Persona(
        name="family_dinner",
        share=0.09,
        description="Weekend and evening family meals: many items, kids meals, high spend.",
        extra_monthly_visits=0.28,
        weekend_share=0.7,
        dayparts={"dinner": 0.9, "lunch": 0.1},
        channels={"kiosk": 0.45, "drive_thru": 0.3, "counter": 0.2, "delivery": 0.05},
        breakfast_main=0.8,
        main=1.0,
        burger_share=0.6,
        main_extra_quantity=1.0,
        side=0.75,
        drink=0.6,
        dessert=0.2,
        kids_meal=0.9,
        price_taste=0.0,
        favorite_loyalty=0.6,
        offer_response=0.1,
        offer_affinity={"kids_meals": 3.0, "burgers": 1.5, "desserts": 1.5, "hot_drinks": 0.3},
    ),
    Persona(
        name="late_night_snacker",
        share=0.08,
        description="Late-night delivery and drive-thru: burgers, fries, shakes and sweets.",
        extra_monthly_visits=0.45,
        weekend_share=0.5,
        dayparts={"late_night": 0.95, "dinner": 0.05},
        channels={"delivery": 0.7, "drive_thru": 0.27, "mobile_app": 0.03},
        breakfast_main=0.5,
        main=0.9,
        burger_share=0.55,
        main_extra_quantity=0.1,
        side=0.55,
        drink=0.3,
        dessert=0.25,
        kids_meal=0.0,
        price_taste=0.3,
        favorite_loyalty=0.65,
        offer_response=0.1,
        offer_affinity={"frozen_drinks": 2.0, "desserts": 2.0, "sides": 1.5, "breakfast": 0.2},
    ),
    Persona(
        name="value_seeker",
        share=0.1,
        description="Lunch at the kiosk from the value menu; redeems most offers it gets.",
        extra_monthly_visits=0.5,
        weekend_share=0.3,
        dayparts={"lunch": 0.7, "afternoon": 0.3},
        channels={"kiosk": 0.9, "counter": 0.05, "drive_thru": 0.05},
        breakfast_main=0.8,
        main=0.95,
        burger_share=0.5,
        main_extra_quantity=0.05,
        side=0.3,
        drink=0.25,
        dessert=0.05,
        kids_meal=0.0,
        price_taste=-3.0,
        favorite_loyalty=0.6,
        offer_response=0.3,
        offer_affinity={"burgers": 1.5, "chicken": 1.5, "sides": 1.3, "drinks": 1.3},
        preferred_tier="value",
    ),
    Persona(
        name="premium_mobile_regular",
        share=0.1,
        description="Orders ahead in the app: premium burgers, specialty drinks, high margin.",
        extra_monthly_visits=0.7,
        weekend_share=0.25,
        dayparts={"lunch": 0.55, "afternoon": 0.15, "dinner": 0.3},
        channels={"mobile_app": 0.92, "delivery": 0.08},
        breakfast_main=0.8,
        main=0.95,
        burger_share=0.6,
        main_extra_quantity=0.05,
        side=0.55,
        drink=0.6,
        dessert=0.1,
        kids_meal=0.0,
        price_taste=3.0,
        favorite_loyalty=0.7,
        offer_response=0.12,
        offer_affinity={"frozen_drinks": 2.0, "hot_drinks": 1.5, "chicken": 1.3},
        preferred_tier="premium",
    ),
    Persona(
        name="lapsing",
        share=0.52,
        description=(
            "Former regulars who keep their old habits (daypart, channel, favorite items) "
            "but come ever more rarely, buy less and ignore most offers."
        ),
        extra_monthly_visits=0.0,
        weekend_share=0.0,
        dayparts={},
        channels={},
        breakfast_main=0.4,
        main=0.35,
        burger_share=0.5,
        main_extra_quantity=0.0,
        side=0.3,
        drink=0.6,
        dessert=0.2,
        kids_meal=0.0,
        price_taste=0.0,
        favorite_loyalty=0.8,
        offer_response=0.06,
        lapse_start_visits=0.12,
        lapse_decay=0.7,
    ),
)

PERSONA_INDEX: dict[str, int] = {persona.name: index for index, persona in enumerate(PERSONAS)}
LAPSING = PERSONA_INDEX["lapsing"]

DRIFT_SHARE = 0.10

DRIFT_TARGETS: dict[str, dict[str, float]] = {
    "breakfast_commuter": {"premium_mobile_regular": 2, "lapsing": 3, "value_seeker": 1},
    "family_dinner": {"lapsing": 3, "value_seeker": 2, "premium_mobile_regular": 1},
    "late_night_snacker": {"lapsing": 3, "value_seeker": 1, "breakfast_commuter": 1},
    "value_seeker": {"premium_mobile_regular": 2, "lapsing": 2, "family_dinner": 1},
    "premium_mobile_regular": {"lapsing": 3, "value_seeker": 2, "breakfast_commuter": 1},
    "lapsing": {
        "premium_mobile_regular": 2,
        "value_seeker": 2,
        "breakfast_commuter": 1,
        "family_dinner": 1,
        "late_night_snacker": 1,
    },
}
"""Where a drifting customer goes: realistic moves (regulars lapse, lapsed ones are won back)."""


@dataclass(frozen=True)
class PersonaTables:
    """The persona parameters as numpy arrays indexed by persona, for vectorized simulation."""

    share: np.ndarray
    extra_visits: np.ndarray
    weekend_share: np.ndarray
    daypart_probs: np.ndarray
    channel_probs: np.ndarray
    breakfast_main: np.ndarray
    main: np.ndarray
    burger_share: np.ndarray
    main_extra_quantity: np.ndarray
    side: np.ndarray
    drink: np.ndarray
    dessert: np.ndarray
    kids_meal: np.ndarray
    price_taste: np.ndarray
    favorite_loyalty: np.ndarray
    offer_response: np.ndarray
    offer_affinity: np.ndarray
    lapse_start_visits: np.ndarray
    lapse_decay: np.ndarray
    drift_targets: np.ndarray


def _probabilities(weights: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    """A probability vector over `names`; uniform for a persona that borrows its habits."""
    vector = np.array([weights.get(name, 0.0) for name in names], dtype=np.float64)
    return vector / vector.sum() if vector.sum() > 0 else np.full(len(names), 1.0 / len(names))


def persona_tables() -> PersonaTables:
    """Stack the persona parameters so that per-order lookups are plain fancy indexing."""

    def column(attribute: str) -> np.ndarray:
        return np.array([getattr(persona, attribute) for persona in PERSONAS], dtype=np.float64)

    affinity = np.ones((len(PERSONAS), len(CATEGORIES)))
    for row, persona in enumerate(PERSONAS):
        for category, factor in persona.offer_affinity.items():
            affinity[row, CATEGORIES.index(category)] = factor
    drift = np.zeros((len(PERSONAS), len(PERSONAS)))
    for source, targets in DRIFT_TARGETS.items():
        for target, weight in targets.items():
            drift[PERSONA_INDEX[source], PERSONA_INDEX[target]] = weight
    drift /= drift.sum(axis=1, keepdims=True)
    share = column("share")
    return PersonaTables(
        share=share / share.sum(),
        extra_visits=column("extra_monthly_visits"),
        weekend_share=column("weekend_share"),
        daypart_probs=np.stack([_probabilities(p.dayparts, DAYPARTS) for p in PERSONAS]),
        channel_probs=np.stack([_probabilities(p.channels, CHANNELS) for p in PERSONAS]),
        breakfast_main=column("breakfast_main"),
        main=column("main"),
        burger_share=column("burger_share"),
        main_extra_quantity=column("main_extra_quantity"),
        side=column("side"),
        drink=column("drink"),
        dessert=column("dessert"),
        kids_meal=column("kids_meal"),
        price_taste=column("price_taste"),
        favorite_loyalty=column("favorite_loyalty"),
        offer_response=column("offer_response"),
        offer_affinity=affinity,
        lapse_start_visits=column("lapse_start_visits"),
        lapse_decay=column("lapse_decay"),
        drift_targets=drift,
    )


def persona_definitions() -> dict[str, Any]:
    """The persona parameters as JSON-ready dicts, written into the ground truth."""
    return {persona.name: asdict(persona) for persona in PERSONAS}
