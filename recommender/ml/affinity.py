"""The count inputs TxT's scoring head weighs beside the sequence and the context: the
customer's long-horizon purchases against each offer (also the purchase-affinity baselines'
score), and each offer's popularity overall and in the customer's segment.

For every measure of PURCHASE_MEASURES (plain count, decayed with each half-life) features
per offer (AFFINITY_KINDS): how much the customer bought of the offer's own items, and of
items in the offer's category. Both come from the offer's item list and category in the
catalog, so a new offer has them as soon as it is listed; nothing here is learned per offer
or customer. Popularities are counted on the weeks a model is fitted on; a new offer counts
as never redeemed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


AFFINITY_KINDS = ("items", "items, any", "category")
"""log(1 + purchases) of the offer's items; log(1 + 100 x purchases) of them, which sets any
purchase far apart from none (what the purchase-affinity baseline ranks by first); log(1 +
purchases) of the offer's category."""
AFFINITY_FEATURES = len(AFFINITY_KINDS) * len(PURCHASE_MEASURES)
"""Feature f is kind f // len(PURCHASE_MEASURES), measure f % len(PURCHASE_MEASURES)."""
_KIND_SCALES = {"items": 1.0, "items, any": 100.0, "category": 1.0}


@dataclass(frozen=True)
class OfferIncidence:
    """Over `items`: which items each offer applies to ([item, offer] 0/1), which category
    each item is in ([item, category] 0/1, the categories offers have) and each offer's
    category (its column there; -1: none)."""

    items: list[str]
    by_item: sparse.csr_matrix
    item_category: sparse.csr_matrix
    offer_category: np.ndarray

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
    on_item = [
        (position[item], offer)
        for offer, listed in enumerate(offer_items)
        for item in set(listed) & position.keys()
    ]
    categories = sorted({category for category in offer_categories if category})
    column = {category: c for c, category in enumerate(categories)}
    in_category = [
        (i, column[category])
        for item, i in position.items()
        if (category := item_categories.get(item) or "") in column
    ]
    return OfferIncidence(
        items,
        _incidence(on_item, (len(items), len(offer_items))),
        _incidence(in_category, (len(items), len(categories))),
        np.array([column.get(category, -1) for category in offer_categories], np.int64),
    )


def affinity_of(purchases: Purchases, incidence: OfferIncidence, measure: str) -> np.ndarray:
    """[example, offer]: the customer's `measure` of purchases of each offer's items."""
    aligned = _aligned(purchases, incidence)
    return np.asarray((aligned.matrices[measure] @ incidence.by_item).todense(), np.float64)


def affinity_features(purchases: Purchases, incidence: OfferIncidence) -> np.ndarray:
    """[example, offer, AFFINITY_FEATURES] float32: each of AFFINITY_KINDS per measure."""
    aligned = _aligned(purchases, incidence)
    rows = next(iter(aligned.matrices.values())).shape[0]
    measures = len(PURCHASE_MEASURES)
    # Every measure in one matrix (measure-major rows): one product per kind, not one per
    # kind and measure (a real-time request's fifteen products were most of its scoring).
    stacked = sparse.vstack([aligned.matrices[m] for m in PURCHASE_MEASURES], format="csr")
    features = np.zeros((rows, incidence.offers, AFFINITY_FEATURES), np.float32)
    on_items = (stacked @ incidence.by_item).tocsr()  # both item kinds read this product
    for k, kind in enumerate(AFFINITY_KINDS):
        scale = _KIND_SCALES[kind]
        if kind == "category":
            # Per category, then each offer reads its category's column: far fewer products
            # than offers x rows (a zero column last, for offers without a category: -1).
            per_category = np.maximum((stacked @ incidence.item_category).toarray(), 0.0)
            padded = np.hstack([np.log1p(scale * per_category), np.zeros((len(per_category), 1))])
            scaled = padded[:, incidence.offer_category]
        else:
            product = on_items.copy()
            # log1p(0) is 0: only what was bought needs the arithmetic.
            product.data = np.log1p(scale * np.maximum(product.data, 0.0))
            scaled = product.toarray()
        shaped = scaled.reshape(measures, rows, incidence.offers)
        features[:, :, k * measures : (k + 1) * measures] = np.moveaxis(shaped, 0, -1)
    return features


def distinct_items_bought(purchases: Purchases, incidence: OfferIncidence) -> np.ndarray:
    """[example, offer]: how many different items of each offer the customer ever bought."""
    aligned = _aligned(purchases, incidence)
    ever = (aligned.matrices[PURCHASE_MEASURES[0]] > 0).astype(np.float32)
    return np.asarray((ever @ incidence.by_item).todense(), np.float32)


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


