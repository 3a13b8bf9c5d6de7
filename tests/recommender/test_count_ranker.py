"""TxT + count ranker: the offers' lifecycle inputs, the ensemble's arithmetic, the same
lifecycle in training and serving, and a saved ensemble that scores as it did when trained."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch

from recommender.assignment.engine import (
    Engine,
    context_codes,
    context_values,
    count_inputs,
    history_codes,
    lifecycle_inputs,
    model_logits,
    model_scorer,
    situation_purchases,
)
from recommender.ml.affinity import (
    COUNT_FEATURES,
    LIFECYCLE_FEATURES,
    LIFECYCLE_HORIZON_DAYS,
    PURCHASE_MEASURES,
    offer_lifecycle,
)
from recommender.ml.training_data import Examples, lifecycle_of
from recommender.ml.txt import CountRanker, TxT, TxTEnsemble, ranker_config
from tests.catalog.catalog_data import offer_create
from tests.recommender.test_assignment_engine import AT, DAYPARTS, make_engine, situation

DAY = np.datetime64("2026-03-10", "D")


def _ensemble_engine() -> Engine:
    engine = make_engine()
    txt: TxT = engine.model  # type: ignore[assignment]
    torch.manual_seed(3)
    ranker = CountRanker(ranker_config(txt.config))
    ranker.scale.fill_(2.0)
    engine.model = TxTEnsemble.of(txt, ranker)
    # A spring promotion: read for the lifecycle (the eligibility table was built before).
    burger = engine.catalog.offers[engine.catalog.index["burger-deal"]]
    burger.valid_from, burger.valid_to = dt.date(2026, 3, 1), dt.date(2026, 4, 30)
    return engine


def test_an_offer_s_lifecycle_reads_months_listed_and_left_on_the_day() -> None:
    start = np.array(["2026-01-24", "1900-01-01", "2026-04-01"], "datetime64[D]")
    end = np.array(["2026-03-25", "2999-12-31", "2026-05-01"], "datetime64[D]")
    features = offer_lifecycle(day=np.array([DAY]), start=start, end=end, sizes=np.array([4, 0, 1]))
    assert features.shape == (1, 3, LIFECYCLE_FEATURES)
    listed, open_dated, not_yet = features[0]
    np.testing.assert_allclose(
        listed, [1.5, 0.5, math.log1p(45), math.log1p(15), math.log1p(4)], rtol=1e-6
    )
    horizon = LIFECYCLE_HORIZON_DAYS
    np.testing.assert_allclose(
        open_dated[:4], [horizon / 30, horizon / 30, *[math.log1p(horizon)] * 2]
    )
    assert not_yet[0] == 0.0 and not_yet[1] == pytest.approx(52 / 30)


def test_the_ensemble_scores_the_mean_of_its_two_models_log_probabilities() -> None:
    engine = _ensemble_engine()
    ensemble = cast(TxTEnsemble, engine.model)
    rows, offers = 3, len(engine.catalog.offers)
    generator = torch.Generator().manual_seed(0)
    history = torch.randint(0, 5, (rows, engine.history_length), generator=generator)
    context = torch.ones((rows, len(engine.vocabulary.context)), dtype=torch.int64)
    affinity = torch.rand((rows, offers, COUNT_FEATURES + LIFECYCLE_FEATURES), generator=generator)
    with torch.inference_mode():
        both = ensemble(history, context, engine.offer_input, affinity)
        txt = torch.log_softmax(ensemble.txt(history, context, engine.offer_input, affinity), -1)
        ranker = torch.log_softmax(ensemble.ranker(history, context, None, affinity), -1)
        # TxT reads its own count columns only: the lifecycle columns change nothing of it.
        wider = affinity.clone()
        wider[..., COUNT_FEATURES:] = 99.0
        txt_wider = torch.log_softmax(ensemble.txt(history, context, engine.offer_input, wider), -1)
    torch.testing.assert_close(both, (txt + ranker) / 2)
    torch.testing.assert_close(txt_wider, txt)
    # Over any candidates the engine renormalizes to the two models' geometric mean there.
    candidates = [0, 2, 3]
    served = torch.softmax(both[:, candidates], -1)
    geometric = torch.exp((txt[:, candidates] + ranker[:, candidates]) / 2)
    torch.testing.assert_close(served, geometric / geometric.sum(-1, keepdim=True))


def test_the_engine_serves_the_ensemble_with_the_offers_lifecycle_on_the_decision_day() -> None:
    engine = _ensemble_engine()
    dayparts = {k: (v[0], v[1]) for k, v in DAYPARTS.items()}
    today = situation(purchases={"fries": [2.0] * len(PURCHASE_MEASURES)})
    later = situation(
        at=AT + dt.timedelta(days=40), purchases={"fries": [2.0] * len(PURCHASE_MEASURES)}
    )
    codes = context_codes([context_values(today, dayparts)], engine.vocabulary)
    purchases = situation_purchases([today], engine.incidence.items)
    inputs = count_inputs(engine, purchases, codes, np.array([DAY]))
    assert inputs.shape[-1] == COUNT_FEATURES + LIFECYCLE_FEATURES
    expired = engine.catalog.index["expired"]  # valid to 2026-02-28: no day left
    assert inputs[0, expired, COUNT_FEATURES + 1] == 0.0
    history = history_codes([today.events], engine.vocabulary, engine.history_length)
    with torch.inference_mode():
        eager = engine.model(
            torch.as_tensor(history),
            torch.as_tensor(codes),
            engine.offer_input,
            torch.as_tensor(inputs),
        )
        traced = model_scorer(engine)(
            torch.as_tensor(history), torch.as_tensor(codes), torch.as_tensor(inputs)
        )
    served = model_logits(engine, [today], dayparts)
    np.testing.assert_allclose(served[0], eager[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(traced[0].numpy(), eager[0].numpy(), rtol=1e-5, atol=1e-5)
    burger = engine.catalog.index["burger-deal"]
    np.testing.assert_allclose(
        inputs[0, burger, COUNT_FEATURES : COUNT_FEATURES + 2], [9 / 30, 51 / 30], rtol=1e-6
    )
    # Forty days on, only the dated offer moved in its life: TxT's scores stay, the ranker's move.
    ensemble = cast(TxTEnsemble, engine.model)
    moved = model_logits(engine, [later], dayparts)[0] - served[0]
    assert not np.allclose(moved, moved[0])
    assert ensemble.txt.config.affinity_features == COUNT_FEATURES


@pytest.mark.django_db
def test_training_and_serving_read_the_same_lifecycle() -> None:
    engine = make_engine()
    for offer in engine.catalog.offers:
        offer_create(
            offer_id=offer.offer_id,
            category=offer.category,
            item_ids=list(offer.item_ids),
            valid_from=offer.valid_from,
            valid_to=offer.valid_to,
        )
    offer_create(
        offer_id="spring",
        category="sides",
        item_ids=["fries", "muffin"],
        valid_from=dt.date(2026, 3, 1),
        valid_to=dt.date(2026, 4, 30),
    )
    days = np.array(["2026-03-10", "2026-04-20"], "datetime64[D]")
    examples = Examples(
        customer_id=np.array(["C1", "C2"]),
        at=days.astype("datetime64[us]"),
        history=np.zeros((2, 1), np.int64),
        history_at=np.full((2, 1), np.datetime64("NaT"), "datetime64[us]"),
        context=np.zeros((2, 1), np.int64),
        target=np.zeros(2, np.int64),
        valid=np.ones((2, len(engine.offer_ids)), bool),
    )
    trained = lifecycle_of(examples, engine.offer_ids).rows(np.arange(2))
    np.testing.assert_array_equal(trained, lifecycle_inputs(engine, days))
    spring = lifecycle_of(examples, ["spring"]).rows(np.arange(2))[:, 0]
    np.testing.assert_allclose(spring[:, 0], [9 / 30, 50 / 30], rtol=1e-6)
    np.testing.assert_allclose(spring[:, 1], [51 / 30, 10 / 30], rtol=1e-6)
    assert spring[0, 4] == pytest.approx(math.log1p(2))


def test_a_saved_ensemble_loads_and_scores_as_it_was_trained(tmp_path: Path) -> None:
    from recommender.ml.training import model_load

    engine = _ensemble_engine()
    path = tmp_path / "txt-count-ranker.pt"
    model = cast(TxTEnsemble, engine.model)
    state = {"kind": "TxTEnsemble", "state_dict": model.state_dict()}
    torch.save({**state, "config": model.config.as_dict()}, path)
    loaded, _ = model_load(path=path)
    assert isinstance(loaded, TxTEnsemble)
    affinity = torch.rand((2, len(engine.catalog.offers), COUNT_FEATURES + LIFECYCLE_FEATURES))
    history = torch.zeros((2, engine.history_length), dtype=torch.int64)
    context = torch.ones((2, len(engine.vocabulary.context)), dtype=torch.int64)
    with torch.inference_mode():
        torch.testing.assert_close(
            loaded(history, context, engine.offer_input, affinity),
            model(history, context, engine.offer_input, affinity),
        )
