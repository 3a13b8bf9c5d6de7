"""The simple baselines every quality table carries, and the paired interval each method's
difference to the best of them comes with. Fixed numbers, no lake, no model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.ml.baselines import AffinityThenPopularity, GlobalPopularity, PurchaseAffinity
from recommender.ml.evaluation import (
    DIFFERENCE_KEYS,
    MethodResult,
    differences_add,
    hit_rate_difference,
    metrics_table,
)
from recommender.ml.training_data import Examples, purchases_encode

OFFERS = [["fries"], ["cola", "fries"], ["shake"], ["salad"], ["cola"], ["fries", "salad"]]
"""Offer j applies to these items."""


def _examples(rows: list[dict[str, float | tuple[float, float]]], target: list[int]) -> Examples:
    """One example per row of {item: purchases} or {item: (purchases, decay_14)}; every offer
    valid; the other decays equal the plain counts."""
    n = len(rows)
    records = []
    for i, row in enumerate(rows):
        for item, value in row.items():
            count, recent = value if isinstance(value, tuple) else (value, value)
            records.append(
                {
                    "example": i,
                    "item": item,
                    "purchases": count,
                    "decay_14": recent,
                    "decay_60": count,
                    "decay_180": count,
                    "decay_365": count,
                }
            )
    frame = pd.DataFrame(records)
    return Examples(
        customer_id=np.array([f"C{i}" for i in range(n)]),
        at=np.zeros(n, "datetime64[us]"),
        history=np.zeros((n, 1), np.int64),
        history_at=np.zeros((n, 1), "datetime64[us]"),
        context=np.zeros((n, 7), np.int64),
        target=np.array(target),
        valid=np.ones((n, len(OFFERS)), bool),
        purchases=purchases_encode(frame, n),
    )


def test_affinity_sums_the_customers_purchases_of_each_offers_items() -> None:
    examples = _examples([{"fries": 2, "cola": 1}, {"shake": 5}, {}], [1, 2, 0])

    scores = PurchaseAffinity(OFFERS).scores(examples)

    assert scores.tolist() == [[2, 3, 0, 0, 1, 2], [0, 0, 5, 0, 0, 0], [0] * 6]


def test_affinity_chooses_the_measure_that_ranks_best_on_validation() -> None:
    # Counted plainly, the shake (offer 2) ranks fifth, out of the top 3; decayed with the
    # short half-life it comes first, and the shake is what these customers redeem.
    bought: dict[str, float | tuple[float, float]] = {
        "fries": (5.0, 0.1),
        "cola": (5.0, 0.1),
        "shake": (1.0, 1.0),
    }
    validation = _examples([bought] * 3, [2, 2, 2])
    affinity = PurchaseAffinity(OFFERS)

    chosen = affinity.choose_measure(validation)

    assert chosen == "decay_14"
    assert affinity.scores(validation)[0].argmax() == 2


def test_affinity_counts_different_items_bought_when_that_ranks_best() -> None:
    # Counted plainly, nine shakes put the shake (offer 2) first; these customers redeem the
    # cola-and-fries offer (1), whose two different items they each bought once: counted as
    # different items bought it comes first, and validation picks that count (by NDCG@10).
    validation = _examples([{"cola": 1.0, "fries": 1.0, "shake": 9.0}] * 3, [1, 1, 1])
    affinity = PurchaseAffinity(OFFERS)

    chosen = affinity.choose_measure(validation)

    assert chosen == "distinct items"
    assert affinity.scores(validation)[0].tolist() == [1, 2, 1, 0, 1, 1]


def test_popularity_breaks_only_the_ties_of_affinity() -> None:
    examples = _examples([{"fries": 1}, {}], [0, 3])
    redeemed = [3, 3, 3, 3, 1, 1, 1, 2, 2, 5]  # popularity: 3, 1, 2, 5, then 0 and 4
    popularity = GlobalPopularity.fit(_examples([{}] * len(redeemed), redeemed), len(OFFERS))

    scores = AffinityThenPopularity(PurchaseAffinity(OFFERS), popularity).scores(examples)

    # Customer 0 bought fries once: offers 0, 1 and 5 tie on affinity and popularity orders
    # them; all three stay above every offer without affinity, however popular.
    assert list(np.argsort(-scores[0], kind="stable"))[:3] == [1, 5, 0]
    # Customer 1 bought nothing: popularity alone.
    assert list(np.argsort(-scores[1], kind="stable"))[:4] == [3, 1, 2, 5]


def test_a_paired_difference_is_exact_and_its_interval_holds_it() -> None:
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 10, size=400)
    better = np.where(rng.random(400) < 0.2, 0, reference)

    difference = hit_rate_difference(better, reference, k=3)

    assert difference.value == pytest.approx(np.mean(better < 3) - np.mean(reference < 3))
    assert 0 < difference.low <= difference.value <= difference.high
    assert hit_rate_difference(better, reference, k=3) == difference


def test_identical_methods_differ_by_exactly_nothing() -> None:
    ranks = np.array([0, 5, 2, 9, 1])

    difference = hit_rate_difference(ranks, ranks)

    assert (difference.value, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_a_noisy_small_win_has_an_interval_that_crosses_zero() -> None:
    reference = np.array([0, 5] * 20)
    noisy = reference.copy()
    noisy[[1, 2]] = [0, 5]  # one example won, one lost, one net: zero

    difference = hit_rate_difference(noisy, reference)

    assert difference.value == 0.0
    assert difference.low < 0 < difference.high


def test_the_table_gives_each_method_its_difference_to_the_best_baseline() -> None:
    best = MethodResult(
        "Purchase affinity", {"HR@1": 0, "HR@3": 0.5, "HR@10": 1, "NDCG@10": 0.5}, 4
    )
    best.ranks = np.array([0, 1, 5, 6])
    txt = MethodResult("TxT", {"HR@1": 0, "HR@3": 0.25, "HR@10": 1, "NDCG@10": 0.4}, 4)
    txt.ranks = np.array([0, 4, 5, 6])
    results = [txt, best]

    differences_add(results)

    assert txt.metrics["HR@3 diff"] == -0.25
    assert best.metrics["HR@3 diff"] == 0.0
    assert set(DIFFERENCE_KEYS) <= txt.metrics.keys()
    table = metrics_table(results)
    assert "best baseline: Purchase affinity" in table
    assert "-0.250 [" in table.splitlines()[3]
