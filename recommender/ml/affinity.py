"""The customer's long-horizon purchases against each offer: the inputs TxT's scoring head
weighs beside the sequence and the context, and the purchase-affinity baselines' score.

For every measure of PURCHASE_MEASURES (plain count, decayed with each half-life) two
features per offer: how much the customer bought of the offer's own items, and of items in
the offer's category. Both come from the offer's item list and category in the catalog, so a
new offer has them as soon as it is listed; nothing here is learned per offer or customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from recommender.ml.spark_examples import PURCHASE_HALF_LIVES

PURCHASE_MEASURES = ("purchases", *(f"decay_{days}" for days in PURCHASE_HALF_LIVES))
"""How the long-horizon purchases are counted: plainly, then decayed by each half-life."""


@dataclass
class Purchases:
    """What each example's customer bought before it, over their whole history: one sparse
    [example, item] matrix per measure of PURCHASE_MEASURES, columns in `items` order."""

    items: list[str]
    matrices: dict[str, sparse.csr_matrix]

    def take(self, rows: np.ndarray) -> Purchases:
        return Purchases(self.items, {m: x[rows] for m, x in self.matrices.items()})

    def concat(self, other: Purchases) -> Purchases:
        return Purchases(
            self.items,
            {m: sparse.vstack([x, other.matrices[m]]).tocsr() for m, x in self.matrices.items()},
        )

    @classmethod
    def empty(cls, examples: int) -> Purchases:
        return cls([], {m: sparse.csr_matrix((examples, 0)) for m in PURCHASE_MEASURES})


AFFINITY_KINDS = ("items", "category")
AFFINITY_FEATURES = len(AFFINITY_KINDS) * len(PURCHASE_MEASURES)
"""Feature f is kind f // len(PURCHASE_MEASURES), measure f % len(PURCHASE_MEASURES)."""


@dataclass(frozen=True)
class OfferIncidence:
    """[item, offer] 0/1 matrices over `items`: the offer applies to the item; the item is in
    the offer's category."""

    items: list[str]
    by_item: sparse.csr_matrix
    by_category: sparse.csr_matrix

    @property
    def offers(self) -> int:
        return int(self.by_item.shape[1])


def _incidence(pairs: list[tuple[int, int]], shape: tuple[int, int]) -> sparse.csr_matrix:
    rows = [r for r, _ in pairs]
    columns = [c for _, c in pairs]
    return sparse.csr_matrix((np.ones(len(pairs), np.float32), (rows, columns)), shape=shape)


def incidence_build(
    *,
    items: list[str],
    offer_items: list[list[str]],
    offer_categories: list[str],
    item_categories: dict[str, str],
) -> OfferIncidence:
    """The incidence of `items` (in that order) with offers (in `offer_items` order); an
    offer without a category has no category feature."""
    position = {item: i for i, item in enumerate(items)}
    shape = (len(items), len(offer_items))
    on_item = [
        (position[item], offer)
        for offer, listed in enumerate(offer_items)
        for item in set(listed) & position.keys()
    ]
    members: dict[str, list[int]] = {}
    for item, i in position.items():
        members.setdefault(item_categories.get(item) or "", []).append(i)
    in_category = [
        (i, offer)
        for offer, category in enumerate(offer_categories)
        if category
        for i in members.get(category, [])
    ]
    return OfferIncidence(items, _incidence(on_item, shape), _incidence(in_category, shape))


def affinity_of(purchases: Purchases, incidence: OfferIncidence, measure: str) -> np.ndarray:
    """[example, offer]: the customer's `measure` of purchases of each offer's items."""
    aligned = _aligned(purchases, incidence)
    return np.asarray((aligned.matrices[measure] @ incidence.by_item).todense(), np.float64)


def affinity_features(purchases: Purchases, incidence: OfferIncidence) -> np.ndarray:
    """[example, offer, AFFINITY_FEATURES] float32: log(1 + purchases) of the offer's items
    and of its category, per measure."""
    aligned = _aligned(purchases, incidence)
    rows = next(iter(aligned.matrices.values())).shape[0]
    features = np.zeros((rows, incidence.offers, AFFINITY_FEATURES), np.float32)
    for k, matrix in enumerate((incidence.by_item, incidence.by_category)):
        for m, measure in enumerate(PURCHASE_MEASURES):
            bought = (aligned.matrices[measure] @ matrix).toarray()
            features[:, :, k * len(PURCHASE_MEASURES) + m] = np.log1p(np.maximum(bought, 0.0))
    return features


def _aligned(purchases: Purchases, incidence: OfferIncidence) -> Purchases:
    """`purchases` with its columns in the incidence's item order (items it does not know
    dropped, items it never bought zero)."""
    if purchases.items == incidence.items:
        return purchases
    position = {item: i for i, item in enumerate(incidence.items)}
    rows, columns = [], []
    for j, item in enumerate(purchases.items):
        if item in position:
            rows.append(j)
            columns.append(position[item])
    mapping = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, columns)), shape=(len(purchases.items), len(incidence.items))
    )
    return Purchases(
        incidence.items, {m: (x @ mapping).tocsr() for m, x in purchases.matrices.items()}
    )
