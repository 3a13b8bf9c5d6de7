"""Every method of a training run is a scorer that could serve: the neural models (their
files) and the fitted baselines (one pickle beside them). The registry serves one per model
version, its champion (recommender.registry); this module saves, loads and rebinds them.

A baseline is fitted on the offers of its training split; `for_offers` rebinds it to another
catalog by offer id (serving's, or a later split's), scoring offers it never saw from their
items (the purchase affinities) or as the least popular (the popularity baselines).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Protocol

import numpy as np

from recommender.ml.baselines import offer_columns
from recommender.ml.evaluation import NEURAL_METHODS, is_baseline
from recommender.ml.training_data import Examples

BASELINES_FILE = "baselines.pkl"
NEURAL_FILES = dict(
    zip(
        NEURAL_METHODS,
        ("txt.pt", "txt-no-context.pt", "gru.pt", "txt-count-ranker.pt"),
        strict=True,
    )
)
COUNT_SCALE = ("Purchase affinity", "Affinity, then popularity")
"""Baselines whose scores are purchase counts; the others' are log-probabilities already."""
COUNT_FLOOR = 1e-3


class Baseline(Protocol):
    def scores(self, examples: Examples) -> np.ndarray: ...

    def for_offers(self, columns: np.ndarray, offer_items: list[list[str]]) -> Baseline: ...


def is_neural(name: str) -> bool:
    return not is_baseline(name)


def baselines_save(*, folder: Path, offers: list[str], baselines: dict[str, Baseline]) -> None:
    with (folder / BASELINES_FILE).open("wb") as out:
        pickle.dump({"offers": offers, "baselines": baselines}, out)


def baseline_load(
    *, folder: Path, name: str, offers: list[str], offer_items: list[list[str]]
) -> Baseline:
    """The fitted baseline `name` of a model folder, rebound to `offers` (with their items)."""
    with (folder / BASELINES_FILE).open("rb") as saved:
        # Our own artifact, written by baselines_save into MODEL_DIR.
        content = pickle.load(saved)  # noqa: S301
    baseline: Baseline = content["baselines"][name]
    return baseline.for_offers(offer_columns(content["offers"], offers), offer_items)


def scorer_files_exist(*, folder: Path, name: str) -> bool:
    if is_neural(name):
        return (folder / NEURAL_FILES[name]).exists()
    return (folder / BASELINES_FILE).exists()


def baseline_logits(name: str, scores: np.ndarray) -> np.ndarray:
    """A baseline's scores on a log scale, as the engine reads logits: the same order, and
    probabilities proportional to popularity or to purchases (plus a floor) over the offers
    available."""
    if name in COUNT_SCALE:
        return np.log(np.maximum(scores, 0.0) + COUNT_FLOOR)
    return scores
