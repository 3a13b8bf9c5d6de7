"""Train TxT, its ablation and the baselines on one time split, evaluate them on the weeks
after the cutoff, and keep the models under MODEL_DIR/txt.

Count baselines are fitted on every example before the cutoff (training and validation
weeks); the neural models train on the training weeks and use the validation weeks only to
stop early, so the held-out weeks choose nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from torch import nn

from recommender.baselines import ContextualItemCF, GlobalPopularity, SegmentPopularity
from recommender.embeddings import offer_vectors
from recommender.evaluation import MethodResult, metrics_table, ranking_metrics
from recommender.models import EmbeddingSpace
from recommender.training_data import (
    HISTORY_LENGTH,
    Examples,
    Split,
    TrainingDataError,
    Vocabulary,
    offer_features,
    training_split,
)
from recommender.txt import (
    EpochReport,
    GRURecommender,
    TrainResult,
    TxT,
    TxTConfig,
    model_scores,
    model_train,
)

NEURAL = {"TxT": "txt.pt", "TxT without context": "txt-no-context.pt", "GRU (no context)": "gru.pt"}


@dataclass
class TrainingReport:
    split: Split
    results: list[MethodResult]
    runs: dict[str, TrainResult]
    directory: Path

    def table(self) -> str:
        return metrics_table(self.results)


def model_directory() -> Path:
    return Path(settings.MODEL_DIR) / "txt"


def _space() -> EmbeddingSpace:
    space = EmbeddingSpace.objects.filter(is_active=True).first()
    if space is None:
        raise TrainingDataError("No offer embedding space is active; run embed_offers first.")
    return space


def model_save(
    *, model: nn.Module, path: Path, vocabulary: Vocabulary, split: Split, space: EmbeddingSpace
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    config: TxTConfig = model.config  # type: ignore[assignment]
    torch.save(
        {
            "kind": type(model).__name__,
            "state_dict": model.state_dict(),
            "config": config.as_dict(),
            "vocabulary": vocabulary.as_dict(),
            "cutoff": split.cutoff.isoformat(),
            "end": split.end.isoformat(),
            "validation_start": split.validation_start.isoformat(),
            "embedding_space": space.version,
        },
        path,
    )


def model_load(*, path: Path) -> tuple[nn.Module, dict]:
    """(the model with its weights, the rest of the artifact)."""
    artifact = torch.load(path, map_location="cpu", weights_only=False)
    config = TxTConfig(**artifact["config"])
    vectors = artifact["state_dict"]["offer_vectors"].numpy()
    cls = GRURecommender if artifact["kind"] == "GRURecommender" else TxT
    model = cls(config, vectors)
    model.load_state_dict(artifact["state_dict"])
    model.eval()
    return model, artifact


def baseline_results(split: Split) -> list[MethodResult]:
    offers = len(split.vocabulary.offers)
    evaluation = split.evaluation
    tuned = ContextualItemCF(split.train, split.vocabulary)
    weight = tuned.choose_weight(split.validation)
    item_cf = ContextualItemCF(split.fit, split.vocabulary)
    item_cf.weight = weight
    scorers = {
        "Global popularity": GlobalPopularity.fit(split.fit, offers).scores,
        "Segment popularity": SegmentPopularity(split.fit, split.vocabulary).scores,
        "Contextual item-CF": item_cf.scores,
    }
    return [
        MethodResult(name, _evaluate(scores(evaluation), evaluation), len(evaluation))
        for name, scores in scorers.items()
    ]


def _evaluate(scores: np.ndarray, examples: Examples) -> dict[str, float]:
    return ranking_metrics(np.where(examples.valid, scores, -np.inf), examples.target)


def recommender_train(
    *,
    until: dt.date | None = None,
    epochs: int = 30,
    d_model: int = 64,
    layers: int = 2,
    dropout: float = 0.3,
    learning_rate: float = 1e-3,
    refit: bool = True,
    history_length: int = HISTORY_LENGTH,
    seed: int = 0,
    save: bool = True,
    on_epoch: Callable[[str, EpochReport], None] | None = None,
) -> TrainingReport:
    """Train and evaluate everything on the split at `until`; `on_epoch(method, report)`
    hears each epoch of each neural model.

    Neural models stop early on the validation weeks, then (`refit`) train again from scratch
    on training and validation weeks for the epoch count that was best. The defaults (dropout
    0.3, learning rate 1e-3) were chosen on the validation weeks of a demo chain."""
    space = _space()
    ids, vectors = offer_vectors(space=space)
    split = training_split(offers=ids, until=until, history_length=history_length)
    vocabulary = split.vocabulary
    vectors = np.hstack([vectors, offer_features(offers=ids, vocabulary=vocabulary)])
    results = baseline_results(split)
    runs: dict[str, TrainResult] = {}
    for name, file in NEURAL.items():
        config = TxTConfig(
            items=len(vocabulary.items),
            offer_dim=vectors.shape[1],
            context_sizes=vocabulary.context_sizes(),
            history_length=history_length,
            d_model=d_model,
            layers=layers,
            dropout=dropout,
            use_context=name == "TxT",
        )
        cls = GRURecommender if name.startswith("GRU") else TxT
        torch.manual_seed(seed)
        model: nn.Module = cls(config, vectors)
        hear: Callable[[EpochReport], None] | None = None
        if on_epoch is not None:
            hear = functools.partial(on_epoch, name)
        runs[name] = model_train(
            model,
            train=split.train,
            validation=split.validation,
            epochs=epochs,
            learning_rate=learning_rate,
            seed=seed,
            on_epoch=hear,
        )
        if refit and len(split.validation):
            # The validation weeks chose the number of epochs; now they are training data too,
            # as they are for the count baselines.
            torch.manual_seed(seed)
            model = cls(config, vectors)
            model_train(
                model,
                train=split.fit,
                validation=split.validation.take(np.arange(0)),
                epochs=runs[name].best_epoch,
                learning_rate=learning_rate,
                seed=seed,
                on_epoch=functools.partial(on_epoch, f"{name} (refit)") if on_epoch else None,
            )
        scores = model_scores(model, split.evaluation)
        results.append(
            MethodResult(name, _evaluate(scores, split.evaluation), len(split.evaluation))
        )
        if save:
            model_save(
                model=model,
                path=model_directory() / file,
                vocabulary=vocabulary,
                split=split,
                space=space,
            )
    return TrainingReport(split, results, runs, model_directory())


def recommender_evaluate(*, directory: Path | None = None) -> TrainingReport:
    """Evaluate the saved models on their own held-out weeks, beside freshly fitted count
    baselines on the same split."""
    directory = directory or model_directory()
    path = directory / NEURAL["TxT"]
    if not path.exists():
        raise TrainingDataError(f"No trained model at {path}; run train_recommender first.")
    _, artifact = model_load(path=path)
    ids = artifact["vocabulary"]["offers"]
    cutoff = dt.datetime.fromisoformat(artifact["cutoff"])
    end = dt.datetime.fromisoformat(artifact["end"])
    split = training_split(
        offers=ids,
        until=cutoff.date(),
        evaluation_weeks=round((end - cutoff).days / 7),
        validation_weeks=round(
            (cutoff - dt.datetime.fromisoformat(artifact["validation_start"])).days / 7
        ),
        history_length=artifact["config"]["history_length"],
    )
    results = baseline_results(split)
    for name, file in NEURAL.items():
        if not (directory / file).exists():
            continue
        model, saved = model_load(path=directory / file)
        examples = _recode(
            split.evaluation, split.vocabulary, Vocabulary.from_dict(saved["vocabulary"])
        )
        scores = model_scores(model, examples)
        results.append(MethodResult(name, _evaluate(scores, examples), len(examples)))
    return TrainingReport(split, results, {}, directory)


def _recode(examples: Examples, current: Vocabulary, saved: Vocabulary) -> Examples:
    """The examples in the saved model's codes (items or context values it never saw become
    padding or 'none')."""
    if current.as_dict() == saved.as_dict():
        return examples
    item_map = np.zeros(current.offer_offset + len(current.offers), np.int64)
    saved_items = {item: i + 1 for i, item in enumerate(saved.items)}
    for i, item in enumerate(current.items):
        item_map[i + 1] = saved_items.get(item, 0)
    for j in range(len(current.offers)):
        item_map[current.offer_offset + j] = saved.offer_offset + j
    context = examples.context.copy()
    for f, name in enumerate(saved.context):
        codes = {value: c for c, value in enumerate(saved.context[name])}
        lookup = np.array([codes.get(value, 0) for value in current.context[name]])
        context[:, f] = lookup[examples.context[:, f]]
    return Examples(
        customer_id=examples.customer_id,
        at=examples.at,
        history=item_map[examples.history],
        history_at=examples.history_at,
        context=context,
        target=examples.target,
        valid=examples.valid,
    )
