"""Baselines fitted on the same training examples as TxT, scoring the same offers.

Each returns [example, offer] scores; evaluation masks offers that do not exist at the
example's date. The GRU sequence baseline is `recommender.ml.txt.GRURecommender`, trained by the
same loop as TxT.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from recommender.ml.affinity import (
    PURCHASE_MEASURES,
    OfferIncidence,
    affinity_of,
    distinct_items_bought,
    incidence_build,
)
from recommender.ml.evaluation import hit_rate, ndcg
from recommender.ml.training_data import Examples, Vocabulary

SMOOTHING = 1.0


def offer_columns(known: list[str], offers: list[str]) -> np.ndarray:
    """For each of `offers`, its position in `known` (the offers a baseline was fitted on),
    -1 for an offer it never saw: how a fitted baseline scores another catalog."""
    position = {offer_id: j for j, offer_id in enumerate(known)}
    return np.array([position.get(offer_id, -1) for offer_id in offers], np.int64)


def _remapped(table: np.ndarray, columns: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """`table`'s last axis in `columns` order; -1 columns take `unseen` (broadcast)."""
    remapped = np.take(table, np.maximum(columns, 0), axis=-1)
    return np.where(columns >= 0, remapped, unseen)


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

    def for_offers(self, columns: np.ndarray, offer_items: list[list[str]]) -> GlobalPopularity:
        """The same popularity over another catalog (`offer_columns`); an offer never
        redeemed in training is as popular as the least popular one."""
        return GlobalPopularity(_remapped(self.probability, columns, self.probability.min()))


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

    def for_offers(self, columns: np.ndarray) -> GroupPopularity:
        return GroupPopularity(
            _remapped(self.table, columns, self.table.min(axis=1, keepdims=True)),
            _remapped(self.global_probability, columns, self.global_probability.min()),
        )


class SegmentPopularity:
    """Popularity within the customer's segment (the previous month's; 'none' is a group)."""

    def __init__(self, train: Examples, vocabulary: Vocabulary):
        sizes = len(vocabulary.context["segment"])
        self.model = GroupPopularity.fit(
            train, len(vocabulary.offers), train.context_column("segment"), sizes
        )

    def scores(self, examples: Examples) -> np.ndarray:
        return self.model.scores_for(examples.context_column("segment"))

    def for_offers(self, columns: np.ndarray, offer_items: list[list[str]]) -> SegmentPopularity:
        rebound = copy.copy(self)
        rebound.model = self.model.for_offers(columns)
        return rebound


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

    def for_offers(self, columns: np.ndarray, offer_items: list[list[str]]) -> ContextualItemCF:
        """Over another catalog: an offer it never saw redeemed gets no lift."""
        rebound = copy.copy(self)
        rebound.offers = len(columns)
        rebound.context = self.context.for_offers(columns)
        rebound.log_lift = _remapped(self.log_lift, columns, np.zeros(1))
        return rebound


def _masked(scores: np.ndarray, examples: Examples) -> np.ndarray:
    return np.where(examples.valid, scores, -np.inf)


DISTINCT_ITEMS = "distinct items"
AFFINITY_MEASURES = (*PURCHASE_MEASURES, DISTINCT_ITEMS)
"""How the purchase-affinity baseline may count: purchases of the offer's items plainly or
decayed, or how many different items of the offer the customer ever bought."""


class PurchaseAffinity:
    """The customer's own purchase affinity, the first thing a data scientist tries: how much
    of the offer's items the customer bought before the example over their whole history,
    plainly, decayed with a half-life or as different items bought, whichever ranks best on
    the validation weeks by NDCG@10 (HR@3 alone, on a few hundred examples, picks by noise).
    Offers score from their items, so a new offer scores as well as an old one."""

    def __init__(self, offer_items: list[list[str]]):
        self.offer_items = offer_items
        self.measure = PURCHASE_MEASURES[0]
        self.incidence: OfferIncidence | None = None

    def _incidence_over(self, items: list[str]) -> OfferIncidence:
        """The offers' items against `items`, built once while the items stay the same (a
        serving engine asks with the same items on every request)."""
        if self.incidence is None or self.incidence.items != items:
            self.incidence = incidence_build(
                items=items,
                offer_items=self.offer_items,
                offer_categories=[""] * len(self.offer_items),
                item_categories={},
            )
        return self.incidence

    def affinity(self, examples: Examples, measure: str) -> np.ndarray:
        """[example, offer]: the customer's `measure` of purchases of the offer's items."""
        purchases = examples.purchases
        if purchases is None or not purchases.items:
            return np.zeros((len(examples), len(self.offer_items)))
        incidence = self._incidence_over(purchases.items)
        if measure == DISTINCT_ITEMS:
            return distinct_items_bought(purchases, incidence).astype(np.float64)
        return affinity_of(purchases, incidence, measure)

    def choose_measure(self, validation: Examples) -> str:
        if len(validation):
            ranked = {
                m: _masked(self.affinity(validation, m), validation) for m in AFFINITY_MEASURES
            }
            self.measure = max(
                AFFINITY_MEASURES,
                key=lambda m: (
                    ndcg(ranked[m], validation.target, k=10),
                    -AFFINITY_MEASURES.index(m),
                ),
            )
        return self.measure

    def scores(self, examples: Examples) -> np.ndarray:
        return self.affinity(examples, self.measure)

    def for_offers(self, columns: np.ndarray, offer_items: list[list[str]]) -> PurchaseAffinity:
        """Over another catalog: every offer scores from its own items, new ones too."""
        rebound = PurchaseAffinity(offer_items)
        rebound.measure = self.measure
        return rebound


class AffinityThenPopularity:
    """Purchase affinity first; among offers the customer's purchases do not tell apart
    (most often: none of their items bought), the more popular offer first."""

    RESOLUTION = 1e-6
    """Affinities closer than this count as a tie, which popularity then breaks."""

    def __init__(self, affinity: PurchaseAffinity, popularity: GlobalPopularity):
        self.affinity = affinity
        self.popularity = popularity
        order = np.argsort(np.argsort(popularity.probability, kind="stable"), kind="stable")
        # Popularity ranks squeezed below the resolution, so they never reorder affinities.
        self.tie_break = order / len(order) * self.RESOLUTION / 2

    def scores(self, examples: Examples) -> np.ndarray:
        grid = np.round(self.affinity.scores(examples) / self.RESOLUTION) * self.RESOLUTION
        return grid + self.tie_break[None, :]

    def for_offers(
        self, columns: np.ndarray, offer_items: list[list[str]]
    ) -> AffinityThenPopularity:
        return AffinityThenPopularity(
            self.affinity.for_offers(columns, offer_items),
            self.popularity.for_offers(columns, offer_items),
        )
