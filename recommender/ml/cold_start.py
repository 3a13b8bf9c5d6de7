"""Cold start: how well TxT, and TxT + count ranker, recommend offers they never saw in
training.

A share of the offers is hidden from training as if they had been added to the catalog after
it: their redemptions are removed from the training and validation weeks, they are never a
candidate (not even a negative), never appear in any history (the holdout's included) and the
offer autoencoder is fitted without them. TxT is trained on what is left; then, on the holdout
weeks, the redemptions of the hidden offers are ranked among the same candidates as every
other method's. The hidden offers are scored only through their content embedding and catalog
features, as a newly added offer would be; the purchase-affinity baselines score them from
their items, which works for a new offer too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

import numpy as np

from recommender.ml.baselines import (
    AffinityThenPopularity,
    ContextualItemCF,
    GlobalPopularity,
    PurchaseAffinity,
)
from recommender.ml.embeddings import offer_vectors, offer_vectors_blind
from recommender.ml.evaluation import METRICS
from recommender.ml.training import (
    DEFAULT_HYPERPARAMETERS,
    ENSEMBLE,
    active_space,
    chance_hr3,
    ensemble_fit,
    method_result,
    neural_fit,
    popularity_attach,
)
from recommender.ml.training_data import (
    Examples,
    Split,
    offer_features,
    offer_item_lists,
    training_split,
)
from recommender.ml.txt import TxT, model_scores


@dataclass
class ColdStartExperiment:
    hidden_offers: list[str]
    offers: int
    examples: int
    metrics: dict[str, dict[str, float]]
    chance_hr3: float

    @property
    def hr3(self) -> dict[str, float]:
        return {name: values["HR@3"] for name, values in self.metrics.items()}

    def text(self) -> str:
        rows = "\n".join(
            f"  {name:<28}" + "".join(f"{values[m]:>9.3f}" for m in METRICS)
            for name, values in self.metrics.items()
        )
        return (
            f"Cold start: {len(self.hidden_offers)} of {self.offers} offers hidden from "
            f"training, histories and the offer autoencoder; {self.examples} holdout "
            f"redemptions of them ranked among each example's candidates "
            f"(chance HR@3 {self.chance_hr3:.3f}).\n"
            f"  {'method':<28}" + "".join(f"{m:>9}" for m in METRICS) + "\n" + rows
        )


def _blind(examples: Examples, hidden: np.ndarray, offer_offset: int) -> Examples:
    """The examples without the hidden offers: not as targets, candidates or history."""
    keep = np.flatnonzero(~np.isin(examples.target, hidden))
    blind = _blind_history(examples.take(keep), hidden, offer_offset)
    blind.valid[:, hidden] = False
    if blind.dated is not None:  # the neural models train on these wider candidates
        blind.dated[:, hidden] = False
    return blind


def _blind_history(examples: Examples, hidden: np.ndarray, offer_offset: int) -> Examples:
    """The examples with every redemption of a hidden offer removed from their histories."""
    blind = examples.take(np.arange(len(examples)))
    in_history = np.isin(blind.history, hidden + offer_offset)
    blind.history[in_history] = 0
    blind.history_at[in_history] = np.datetime64("NaT")
    return blind


def hidden_offers_choose(split: Split, *, share: float, seed: int) -> np.ndarray:
    """A random share of the offers redeemed in the holdout weeks (so each can be measured)."""
    redeemed = np.unique(split.evaluation.target)
    count = max(1, round(len(redeemed) * share))
    return np.sort(np.random.default_rng(seed).choice(redeemed, size=count, replace=False))


def cold_start_experiment(
    *, until: dt.date | None = None, share: float = 0.2, seed: int = 0, epochs: int | None = None
) -> ColdStartExperiment:
    space = active_space()
    ids, _ = offer_vectors(space=space)
    split = training_split(offers=ids, until=until)
    hidden = hidden_offers_choose(split, share=share, seed=seed)
    vectors = offer_vectors_blind(
        offer_ids=ids, hidden={ids[j] for j in hidden}, dimensions=space.dimensions
    )
    vectors = np.hstack([vectors, offer_features(offers=ids, vocabulary=split.vocabulary)])
    offset = split.vocabulary.offer_offset
    blind = Split(
        cutoff=split.cutoff,
        end=split.end,
        validation_start=split.validation_start,
        train=_blind(split.train, hidden, offset),
        validation=_blind(split.validation, hidden, offset),
        evaluation=split.evaluation,
        vocabulary=split.vocabulary,
    )
    # Counted without the hidden offers' redemptions, listed from the cutoff: to the model
    # they are new offers.
    popularity_attach(blind, unlisted=hidden)
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, "seed": seed}
    if epochs is not None:
        hyperparameters["epochs"] = epochs
    model, _ = neural_fit("TxT", split=blind, vectors=vectors, hyperparameters=hyperparameters)
    ensemble, _ = ensemble_fit(cast(TxT, model), split=blind, hyperparameters=hyperparameters)
    rows = np.flatnonzero(np.isin(split.evaluation.target, hidden))
    examples = _blind_history(split.evaluation.take(rows), hidden, offset)
    scores = {
        "TxT": model_scores(model, examples),
        ENSEMBLE: model_scores(ensemble, examples),
        **_baseline_scores(blind, examples, ids),
    }
    return ColdStartExperiment(
        hidden_offers=[ids[j] for j in hidden],
        offers=len(ids),
        examples=len(rows),
        metrics={name: method_result(name, s, examples).metrics for name, s in scores.items()},
        chance_hr3=chance_hr3(examples.valid),
    )


def _baseline_scores(blind: Split, examples: Examples, ids: list[str]) -> dict[str, np.ndarray]:
    """The baselines fitted on the blinded weeks, scoring the hidden offers' redemptions."""
    item_cf = ContextualItemCF(blind.fit, blind.vocabulary)
    item_cf.choose_weight(blind.validation)
    popularity = GlobalPopularity.fit(blind.fit, len(ids))
    affinity = PurchaseAffinity(offer_item_lists(ids))
    affinity.choose_measure(blind.validation)
    return {
        "Global popularity": popularity.scores(examples),
        "Contextual item-CF": item_cf.scores(examples),
        "Purchase affinity": affinity.scores(examples),
        "Affinity, then popularity": AffinityThenPopularity(affinity, popularity).scores(examples),
    }
