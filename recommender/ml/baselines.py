"""Baselines fitted on the same training examples as TxT, scoring the same offers.

Each returns [example, offer] scores; evaluation masks offers that do not exist at the
example's date. The GRU sequence baseline is `recommender.ml.txt.GRURecommender`, trained by the
same loop as TxT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.ml.evaluation import hit_rate
from recommender.ml.training_data import Examples, Vocabulary

SMOOTHING = 1.0


def _counts(target: np.ndarray, offers: int) -> np.ndarray:
    return np.bincount(target, minlength=offers).astype(np.float64)


@dataclass
class GlobalPopularity:
    """How often each offer was redeemed in training."""

    probability: np.ndarray

    @classmethod
    def fit(cls, train: Examples, offers: int) -> GlobalPopularity:
        counts = _counts(train.target, offers) + SMOOTHING
        return cls(counts / counts.sum())

    def scores(self, examples: Examples) -> np.ndarray:
        return np.tile(np.log(self.probability), (len(examples), 1))


@dataclass
class GroupPopularity:
    """Popularity within a group of examples (a segment, a daypart and tier), backed off to
    the global popularity with `prior` pseudo-redemptions."""

    table: np.ndarray
    global_probability: np.ndarray

    @classmethod
    def fit(
        cls, train: Examples, offers: int, groups: np.ndarray, sizes: int, prior: float = 5.0
    ) -> GroupPopularity:
        global_probability = GlobalPopularity.fit(train, offers).probability
        counts = np.zeros((sizes, offers))
        np.add.at(counts, (groups, train.target), 1.0)
        table = counts + prior * global_probability[None, :]
        return cls(table / table.sum(axis=1, keepdims=True), global_probability)

    def scores_for(self, groups: np.ndarray) -> np.ndarray:
        return np.log(self.table[groups])


class SegmentPopularity:
    """Popularity within the customer's segment (the previous month's; 'none' is a group)."""

    def __init__(self, train: Examples, vocabulary: Vocabulary):
        sizes = len(vocabulary.context["segment"])
        self.model = GroupPopularity.fit(
            train, len(vocabulary.offers), train.context_column("segment"), sizes
        )

    def scores(self, examples: Examples) -> np.ndarray:
        return self.model.scores_for(examples.context_column("segment"))


class ContextualItemCF:
    """Contextual item-CF: popularity conditioned on daypart and pricing tier, times the lift
    of each offer given the items and offers in the customer's history (co-occurrence of a
    history token with the offer redeemed next, over training). The weight of the history part
    is chosen on the validation slice."""

    WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)

    def __init__(self, train: Examples, vocabulary: Vocabulary):
        self.offers = len(vocabulary.offers)
        self.tiers = len(vocabulary.context["tier"])
        self.context = GroupPopularity.fit(
            train, self.offers, self._group(train), len(vocabulary.context["daypart"]) * self.tiers
        )
        tokens = vocabulary.offer_offset + self.offers
        together = np.zeros((tokens, self.offers))
        rows, columns = np.nonzero(train.history)
        np.add.at(together, (train.history[rows, columns], train.target[rows]), 1.0)
        together[0] = 0.0
        base = self.context.global_probability
        conditional = (together + 5.0 * base[None, :]) / (together.sum(1, keepdims=True) + 5.0)
        self.log_lift = np.log(conditional / base[None, :])
        self.weight = 0.5

    def _group(self, examples: Examples) -> np.ndarray:
        return examples.context_column("daypart") * self.tiers + examples.context_column("tier")

    def history_lift(self, examples: Examples) -> np.ndarray:
        present = (examples.history > 0).astype(np.float64)
        lift = self.log_lift[examples.history] * present[:, :, None]
        return lift.sum(axis=1) / np.maximum(present.sum(axis=1), 1.0)[:, None]

    def choose_weight(self, validation: Examples) -> float:
        if not len(validation):
            return self.weight
        masked = np.where(validation.valid, 0.0, -np.inf)
        base, lift = self.context.scores_for(self._group(validation)), self.history_lift(validation)
        self.weight = max(
            self.WEIGHTS,
            key=lambda w: (hit_rate(base + w * lift + masked, validation.target, k=3), -w),
        )
        return self.weight

    def scores(self, examples: Examples) -> np.ndarray:
        base = self.context.scores_for(self._group(examples))
        return base + self.weight * self.history_lift(examples)
