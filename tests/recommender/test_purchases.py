"""The long-horizon purchase inputs: what TxT's scoring head and the affinity baselines read,
at training (per example) and at serving (per customer, decayed to the request's time).
Fixed numbers, no lake."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from recommender.assignment.engine import Situation, situation_purchases
from recommender.assignment.serving import purchases_at
from recommender.ml.affinity import (
    AFFINITY_FEATURES,
    AFFINITY_KINDS,
    PURCHASE_MEASURES,
    Purchases,
    affinity_features,
    incidence_build,
)
from recommender.ml.training_data import purchases_encode

AT = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
ITEMS = ["cola", "fries", "muffin", "shake"]
CATEGORIES = {"cola": "drinks", "shake": "drinks", "fries": "sides", "muffin": "breakfast"}
# offer 0: fries; offer 1: cola or shake; offer 2: a new breakfast offer on an item nobody
# bought yet; offer 3: no items, category drinks; offer 4: fries, no category.
INCIDENCE = incidence_build(
    items=ITEMS,
    offer_items=[["fries"], ["cola", "shake"], ["bagel"], [], ["fries"]],
    offer_categories=["sides", "drinks", "breakfast", "drinks", ""],
    item_categories=CATEGORIES,
)


def _purchases(rows: list[dict[str, float]]) -> Purchases:
    """One example per row of {item: count}; every decayed measure equals half the count."""
    records = [
        {
            "example": i,
            "item": item,
            **{m: (count if m == "purchases" else count / 2) for m in PURCHASE_MEASURES},
        }
        for i, row in enumerate(rows)
        for item, count in row.items()
    ]
    return purchases_encode(pd.DataFrame(records), len(rows))


def test_each_offer_reads_purchases_of_its_items_and_of_its_category() -> None:
    features = affinity_features(_purchases([{"cola": 3, "shake": 1, "fries": 2}]), INCIDENCE)

    assert features.shape == (1, 5, AFFINITY_FEATURES)
    plain, any_, category = (
        AFFINITY_KINDS.index(k) * len(PURCHASE_MEASURES) for k in AFFINITY_KINDS
    )
    assert features[0, :, plain] == pytest.approx(np.log1p([2, 4, 0, 0, 2]))
    assert features[0, :, any_] == pytest.approx(np.log1p([200, 400, 0, 0, 200]))
    assert features[0, :, category] == pytest.approx(np.log1p([2, 4, 0, 4, 0]))
    assert features[0, 1, plain + 1] == pytest.approx(math.log1p(2.0))  # decayed: half


def test_a_new_offer_reads_purchases_as_soon_as_it_is_listed() -> None:
    bought = _purchases([{"muffin": 5}])

    features = affinity_features(bought, INCIDENCE)

    # Nothing of its own item (bagel) was bought; its category (breakfast) was, five times.
    category = AFFINITY_KINDS.index("category") * len(PURCHASE_MEASURES)
    assert features[0, 2, :category].max() == 0.0
    assert features[0, 2, category] == pytest.approx(math.log1p(5))


def test_serving_decays_each_measure_by_its_half_life_and_keeps_the_count() -> None:
    as_of_batch = {"fries": [4.0, 2.0, 2.0, 2.0, 2.0]}

    later = purchases_at(as_of_batch, since=AT, at=AT + dt.timedelta(days=14))

    assert later["fries"][0] == 4.0
    assert later["fries"][1] == pytest.approx(1.0)  # 14-day half-life: halved
    assert later["fries"][2] == pytest.approx(2.0 * 0.5 ** (14 / 60), abs=1e-4)
    assert purchases_at(as_of_batch, since=None, at=AT) == as_of_batch


def test_the_cart_counts_as_bought_now_in_every_measure() -> None:
    situation = Situation(
        customer_id="C1",
        known_customer=True,
        at=AT,
        store_id="S1",
        tier="value",
        timezone="UTC",
        channel="counter",
        segment_key=None,
        cart=("fries", "fries", "bagel"),
        purchases={"fries": [1.0, 0.5, 0.5, 0.5, 0.5]},
    )

    purchases = situation_purchases([situation], ITEMS)

    column = ITEMS.index("fries")
    assert purchases.matrices["purchases"][0, column] == 3.0
    assert purchases.matrices["decay_14"][0, column] == 2.5
    assert purchases.matrices["purchases"].sum() == 3.0  # bagel is not an item the chain has
