"""Training's count inputs are built a batch of examples at a time (a chain's examples x offers
x features would not fit in memory held whole): a batch reads the same numbers whichever
examples it is built with, taking and joining examples keeps each one's numbers, the count
ranker's standardization sees every candidate cell, inputs small enough are held for training
with the same numbers, and larger ones are never built more than a batch at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse

from recommender.ml import count_inputs
from recommender.ml.affinity import (
    AFFINITY_FEATURES,
    COUNT_FEATURES,
    LIFECYCLE_FEATURES,
    PURCHASE_MEASURES,
    LifecycleCounts,
    Popularity,
    Purchases,
    incidence_build,
)
from recommender.ml.count_inputs import CountInputs, candidate_moments
from recommender.ml.training_data import Examples, _concat
from recommender.ml.txt import TxT, TxTConfig, model_train

ITEMS = [f"I{i}" for i in range(12)]
OFFERS = 7
EXAMPLES = 40
WIDTH = COUNT_FEATURES + LIFECYCLE_FEATURES


def _examples(seed: int = 0, *, examples: int = EXAMPLES) -> Examples:
    rng = np.random.default_rng(seed)
    bought = sparse.random(examples, len(ITEMS), density=0.3, format="csr", random_state=seed)
    bought.data = np.ceil(bought.data * 5)
    day = np.datetime64("2026-01-01", "D") + rng.integers(0, 30, examples).astype("timedelta64[D]")
    listed = (
        np.full(OFFERS, np.datetime64("2025-12-01", "D")),
        np.full(OFFERS, np.datetime64("2026-03-01", "D")),
    )
    segment = rng.integers(0, 3, examples)
    target = rng.integers(0, OFFERS, examples)
    valid = rng.random((examples, OFFERS)) < 0.7
    valid[np.arange(examples), target] = True
    catalog = np.random.default_rng(99)  # one catalog, whatever the examples
    offer_items = [list(catalog.choice(ITEMS, size=2, replace=False)) for _ in range(OFFERS)]
    categories = {item: f"C{i % 3}" for i, item in enumerate(ITEMS)}
    return Examples(
        customer_id=np.arange(examples).astype(str),
        at=day.astype("datetime64[us]"),
        history=rng.integers(0, len(ITEMS) + 1, (examples, 5)),
        history_at=np.full((examples, 5), np.datetime64("NaT"), "datetime64[us]"),
        context=np.zeros((examples, 1), np.int64),
        target=target,
        valid=valid,
        purchases=Purchases(
            ITEMS, {m: bought * (0.5 + k) for k, m in enumerate(PURCHASE_MEASURES)}
        ),
        incidence=incidence_build(
            items=ITEMS,
            offer_items=offer_items,
            offer_categories=[categories[items[0]] for items in offer_items],
            item_categories=categories,
        ),
        popularity=Popularity.counts_before(
            offers=OFFERS, target=target, segment=segment, day=day, segments=3, listed=listed
        ),
        lifecycle=LifecycleCounts(
            day=day, start=listed[0], end=listed[1], sizes=np.full(OFFERS, 2.0)
        ),
    )


def _one_at_a_time(inputs: CountInputs) -> np.ndarray:
    return np.concatenate([inputs.rows(np.array([row])) for row in range(inputs.examples)])


def test_a_batch_reads_the_same_numbers_whoever_it_is_built_with() -> None:
    inputs = _examples().count_inputs(WIDTH)
    alone = _one_at_a_time(inputs)
    order = np.random.default_rng(1).permutation(EXAMPLES)

    assert alone.shape == (EXAMPLES, OFFERS, WIDTH)
    np.testing.assert_array_equal(inputs.rows(order), alone[order])
    batch = inputs[torch.as_tensor(order[:8])]
    assert batch.dtype == torch.float32
    np.testing.assert_array_equal(batch.numpy(), alone[order[:8]])
    np.testing.assert_array_equal(inputs[3:9].numpy(), alone[3:9])
    # Something was bought and counted: the check above is not one of zeros.
    assert (alone[:, :, :AFFINITY_FEATURES] > 0).any()


def test_taking_and_joining_examples_keeps_each_one_s_numbers() -> None:
    examples = _examples()
    alone = _one_at_a_time(examples.count_inputs(WIDTH))
    odd, even = np.arange(1, EXAMPLES, 2), np.arange(0, EXAMPLES, 2)

    joined = _concat(examples.take(odd), examples.take(even))
    np.testing.assert_array_equal(
        joined.count_inputs(WIDTH).rows(np.arange(EXAMPLES)), alone[np.concatenate([odd, even])]
    )
    # Popularities counted apart (another split's counts) keep their own tables when joined.
    other = _examples(seed=5, examples=10)
    both = _concat(examples, other).count_inputs(WIDTH).rows(np.arange(EXAMPLES + 10))
    np.testing.assert_array_equal(both[EXAMPLES:], _one_at_a_time(other.count_inputs(WIDTH)))


def test_a_model_reads_only_its_own_width_and_a_missing_part_is_named() -> None:
    examples = _examples()
    txt = examples.count_inputs(COUNT_FEATURES).rows(np.arange(4))
    ranker = examples.count_inputs(WIDTH).rows(np.arange(4))

    np.testing.assert_array_equal(txt, ranker[:, :, :COUNT_FEATURES])
    assert examples.count_inputs(0).rows(np.arange(4)).shape == (4, OFFERS, 0)
    examples.popularity = None
    with pytest.raises(ValueError, match="popularity counts"):
        examples.count_inputs(COUNT_FEATURES)


def test_the_moments_cover_every_candidate_cell_across_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = _examples()
    inputs = examples.count_inputs(WIDTH)
    cells = inputs.rows(np.arange(EXAMPLES))[examples.valid].astype(np.float64)
    monkeypatch.setattr(count_inputs, "MOMENT_CELLS", 3 * OFFERS)  # chunks of 3 examples

    mean, spread = candidate_moments(inputs, examples.valid)
    np.testing.assert_allclose(mean, cells.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(spread, cells.std(0), rtol=1e-9, atol=1e-12)


def test_inputs_held_for_training_are_the_ones_built_per_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = _examples().count_inputs(WIDTH)
    held = inputs.held()
    order = np.random.default_rng(2).permutation(EXAMPLES)

    assert held.dense is not None
    np.testing.assert_array_equal(held.rows(order), inputs.rows(order))
    monkeypatch.setattr(count_inputs, "HELD_BYTES", EXAMPLES * OFFERS * WIDTH * 4 - 1)
    assert inputs.held().dense is None  # one byte over: built per batch


def test_inputs_too_large_to_hold_are_built_one_batch_at_a_time_in_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = _examples()
    monkeypatch.setattr(count_inputs, "HELD_BYTES", 0)
    built: list[int] = []
    rows = CountInputs.rows

    def recorded(self: CountInputs, picked: np.ndarray) -> np.ndarray:
        built.append(len(picked))
        return rows(self, picked)

    monkeypatch.setattr(CountInputs, "rows", recorded)
    config = TxTConfig(
        items=len(ITEMS),
        offer_dim=4,
        context_sizes=[1],
        history_length=5,
        d_model=8,
        heads=2,
        layers=1,
        dropout=0.0,
        item_match=False,
        affinity_features=COUNT_FEATURES,
    )
    model = TxT(config, np.random.default_rng(0).normal(size=(OFFERS, 4)).astype(np.float32))
    model_train(
        model, train=examples, validation=examples.take(np.arange(0)), epochs=2, batch_size=8
    )

    assert [rows for rows in built if rows] == [8] * (2 * EXAMPLES // 8)