POPULARITY_FEATURES = 2
"""log popularity of each offer overall and in the customer's segment."""
COUNT_FEATURES = AFFINITY_FEATURES + POPULARITY_FEATURES
"""What TxT's scoring head reads per (example, offer): the purchase affinities, then the
popularities."""
SEGMENT_PRIOR = 5.0
"""Pseudo-redemptions that back a segment's popularity off to the overall one."""
EXPOSURE_PRIOR_DAYS = 7.0
"""Days at the average offer's daily redemption rate that back each offer's own rate: an offer
just listed reads as an average one, an offer listed for months and never redeemed as a poor
one. Counting redemptions alone makes every new offer look like the poor one."""


LIFECYCLE_FEATURES = 5
"""Where each offer stands in its life on the example's day, read after the count inputs by
the count ranker (recommender.ml.txt.CountRanker): months since it was listed and months
left (each capped at LIFECYCLE_HORIZON_DAYS), the log of each in days, and the log of how
many items it applies to. A date the catalog leaves open reads as the horizon."""
LIFECYCLE_HORIZON_DAYS = 400


def offer_lifecycle(
    *, day: np.ndarray, start: np.ndarray, end: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """[example, offer, LIFECYCLE_FEATURES] float32 for examples on `day` (datetime64[D])
    and offers valid `start`..`end` (datetime64[D]) that apply to `sizes` items."""
    day = np.asarray(day, "datetime64[D]")[:, None]
    horizon = float(LIFECYCLE_HORIZON_DAYS)
    age = np.clip((day - start[None, :]).astype(np.float64), 0.0, horizon)
    left = np.clip((end[None, :] - day).astype(np.float64), 0.0, horizon)
    size = np.broadcast_to(np.log1p(np.asarray(sizes, np.float64))[None, :], age.shape)
    return np.stack([age / 30.0, left / 30.0, np.log1p(age), np.log1p(left), size], axis=-1).astype(
        np.float32
    )


@dataclass(frozen=True)
class LifecycleCounts:
    """Where each offer (valid `start`..`end`, datetime64[D], applying to `sizes` items)
    stands in its life on each example's `day`."""

    day: np.ndarray
    start: np.ndarray
    end: np.ndarray
    sizes: np.ndarray

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows), offer, LIFECYCLE_FEATURES] float32."""
        return offer_lifecycle(day=self.day[rows], start=self.start, end=self.end, sizes=self.sizes)

    def take(self, rows: np.ndarray) -> LifecycleCounts:
        return replace(self, day=self.day[rows])

    def concat(self, other: LifecycleCounts) -> LifecycleCounts:
        return replace(self, day=np.concatenate([self.day, other.day]))


def exposure_days(
    *, start: np.ndarray, end: np.ndarray, first: np.datetime64, days: np.ndarray
) -> np.ndarray:
    """[day, offer]: the days each offer (valid `start`..`end`, datetime64[D]) had been
    listed from `first` up to, not including, each of `days`."""
    listed = np.maximum(start[None, :], first)
    until = np.minimum(end[None, :] + np.timedelta64(1, "D"), days[:, None])
    return np.maximum((until - listed).astype(np.int64), 0).astype(np.float64)


def popularity_features(
    overall: np.ndarray, in_segment: np.ndarray, exposure: np.ndarray
) -> np.ndarray:
    """log P(offer) overall and in the segment (backed off to overall), from [example, offer]
    redemption counts and days listed: overall is each offer's daily redemption rate, backed
    off to the average offer's (EXPOSURE_PRIOR_DAYS), as a share of all offers' rates."""
    average = (overall.sum(1, keepdims=True) + 1.0) / (exposure.sum(1, keepdims=True) + 1.0)
    rate = (overall + EXPOSURE_PRIOR_DAYS * average) / (exposure + EXPOSURE_PRIOR_DAYS)
    probability = rate / rate.sum(1, keepdims=True)
    mixed = (in_segment + SEGMENT_PRIOR * probability) / (
        in_segment.sum(1, keepdims=True) + SEGMENT_PRIOR
    )
    return np.stack([np.log(probability), np.log(mixed)], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class PopularityCounts:
    """Each example's popularity inputs as the counts stood for it: `state` picks a row of
    the count tables (the redemptions of the days before a training example's own, or the
    fitted weeks' for a holdout example) and `segment` the example's segment row."""

    overall: np.ndarray
    """[state, offer] redemptions."""
    by_segment: np.ndarray
    """[state, segment, offer] redemptions."""
    exposure: np.ndarray
    """[state, offer] days listed."""
    state: np.ndarray
    segment: np.ndarray

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows), offer, POPULARITY_FEATURES] float32."""
        state = self.state[rows]
        return popularity_features(
            self.overall[state], self.by_segment[state, self.segment[rows]], self.exposure[state]
        )

    def take(self, rows: np.ndarray) -> PopularityCounts:
        return replace(self, state=self.state[rows], segment=self.segment[rows])

    def concat(self, other: PopularityCounts) -> PopularityCounts:
        if other.overall is self.overall:
            return replace(
                self,
                state=np.concatenate([self.state, other.state]),
                segment=np.concatenate([self.segment, other.segment]),
            )
        return PopularityCounts(
            overall=np.concatenate([self.overall, other.overall]),
            by_segment=np.concatenate([self.by_segment, other.by_segment]),
            exposure=np.concatenate([self.exposure, other.exposure]),
            state=np.concatenate([self.state, other.state + len(self.overall)]),
            segment=np.concatenate([self.segment, other.segment]),
        )


@dataclass(frozen=True)
class Popularity:
    """Redemptions per offer in the weeks a model is fitted on, overall and per segment
    (rows by segment code), and the days each offer was listed in those weeks. An offer it
    never counted reads as just listed."""

    offers: list[str]
    overall: np.ndarray
    by_segment: np.ndarray
    exposure: np.ndarray

    @classmethod
    def count(
        cls,
        *,
        offers: list[str],
        target: np.ndarray,
        segment: np.ndarray,
        segments: int,
        exposure: np.ndarray,
    ) -> Popularity:
        overall = np.bincount(target, minlength=len(offers)).astype(np.float64)
        by_segment = np.zeros((segments, len(offers)))
        np.add.at(by_segment, (segment, target), 1.0)
        return cls(list(offers), overall, by_segment, np.asarray(exposure, np.float64))

    def counts(self, segment: np.ndarray) -> PopularityCounts:
        """The popularity inputs of examples in `segment` (codes), as the counts stand (what
        an example after the counted weeks reads)."""
        return PopularityCounts(
            overall=self.overall[None, :],
            by_segment=self.by_segment[None, :, :],
            exposure=self.exposure[None, :],
            state=np.zeros(len(segment), np.int64),
            segment=np.asarray(segment),
        )

    def features(self, segment: np.ndarray) -> np.ndarray:
        """[example, offer, POPULARITY_FEATURES] float32 of `counts(segment)`."""
        return self.counts(segment).rows(np.arange(len(segment)))

    @staticmethod
    def counts_before(
        *,
        offers: int,
        target: np.ndarray,
        segment: np.ndarray,
        day: np.ndarray,
        segments: int,
        listed: tuple[np.ndarray, np.ndarray],
    ) -> PopularityCounts:
        """The popularity inputs of the examples that are counted, each from the redemptions
        of the days before its own and the days each offer had been listed (`listed`: valid
        from, to) by then: what the counts were when it happened. Counting the whole fitted
        period instead would tell a model in training that an offer never redeemed in it is
        never redeemed, while at serving time that is every new offer."""
        days, day_index = np.unique(day, return_inverse=True)
        per_day = np.zeros((len(days), segments, offers))
        np.add.at(per_day, (day_index, segment, target), 1.0)
        before = np.cumsum(per_day, axis=0) - per_day  # [day, segment, offer], days before
        return PopularityCounts(
            overall=before.sum(axis=1),
            by_segment=before,
            exposure=exposure_days(start=listed[0], end=listed[1], first=days[0], days=days),
            state=day_index.astype(np.int64),
            segment=np.asarray(segment),
        )

    def for_offers(self, offers: list[str]) -> Popularity:
        """The same counts over another catalog, by offer id (a new offer: none)."""
        position = {offer_id: j for j, offer_id in enumerate(self.offers)}
        columns = np.array([position.get(offer_id, -1) for offer_id in offers], np.int64)
        known = columns >= 0
        overall = np.zeros(len(offers))
        overall[known] = self.overall[columns[known]]
        by_segment = np.zeros((self.by_segment.shape[0], len(offers)))
        by_segment[:, known] = self.by_segment[:, columns[known]]
        exposure = np.zeros(len(offers))
        exposure[known] = self.exposure[columns[known]]
        return Popularity(list(offers), overall, by_segment, exposure)

    def as_dict(self) -> dict[str, object]:
        return {
            "offers": self.offers,
            "overall": self.overall.tolist(),
            "by_segment": self.by_segment.tolist(),
            "exposure": self.exposure.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Popularity:
        offers = list(data["offers"])
        overall = np.asarray(data["overall"], np.float64)
        exposure = (
            np.asarray(data["exposure"], np.float64)
            if "exposure" in data
            else _exposure_of_count_only_files(overall)
        )
        return cls(
            offers,
            overall,
            np.asarray(data["by_segment"], np.float64).reshape(-1, len(offers)),
            exposure,
        )


def _exposure_of_count_only_files(overall: np.ndarray) -> np.ndarray:
    """Days listed for a model saved before they were counted, which was trained on add-one
    smoothed shares of the counts: every offer listed the same days, so many that the rate's
    prior adds about one redemption to each offer, as that smoothing did."""
    offers = max(len(overall), 1)
    return np.full(len(overall), EXPOSURE_PRIOR_DAYS * max(float(overall.sum()), 1.0) / offers)
