"""The promotion guard with fixed numbers: a new model replaces the active one only when it
ranks better on the same examples by more than chance, and never from an earlier cutoff."""

import datetime as dt

import numpy as np

from recommender.ml.evaluation import MethodResult
from recommender.registry import Contender, champion_choose, promotion_decide

CUTOFF = dt.datetime(2025, 3, 1)


def _ranks(hits: int, misses: int) -> np.ndarray:
    """Target ranks of `hits` examples in the top 3 and `misses` below it."""
    return np.array([0] * hits + [7] * misses)


def test_the_first_model_is_activated() -> None:
    decided = promotion_decide(
        new=Contender(_ranks(30, 70), CUTOFF), active=None, active_version=None
    )

    assert decided.activate
    assert decided.text == "activated: the first model (holdout HR@3 0.300, TxT)"


def test_a_clear_win_on_the_same_examples_is_promoted() -> None:
    active = _ranks(30, 270)
    better = active.copy()
    better[30:90] = 0  # 60 more hits, none lost

    decided = promotion_decide(
        new=Contender(better, CUTOFF), active=Contender(active, CUTOFF), active_version=4
    )

    assert decided.activate
    assert decided.text.startswith(
        "activated: holdout HR@3 0.300 (TxT) vs 0.100 of v4 (TxT) on the same examples, "
        "difference +0.200 ["
    )


def test_an_identical_model_is_not_promoted() -> None:
    same = _ranks(30, 70)

    decided = promotion_decide(
        new=Contender(same, CUTOFF), active=Contender(same.copy(), CUTOFF), active_version=4
    )

    assert not decided.activate
    assert decided.text == (
        "not activated, v4 stays: holdout HR@3 0.300 (TxT) vs 0.300 of v4 (TxT) on the same "
        "examples, difference +0.000 [+0.000, +0.000]"
    )


def test_a_worse_model_is_not_promoted() -> None:
    active = _ranks(40, 60)
    worse = active.copy()
    worse[:10] = 7

    decided = promotion_decide(
        new=Contender(worse, CUTOFF), active=Contender(active, CUTOFF), active_version=2
    )

    assert not decided.activate
    assert "holdout HR@3 0.300 (TxT) vs 0.400 of v2 (TxT)" in decided.text


def test_a_higher_rate_within_chance_is_not_promoted() -> None:
    active = _ranks(30, 70)
    noisy = active.copy()
    noisy[[0, 1]] = 7  # two hits lost
    noisy[[50, 51, 52]] = 0  # three gained: +1 example net, well within chance

    decided = promotion_decide(
        new=Contender(noisy, CUTOFF), active=Contender(active, CUTOFF), active_version=3
    )

    assert not decided.activate
    assert "holdout HR@3 0.310 (TxT) vs 0.300 of v3 (TxT)" in decided.text


def test_a_model_trained_to_an_earlier_cutoff_is_refused_however_good() -> None:
    decided = promotion_decide(
        new=Contender(_ranks(100, 0), CUTOFF - dt.timedelta(days=7)),
        active=Contender(_ranks(10, 90), CUTOFF),
        active_version=5,
    )

    assert not decided.activate
    assert decided.text == (
        "not activated, v5 stays: trained to 2025-02-22, before the active model's cutoff "
        "2025-03-01"
    )


def test_missing_files_of_the_active_model_let_the_new_one_in() -> None:
    decided = promotion_decide(new=Contender(_ranks(1, 1), CUTOFF), active=None, active_version=6)

    assert decided.activate
    assert decided.text == "activated: the files of active v6 are missing"


def _result(name: str, hr3: float, low: float) -> MethodResult:
    metrics = {"HR@3": hr3, "HR@3 diff": 0.0, "HR@3 diff low": low, "HR@3 diff high": 0.1}
    return MethodResult(name, metrics, 100, np.zeros(100, np.int64))


def test_the_best_baseline_serves_when_no_neural_model_beats_it_by_more_than_chance() -> None:
    results = [
        _result("TxT", 0.34, -0.01),
        _result("TxT without context", 0.33, -0.02),
        _result("Purchase affinity", 0.31, 0.0),
        _result("Global popularity", 0.20, -0.2),
    ]

    champion = champion_choose(results)

    assert champion.name == "Purchase affinity"
    assert champion.text.startswith(
        "Purchase affinity, a simple baseline, serves: no neural model beat it on the holdout "
        "by more than chance (TxT HR@3 0.340 vs 0.310"
    )


def test_a_serving_baseline_names_the_neural_model_that_came_closest() -> None:
    results = [
        _result("TxT", 0.21, -0.03),
        _result("TxT without context", 0.23, -0.003),
        _result("Purchase affinity", 0.19, 0.0),
    ]

    champion = champion_choose(results)

    assert champion.name == "Purchase affinity"
    assert "by more than chance (TxT without context HR@3 0.230 vs 0.190" in champion.text


def test_the_best_neural_model_that_beats_the_best_baseline_serves() -> None:
    results = [
        _result("TxT", 0.40, 0.02),
        _result("TxT without context", 0.42, 0.03),
        _result("GRU (no context)", 0.45, 0.0),  # a neural model, its interval touches 0
        _result("Purchase affinity", 0.31, 0.0),
    ]

    champion = champion_choose(results)

    assert champion.name == "TxT without context"
    assert champion.text.startswith(
        "TxT without context serves: it beats the best baseline, Purchase affinity, on the "
        "holdout (HR@3 0.420 vs 0.310"
    )
