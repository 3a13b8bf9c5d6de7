"""Train TxT, its ablation and the baselines on one time split, evaluate them on the weeks
after the cutoff, and keep the models under MODEL_DIR/txt.

Count baselines are fitted on every example before the cutoff (training and validation
weeks); the neural models train on the training weeks and use the validation weeks only to
stop early, so the held-out weeks choose nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from django.conf import settings
from torch import nn

from recommender.ml.affinity import COUNT_FEATURES, Popularity, exposure_days
from recommender.ml.baselines import (
    AffinityThenPopularity,
    ContextualItemCF,
    GlobalPopularity,
    PurchaseAffinity,
    SegmentPopularity,
)
from recommender.ml.distributed import model_train
from recommender.ml.embeddings import offer_vectors
from recommender.ml.evaluation import (
    MethodResult,
    differences_add,
    metrics_table,
    ranking_metrics,
    target_ranks,
)
from recommender.ml.scorers import NEURAL_FILES, Baseline, baselines_save
from recommender.ml.training_data import (
    HISTORY_LENGTH,
    Examples,
    Split,
    TrainingDataError,
    Vocabulary,
    offer_features,
    offer_item_lists,
    offer_windows,
    training_split,
)
from recommender.ml.txt import (
    CountRanker,
    EpochReport,
    GRURecommender,
    TrainResult,
    TxT,
    TxTConfig,
    TxTEnsemble,
    model_scores,
    ranker_config,
)
from recommender.models import EmbeddingSpace
from recommender.selectors import embedding_space_active

# Chosen on the validation weeks of a demo chain.
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "epochs": 30,
    "d_model": 64,
    "layers": 2,
    "dropout": 0.3,
    "learning_rate": 1e-3,
    "refit": True,
    "history_length": HISTORY_LENGTH,
    "long_horizon": True,
    "patience": 6,
    "seed": 0,
}


@dataclass
class TrainingReport:
    split: Split
    results: list[MethodResult]
    runs: dict[str, TrainResult]
    directory: Path | None
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    space: EmbeddingSpace | None = None

    def table(self) -> str:
        """The holdout table on the engine's candidates, then the date-only variant."""
        text = metrics_table(self.results)
        dated = self.date_only_results()
        if dated:
            text += "\n\nThe same, every offer valid on the date a candidate:\n"
            text += metrics_table(dated)
        return text

    def date_only_results(self) -> list[MethodResult]:
        """Each method on the wider date-only candidates (when the split kept them)."""
        evaluation = self.split.evaluation
        if evaluation.dated is None:
            return []
        results = [
            method_result(name, scores, evaluation, candidates=evaluation.dated)
            for name, scores in self.scores.items()
        ]
        differences_add(results)
        return results

    def metrics(self) -> dict[str, dict[str, float]]:
        return {result.name: result.metrics for result in self.results}

    def cold_start(self) -> ColdStart:
        return cold_start_measure(split=self.split, scores=self.scores)


@dataclass
class ColdStart:
    """How the methods rank offers nobody had redeemed before the cutoff (launched after it,
    or never taken up), on the holdout redemptions of those offers."""

    offers: int
    examples: int
    chance_hr3: float
    hr3: dict[str, float]
    hr10: dict[str, float] = field(default_factory=dict)
    ndcg10: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def text(self) -> str:
        if not self.examples:
            return "Cold start: no holdout redemption of an offer unseen before the cutoff."
        rates = "; ".join(
            f"{name} {self.hr3[name]:.3f}"
            + (f" / {self.hr10[name]:.3f} / {self.ndcg10[name]:.3f}" if name in self.hr10 else "")
            for name in self.hr3
        )
        measured = "HR@3 / HR@10 / NDCG@10" if self.hr10 else "HR@3"
        return (
            f"Cold start: {self.examples} holdout redemptions of {self.offers} offers with no "
            f"redemption before the cutoff; {measured}: {rates}; chance HR@3 "
            f"{self.chance_hr3:.3f}"
        )


