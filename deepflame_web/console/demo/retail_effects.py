"""The hidden mechanics of the retail demo's redemptions, drawn from the seed.

Each effect is one the recommender has no dedicated input for, and their strengths are drawn
in ranges so that no single hand-made feature (purchase counts, popularity, the previous
basket) is the answer on every seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepflame_web.console.demo.chain import PRICING_TIERS

EFFECT_RANGES: dict[str, tuple[float, float]] = {
    "follow_boost": (2.0, 4.0),
    "staple_boost": (1.5, 3.0),
    "taste_power": (0.5, 1.0),
    "drift_sigma": (0.2, 0.45),
    "switch_share": (0.05, 0.15),
    "context_sigma": (0.3, 0.6),
    "appeal_sigma": (0.3, 0.6),
    "impulse": (0.15, 0.35),
}
"""Strength of each effect: the boost when an offer's department follows one of the previous
visit's departments, when its items include a staple of the customer, the power of
department taste, the monthly random walk of log-taste, the share of customers whose tastes
switch at one month, the spread of the weekday and store-tier factors per department, the spread
of an offer's hidden appeal, and the chance of redeeming (relative to an item already in the
basket) by adding one of the offer's items to the basket."""


@dataclass(frozen=True)
class RetailEffects:
    follows: np.ndarray
    """[department]: the department whose offers a visit to this department makes attractive
    on the customer's next visit."""
    strengths: dict[str, float]
    weekend_factor: np.ndarray
    """[department, weekend]"""
    tier_factor: np.ndarray
    """[department, pricing tier]"""
    appeal: np.ndarray
    """[offer]: hidden appeal, partly the discount depth the text names."""

    def strength(self, name: str) -> float:
        return self.strengths[name]

    def predecessor_masks(self) -> np.ndarray:
        """[department]: bitmask of the departments that this one follows."""
        masks = np.zeros(len(self.follows), dtype=np.int64)
        np.bitwise_or.at(masks, self.follows, np.int64(1) << np.arange(len(self.follows)))
        return masks


def _derangement(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random map with no department following itself."""
    while True:
        follows = rng.permutation(n)
        if not (follows == np.arange(n)).any():
            return follows


def draw_retail_effects(
    rng: np.random.Generator, departments: int, discount_depth: np.ndarray
) -> RetailEffects:
    strengths = {name: round(float(rng.uniform(*span)), 3) for name, span in EFFECT_RANGES.items()}
    context = strengths["context_sigma"]
    hidden = rng.normal(0.0, strengths["appeal_sigma"], size=len(discount_depth))
    return RetailEffects(
        follows=_derangement(rng, departments),
        strengths=strengths,
        weekend_factor=np.exp(rng.normal(0.0, context, size=(departments, 2))),
        tier_factor=np.exp(rng.normal(0.0, context, size=(departments, len(PRICING_TIERS)))),
        appeal=np.exp(hidden) * np.sqrt(discount_depth / 0.2),
    )


def effects_truth(
    effects: RetailEffects, department_names: list[str], offer_ids: list[str]
) -> dict[str, Any]:
    """The effects as JSON, by name: what a test or an analyst compares a model against."""
    return {
        "ranges": {name: list(span) for name, span in EFFECT_RANGES.items()},
        "strengths": effects.strengths,
        "follows": {
            department_names[a]: department_names[b] for a, b in enumerate(effects.follows)
        },
        "weekend_factor": {
            name: {"weekday": round(float(row[0]), 3), "weekend": round(float(row[1]), 3)}
            for name, row in zip(department_names, effects.weekend_factor, strict=True)
        },
        "tier_factor": {
            name: {tier: round(float(v), 3) for tier, v in zip(PRICING_TIERS, row, strict=True)}
            for name, row in zip(department_names, effects.tier_factor, strict=True)
        },
        "offer_appeal": {
            offer_id: round(float(v), 3)
            for offer_id, v in zip(offer_ids, effects.appeal, strict=True)
        },
    }
