"""Hidden redemption effects of the restaurant demo that the recommender has no input for.

Drawn from the seed: which menu category "follows" which (an offer on the category that
follows one the customer bought on the previous visit is more attractive), how strong that
is, and how fast customers' category tastes drift over the months.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FOLLOW_BOOST_RANGE = (2.0, 4.0)
DRIFT_RATE_RANGE = (0.15, 0.4)
"""Most log-taste a month that a customer's rising category gains (and falling one loses)."""


@dataclass(frozen=True)
class RestaurantEffects:
    follows: np.ndarray
    """[category]: the category whose offers a purchase in this one makes attractive next."""
    follow_boost: float
    drift_rate_max: float

    def predecessor_masks(self) -> np.ndarray:
        """[category]: bitmask of the categories that this one follows."""
        masks = np.zeros(len(self.follows), dtype=np.int64)
        np.bitwise_or.at(masks, self.follows, np.int64(1) << np.arange(len(self.follows)))
        return masks


def draw_restaurant_effects(rng: np.random.Generator, categories: int) -> RestaurantEffects:
    while True:
        follows = rng.permutation(categories)
        if not (follows == np.arange(categories)).any():
            break
    return RestaurantEffects(
        follows=follows,
        follow_boost=round(float(rng.uniform(*FOLLOW_BOOST_RANGE)), 3),
        drift_rate_max=round(float(rng.uniform(*DRIFT_RATE_RANGE)), 3),
    )


def restaurant_effects_truth(
    effects: RestaurantEffects, categories: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "follows": {categories[a]: categories[b] for a, b in enumerate(effects.follows)},
        "follow_boost": effects.follow_boost,
        "follow_boost_range": list(FOLLOW_BOOST_RANGE),
        "drift_rate_max": effects.drift_rate_max,
        "drift_rate_range": list(DRIFT_RATE_RANGE),
    }