def chance_hr3(valid: np.ndarray) -> float:
    """HR@3 of a random ranking of the offers valid on each example."""
    if not len(valid):
        return 0.0
    counts = valid.sum(axis=1)
    return float(np.mean(np.minimum(3, counts) / counts))


def cold_start_measure(*, split: Split, scores: dict[str, np.ndarray]) -> ColdStart:
    seen = np.zeros(len(split.vocabulary.offers), bool)
    seen[split.fit.target] = True
    evaluation = split.evaluation
    unseen = np.flatnonzero(~seen[evaluation.target])
    metrics = {
        name: ranking_metrics(
            np.where(evaluation.valid[unseen], method_scores[unseen], -np.inf),
            evaluation.target[unseen],
        )
        for name, method_scores in scores.items()
    }
    return ColdStart(
        offers=len(set(evaluation.target[unseen].tolist())),
        examples=len(unseen),
        chance_hr3=chance_hr3(evaluation.valid[unseen]),
        hr3={name: values["HR@3"] for name, values in metrics.items()},
        hr10={name: values["HR@10"] for name, values in metrics.items()},
        ndcg10={name: values["NDCG@10"] for name, values in metrics.items()},
    )


def model_directory() -> Path:
    return Path(settings.MODEL_DIR) / "txt"


def active_space() -> EmbeddingSpace:
    space = embedding_space_active()
    if space is None:
        raise TrainingDataError("No offer embedding space is active; run embed_offers first.")
    return space


