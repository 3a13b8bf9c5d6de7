"""Cold start: how well TxT recommends offers it never saw in training.

A share of the offers is hidden from training as if they had been added to the catalog after
it: their redemptions are removed from the training and validation weeks, they are never a
candidate (not even a negative) and never appear in a training history. TxT is trained on what
is left; then, on the holdout weeks, the redemptions of the hidden offers are ranked among all
offers that existed that day. The hidden offers are scored only through their content
embedding and catalog features, as a newly added offer would be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from recommender.ml.baselines import ContextualItemCF, GlobalPopularity
from recommender.ml.embeddings import offer_vectors
from recommender.ml.evaluation import hit_rate
from recommender.ml.training import DEFAULT_HYPERPARAMETERS, active_space, chance_hr3, neural_fit
from recommender.ml.training_data import Examples, Split, offer_features, training_split
from recommender.ml.txt import model_scores


@dataclass
class ColdStartExperiment:
    hidden_offers: list[str]
    offers: int
    examples: int
    hr3: dict[str, float]
    chance_hr3: float

    def text(self) -> str:
        rates = ", ".join(f"{name} {value:.3f}" for name, value in self.hr3.items())
        return (
            f"Cold start: {len(self.hidden_offers)} of {self.offers} offers hidden from "
            f"training; {self.examples} holdout redemptions of them ranked among every offer "
            f"that existed that day. HR@3: {rates}; chance {self.chance_hr3:.3f}."
        )


def _blind(examples: Examples, hidden: np.ndarray, offer_offset: int) -> Examples:
    """The examples without the hidden offers: not as targets, candidates or history."""
    keep = np.flatnonzero(~np.isin(examples.target, hidden))
    blind = examples.take(keep)
    blind.valid[:, hidden] = False
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
    ids, vectors = offer_vectors(space=active_space())
    split = training_split(offers=ids, until=until)
    vectors = np.hstack([vectors, offer_features(offers=ids, vocabulary=split.vocabulary)])
    hidden = hidden_offers_choose(split, share=share, seed=seed)
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
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, "seed": seed}
    if epochs is not None:
        hyperparameters["epochs"] = epochs
    model, _ = neural_fit("TxT", split=blind, vectors=vectors, hyperparameters=hyperparameters)
    rows = np.flatnonzero(np.isin(split.evaluation.target, hidden))
    examples = split.evaluation.take(rows)
    item_cf = ContextualItemCF(blind.fit, split.vocabulary)
    item_cf.choose_weight(blind.validation)
    scores = {
        "TxT": model_scores(model, examples),
        "Global popularity": GlobalPopularity.fit(blind.fit, len(ids)).scores(examples),
        "Contextual item-CF": item_cf.scores(examples),
    }
    return ColdStartExperiment(
        hidden_offers=[ids[j] for j in hidden],
        offers=len(ids),
        examples=len(rows),
        hr3={
            name: hit_rate(np.where(examples.valid, s, -np.inf), examples.target, k=3)
            for name, s in scores.items()
        },
        chance_hr3=chance_hr3(examples.valid),
    )