def model_save(
    *,
    model: nn.Module,
    path: Path,
    vocabulary: Vocabulary,
    split: Split,
    space: EmbeddingSpace,
    popularity: Popularity,
) -> None:
    """Tensors and Python's plain types only (numpy values become numbers and lists), so that
    model_load can read the file with weights_only=True."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {plain(key): plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(plain(item) for item in value)
        if isinstance(value, np.ndarray | np.generic):
            return value.tolist()
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    config: TxTConfig = model.config  # type: ignore[assignment]
    torch.save(
        {
            "kind": type(model).__name__,
            "state_dict": model.state_dict(),
            **plain(
                {
                    "config": config.as_dict(),
                    "vocabulary": vocabulary.as_dict(),
                    "cutoff": split.cutoff.isoformat(),
                    "end": split.end.isoformat(),
                    "validation_start": split.validation_start.isoformat(),
                    "embedding_space": space.version,
                    "popularity": popularity.as_dict(),
                }
            ),
        },
        path,
    )


MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "TxT": TxT,
    "GRURecommender": GRURecommender,
    "TxTEnsemble": TxTEnsemble,
}


def model_load(*, path: Path) -> tuple[nn.Module, dict]:
    """(the model with its weights, the rest of the artifact).

    Read with weights_only=True: a registry file is never unpickled into arbitrary objects,
    so a planted file cannot run code. A file that holds more than tensors and plain values
    (saved by an older version with numpy values inside) is refused with what to do.
    """
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(
            f"The model file {path.name} holds more than weights and plain values (an older "
            "format, or not a model file) and is not loaded. Retrain the recommender "
            "(train_recommender, or Train on the runs page) to write it in the current format."
        ) from exc
    config = TxTConfig(**artifact["config"])
    cls = MODEL_CLASSES.get(artifact["kind"], TxT)
    vectors_key = "txt.offer_vectors" if cls is TxTEnsemble else "offer_vectors"
    model = cls(config, artifact["state_dict"][vectors_key].numpy())
    model.load_state_dict(artifact["state_dict"])
    model.eval()
    return model, artifact


@dataclass
class BaselineRun:
    """The count baselines fitted on a split: each one, its metrics and holdout scores."""

    fitted: dict[str, Baseline]
    results: list[MethodResult]
    scores: dict[str, np.ndarray]


def baseline_results(split: Split) -> BaselineRun:
    """Each count baseline fitted, with its metrics and [example, offer] scores on the
    holdout."""
    offers = len(split.vocabulary.offers)
    evaluation = split.evaluation
    tuned = ContextualItemCF(split.train, split.vocabulary)
    weight = tuned.choose_weight(split.validation)
    item_cf = ContextualItemCF(split.fit, split.vocabulary)
    item_cf.weight = weight
    popularity = GlobalPopularity.fit(split.fit, offers)
    affinity = PurchaseAffinity(offer_item_lists(split.vocabulary.offers))
    affinity.choose_measure(split.validation)
    fitted: dict[str, Baseline] = {
        "Global popularity": popularity,
        "Segment popularity": SegmentPopularity(split.fit, split.vocabulary),
        "Contextual item-CF": item_cf,
        "Purchase affinity": affinity,
        "Affinity, then popularity": AffinityThenPopularity(affinity, popularity),
    }
    scores = {name: baseline.scores(evaluation) for name, baseline in fitted.items()}
    results = [method_result(name, scores[name], evaluation) for name in fitted]
    return BaselineRun(fitted, results, scores)


def method_result(
    name: str, scores: np.ndarray, examples: Examples, *, candidates: np.ndarray | None = None
) -> MethodResult:
    """A method's metrics on `examples`, with its target ranks kept for paired intervals;
    only each example's candidates (`examples.valid` unless given) are ranked, the same for
    every method."""
    masked = np.where(examples.valid if candidates is None else candidates, scores, -np.inf)
    metrics = ranking_metrics(masked, examples.target)
    return MethodResult(name, metrics, len(examples), target_ranks(masked, examples.target))


def recommender_train(
    *,
    until: dt.date | None = None,
    epochs: int = DEFAULT_HYPERPARAMETERS["epochs"],
    d_model: int = DEFAULT_HYPERPARAMETERS["d_model"],
    layers: int = DEFAULT_HYPERPARAMETERS["layers"],
    dropout: float = DEFAULT_HYPERPARAMETERS["dropout"],
    learning_rate: float = DEFAULT_HYPERPARAMETERS["learning_rate"],
    refit: bool = DEFAULT_HYPERPARAMETERS["refit"],
    history_length: int = DEFAULT_HYPERPARAMETERS["history_length"],
    long_horizon: bool = DEFAULT_HYPERPARAMETERS["long_horizon"],
    patience: int = DEFAULT_HYPERPARAMETERS["patience"],
    seed: int = DEFAULT_HYPERPARAMETERS["seed"],
    directory: Path | None = None,
    on_epoch: Callable[[str, EpochReport], None] | None = None,
) -> TrainingReport:
    """Train and evaluate everything on the split at `until`, saving the neural models into
    `directory` when given; `on_epoch(method, report)` hears each epoch of each neural model.

    Neural models stop early on the validation weeks, then (`refit`) train again from scratch
    on training and validation weeks for the epoch count that was best."""
    space = active_space()
    ids, vectors = offer_vectors(space=space)
    split = training_split(offers=ids, until=until, history_length=history_length)
    vocabulary = split.vocabulary
    vectors = np.hstack([vectors, offer_features(offers=ids, vocabulary=vocabulary)])
    popularity = popularity_attach(split)
    baselines = baseline_results(split)
    results, scores_by_method = baselines.results, baselines.scores
    if directory is not None:
        baselines_save(folder=directory, offers=vocabulary.offers, baselines=baselines.fitted)
    hyperparameters: dict[str, Any] = {
        "epochs": epochs,
        "d_model": d_model,
        "layers": layers,
        "dropout": dropout,
        "learning_rate": learning_rate,
        "refit": refit,
        "history_length": history_length,
        "long_horizon": long_horizon,
        "patience": patience,
        "seed": seed,
    }
    runs: dict[str, TrainResult] = {}
    models: dict[str, nn.Module] = {}
    for name, file in NEURAL_FILES.items():
        if name == ENSEMBLE and not long_horizon:
            continue  # the count ranker reads the count inputs that this run leaves out
        if name == ENSEMBLE:
            model, runs[name] = ensemble_fit(
                cast(TxT, models["TxT"]),
                split=split,
                hyperparameters=hyperparameters,
                on_epoch=on_epoch,
            )
        else:
            model, runs[name] = neural_fit(
                name,
                split=split,
                vectors=vectors,
                hyperparameters=hyperparameters,
                on_epoch=on_epoch,
            )
        models[name] = model
        # Scored on the date-only candidates: each table then masks its own candidates.
        scores_by_method[name] = model_scores(model, _widened(split.evaluation))
        results.append(method_result(name, scores_by_method[name], split.evaluation))
        if directory is not None:
            model_save(
                model=model,
                path=directory / file,
                vocabulary=vocabulary,
                split=split,
                space=space,
                popularity=popularity,
            )
    differences_add(results)
    return TrainingReport(split, results, runs, directory, scores_by_method, hyperparameters, space)


def popularity_attach(split: Split, *, unlisted: np.ndarray | None = None) -> Popularity:
    """Count each offer's redemptions in the fitted weeks (training and validation), overall
    and per segment, with the days each offer was listed in them, and give every example of
    the split its popularity inputs: a fitted example the counts of the days before its own,
    a holdout one the fitted weeks' counts (what serving reads). `unlisted` offers (columns)
    count as listed only from the cutoff on (the cold-start experiment's hidden offers)."""
    fit = split.fit
    segments = len(split.vocabulary.context["segment"])
    start, end = offer_windows(split.vocabulary.offers)
    cutoff = np.datetime64(split.cutoff.date(), "D")
    if unlisted is not None:
        start = start.copy()
        start[unlisted] = cutoff
    day = fit.at.astype("datetime64[D]")
    first = day.min() if len(day) else cutoff
    popularity = Popularity.count(
        offers=split.vocabulary.offers,
        target=fit.target,
        segment=fit.context_column("segment"),
        segments=segments,
        exposure=exposure_days(start=start, end=end, first=first, days=np.array([cutoff]))[0],
    )
    before = Popularity.counts_before(
        offers=len(split.vocabulary.offers),
        target=fit.target,
        segment=fit.context_column("segment"),
        day=day,
        segments=segments,
        listed=(start, end),
    )
    split.train.popularity = before.take(np.arange(len(split.train)))
    split.validation.popularity = before.take(np.arange(len(split.train), len(fit)))
    evaluation = split.evaluation
    evaluation.popularity = popularity.counts(evaluation.context_column("segment"))
    return popularity


def neural_fit(
    name: str,
    *,
    split: Split,
    vectors: np.ndarray,
    hyperparameters: dict[str, Any],
    on_epoch: Callable[[str, EpochReport], None] | None = None,
) -> tuple[nn.Module, TrainResult]:
    """One neural method trained on the split: early stopping on the validation weeks, then
    (`refit`) trained again from scratch on training and validation weeks for the epoch count
    that was best, as the count baselines see those weeks too.

    The loss contrasts the offer redeemed with the engine's candidates of its context, the
    offers it is ranked among at evaluation and serving: contrasting with offers the context
    rules out spends the model on eligibility rules the engine applies anyway (TxT's holdout
    HR@3 0.234 -> 0.277 on the 10,000-customer restaurant chain, docs/quality.md)."""
    h = hyperparameters
    config = TxTConfig(
        items=len(split.vocabulary.items),
        offer_dim=vectors.shape[1],
        context_sizes=split.vocabulary.context_sizes(),
        history_length=h["history_length"],
        d_model=h["d_model"],
        layers=h["layers"],
        dropout=h["dropout"],
        use_context=name == "TxT",
        affinity_features=COUNT_FEATURES
        if name.startswith("TxT") and h.get("long_horizon", True)
        else 0,
    )
    cls = GRURecommender if name.startswith("GRU") else TxT
    torch.manual_seed(h["seed"])
    model: nn.Module = cls(config, vectors)
    result = model_train(
        model,
        train=split.train,
        validation=split.validation,
        epochs=h["epochs"],
        learning_rate=h["learning_rate"],
        patience=h["patience"],
        seed=h["seed"],
        on_epoch=functools.partial(on_epoch, name) if on_epoch else None,
    )
    if h["refit"] and len(split.validation):
        torch.manual_seed(h["seed"])
        model = cls(config, vectors)
        model_train(
            model,
            train=split.fit,
            validation=split.validation.take(np.arange(0)),
            epochs=result.best_epoch,
            learning_rate=h["learning_rate"],
            seed=h["seed"],
            on_epoch=functools.partial(on_epoch, f"{name} (refit)") if on_epoch else None,
        )
    return model, result


ENSEMBLE = "TxT + count ranker"
RANKER_TRAINING: dict[str, Any] = {
    "batch_size": 128,
    "learning_rate": 3e-3,
    "weight_decay": 1e-3,
    "patience": 10,
}
"""The count ranker's training: a 32-unit MLP, many cheap epochs in small batches (set once for
the first experiment on the real grocery history and kept, not tuned on any holdout)."""
RANKER_EPOCHS_PER_EPOCH = 7
"""The ranker's epoch budget per epoch of the run's (an epoch of it costs a small share of
TxT's)."""


def ensemble_fit(
    txt: TxT,
    *,
    split: Split,
    hyperparameters: dict[str, Any],
    on_epoch: Callable[[str, EpochReport], None] | None = None,
) -> tuple[nn.Module, TrainResult]:
    """TxT as trained, joined by a count ranker trained like every neural model: early
    stopping on the validation weeks, then (`refit`) again from scratch on training and
    validation weeks for the epoch count that was best."""
    h = hyperparameters
    config = ranker_config(txt.config)

    def fitted(
        train: Examples, validation: Examples, epochs: int, label: str
    ) -> tuple[CountRanker, TrainResult]:
        torch.manual_seed(h["seed"])
        ranker = CountRanker(config)
        ranker.standardize_on(split.train)
        result = model_train(
            ranker,
            train=train,
            validation=validation,
            epochs=epochs,
            seed=h["seed"],
            on_epoch=functools.partial(on_epoch, label) if on_epoch else None,
            **RANKER_TRAINING,
        )
        return ranker, result

    budget = RANKER_EPOCHS_PER_EPOCH * h["epochs"]
    ranker, result = fitted(split.train, split.validation, budget, ENSEMBLE)
    if h["refit"] and len(split.validation):
        empty = split.validation.take(np.arange(0))
        ranker, _ = fitted(split.fit, empty, result.best_epoch, f"{ENSEMBLE} (refit)")
    return TxTEnsemble.of(txt, ranker), result


def _widened(examples: Examples) -> Examples:
    """The examples with their date-only candidates (when kept) as their candidates."""
    if examples.dated is None:
        return examples
    copy = examples.take(np.arange(len(examples)))
    copy.valid = examples.dated.copy()
    return copy


def recommender_evaluate(*, directory: Path) -> TrainingReport:
    """Evaluate the saved models on their own held-out weeks, beside freshly fitted count
    baselines on the same split."""
    path = directory / NEURAL_FILES["TxT"]
    if not path.exists():
        raise TrainingDataError(f"No trained model at {path}.")
    _, artifact = model_load(path=path)
    cutoff = dt.datetime.fromisoformat(artifact["cutoff"])
    end = dt.datetime.fromisoformat(artifact["end"])
    split = training_split(
        offers=artifact["vocabulary"]["offers"],
        until=cutoff.date(),
        evaluation_weeks=round((end - cutoff).days / 7),
        validation_weeks=round(
            (cutoff - dt.datetime.fromisoformat(artifact["validation_start"])).days / 7
        ),
        history_length=artifact["config"]["history_length"],
    )
    baselines = baseline_results(split)
    results, scores_by_method = baselines.results, baselines.scores
    for name, file in NEURAL_FILES.items():
        if not (directory / file).exists():
            continue
        model, saved = model_load(path=directory / file)
        scores_by_method[name] = saved_model_scores(model=model, artifact=saved, split=split)
        results.append(method_result(name, scores_by_method[name], split.evaluation))
    differences_add(results)
    return TrainingReport(split, results, {}, directory, scores_by_method)


def saved_model_scores(*, model: nn.Module, artifact: dict, split: Split) -> np.ndarray:
    """[holdout example, offer of the split] scores of a saved model, whatever vocabulary it
    was trained with: history and context are recoded into its codes by id and value, and
    every offer of the split is scored from its content, as serving scores it (offers known
    to the model and new ones alike); an offer without a vector in the model's embedding
    space scores -inf, as serving cannot give it."""
    saved = Vocabulary.from_dict(artifact["vocabulary"])
    examples = _recode(split.evaluation, split.vocabulary, saved)
    offers = split.vocabulary.offers
    if "popularity" in artifact:
        examples.popularity = (
            Popularity.from_dict(artifact["popularity"])
            .for_offers(offers)
            .counts(examples.context_column("segment"))
        )
    vectors, scorable = catalog_offer_vectors(
        offers=offers, vocabulary=saved, space_version=artifact["embedding_space"]
    )
    if not scorable.any():
        return np.full((len(examples), len(offers)), -np.inf)
    examples.valid = np.ones((len(examples), len(offers)), bool)
    scores = model_scores(model, examples, offer_vectors=vectors)
    return np.where(scorable[None, :], scores, -np.inf)


def catalog_offer_vectors(
    *, offers: list[str], vocabulary: Vocabulary, space_version: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, scorable): each offer's input to a model trained with `vocabulary` in the
    embedding space `space_version`: its content vector, then its catalog features; scorable
    is False where the offer has no vector in that space."""
    space = (
        EmbeddingSpace.objects.filter(version=space_version).first()
        if space_version is not None
        else None
    )
    ids, content = offer_vectors(space=space) if space is not None else ([], np.zeros((0, 0)))
    row = {offer_id: i for i, offer_id in enumerate(ids)}
    width = content.shape[1]
    scorable = np.array([offer_id in row for offer_id in offers], bool)
    known = np.zeros((len(offers), width), np.float32)
    for j, offer_id in enumerate(offers):
        if offer_id in row:
            known[j] = content[row[offer_id]]
    features = offer_features(offers=offers, vocabulary=vocabulary)
    return np.hstack([known, features]), scorable


def _recode(examples: Examples, current: Vocabulary, saved: Vocabulary) -> Examples:
    """The examples' history and context in the saved model's codes, by id and value (items,
    offers or context values it never saw become padding or 'none')."""
    if current.as_dict() == saved.as_dict():
        return examples.take(np.arange(len(examples)))
    saved_items = {item: i + 1 for i, item in enumerate(saved.items)}
    saved_offers = {offer_id: saved.offer_offset + j for j, offer_id in enumerate(saved.offers)}
    token_map = np.zeros(current.offer_offset + len(current.offers), np.int64)
    for i, item in enumerate(current.items):
        token_map[i + 1] = saved_items.get(item, 0)
    for j, offer_id in enumerate(current.offers):
        token_map[current.offer_offset + j] = saved_offers.get(offer_id, 0)
    context = examples.context.copy()
    for f, name in enumerate(saved.context):
        codes = {value: c for c, value in enumerate(saved.context[name])}
        lookup = np.array([codes.get(value, 0) for value in current.context[name]])
        context[:, f] = lookup[examples.context[:, f]]
    return Examples(
        customer_id=examples.customer_id,
        at=examples.at,
        history=token_map[examples.history],
        history_at=examples.history_at,
        context=context,
        target=examples.target,
        valid=examples.valid,
        purchases=examples.purchases,
        dated=examples.dated,
        incidence=examples.incidence,
        popularity=examples.popularity,
        lifecycle=examples.lifecycle,
    )
