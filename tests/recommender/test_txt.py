"""TxT training data, model, metrics and commands on a tiny generated chain (real DuckDB lake,
Spark segmentation, offer encoders and torch)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import duckdb
import numpy as np
import pytest
import torch
from django.core.management import call_command

from deepflame_web.core.lake import lake_paths
from recommender.ml.cold_start import (
    _blind,
    _blind_history,
    cold_start_experiment,
    hidden_offers_choose,
)
from recommender.ml.embeddings import offer_vectors
from recommender.ml.evaluation import hit_rate, ndcg, ranking_metrics, target_ranks
from recommender.ml.scorers import BASELINES_FILE, NEURAL_FILES
from recommender.ml.training import model_load, recommender_train
from recommender.ml.training_data import CONTEXT_FIELDS, Split, offer_features, training_split
from recommender.ml.txt import EpochReport, TxT, TxTConfig, model_scores, model_train
from recommender.models import EmbeddingSpace, RecommenderModel
from recommender.registry import model_path

pytestmark = pytest.mark.django_db(transaction=True)


def a_split(until: dt.date | None = None) -> tuple[Split, np.ndarray]:
    ids, vectors = offer_vectors(space=EmbeddingSpace.objects.get(is_active=True))
    split = training_split(offers=ids, until=until, evaluation_weeks=3, validation_weeks=2)
    features = offer_features(offers=ids, vocabulary=split.vocabulary)
    return split, np.hstack([vectors, features])


@pytest.mark.integration
def test_split_without_leakage_a_tiny_txt_learns_and_metrics_are_post_cutoff(
    chain: None,
) -> None:
    """One chain for all (its import, Spark segmentation and embeddings take most of the time)."""
    split, vectors = a_split(until=dt.date(2025, 3, 1))
    cutoff = np.datetime64(split.cutoff)

    assert len(split.train) > 20 and len(split.validation) > 5 and len(split.evaluation) > 10
    assert (split.train.at < np.datetime64(split.validation_start)).all()
    assert (split.validation.at < cutoff).all()
    assert (split.evaluation.at >= cutoff).all()
    assert (split.evaluation.at < np.datetime64(split.end)).all()
    for examples in (split.train, split.validation, split.evaluation):
        events = examples.history > 0
        assert (np.isnat(examples.history_at) == ~events).all()
        assert (examples.history_at[events] < np.repeat(examples.at, events.sum(1))).all()
        assert examples.valid[np.arange(len(examples)), examples.target].all()
    assert (split.train.history > 0).any(axis=1).mean() > 0.5
    assert (split.evaluation.history_at[split.evaluation.history > 0] < cutoff).any()
    assert split.train.context.shape[1] == len(CONTEXT_FIELDS)

    config = TxTConfig(
        items=len(split.vocabulary.items),
        offer_dim=vectors.shape[1],
        context_sizes=split.vocabulary.context_sizes(),
        d_model=16,
        heads=2,
        layers=1,
        dropout=0.0,
    )
    model = TxT(config, vectors)
    heard: list[EpochReport] = []
    result = model_train(
        model,
        train=split.train,
        validation=split.validation,
        epochs=4,
        patience=10,
        on_epoch=heard.append,
    )

    assert [r.epoch for r in heard] == [1, 2, 3, 4] and result.epochs == heard
    assert heard[-1].loss < heard[0].loss
    scores = model_scores(model, split.evaluation)
    assert scores.shape == (len(split.evaluation), len(split.vocabulary.offers))
    assert np.isneginf(scores[~split.evaluation.valid]).all()
    new_catalog = torch.as_tensor(vectors[:5])
    with torch.no_grad():
        logits = model(
            torch.as_tensor(split.evaluation.history[:3]),
            torch.as_tensor(split.evaluation.context[:3]),
            offer_vectors=new_catalog,
        )
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()

    report = recommender_train(until=dt.date(2025, 3, 1), epochs=1, d_model=16, layers=1)

    evaluation = report.split.evaluation
    assert (evaluation.at >= np.datetime64("2025-03-01")).all()
    assert {r.examples for r in report.results} == {len(evaluation)}
    paths = [str(p) for p in lake_paths(table="offer_redemptions")]
    with duckdb.connect() as db:
        after = db.execute(
            f"SELECT count(*) FROM read_parquet({paths!r}) "
            "WHERE redeemed_at >= ? AND redeemed_at < ?",
            [dt.datetime(2025, 3, 1, tzinfo=dt.UTC), report.split.end.replace(tzinfo=dt.UTC)],
        ).fetchone()
    assert after is not None and after[0] == len(evaluation)
    assert report.directory is None and not RecommenderModel.objects.exists()
    cold = report.cold_start()
    assert cold.examples == int((~np.isin(evaluation.target, report.split.fit.target)).sum())
    assert set(cold.hr3) == set(cold.hr10) == {result.name for result in report.results}
    assert all(cold.hr10[name] >= cold.hr3[name] for name in cold.hr3)

    out = StringIO()

    call_command(
        "train_recommender", "--until", "2025-03-01", "--epochs", "1", "--d-model", "16",
        "--layers", "1", stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    for method in (
        "TxT ",
        "TxT without context",
        "GRU (no context)",
        "Global popularity",
        "Segment popularity",
        "Contextual item-CF",
    ):
        assert method in text
    assert "HR@3" in text and "NDCG@10" in text
    assert "Cold start:" in text and "Activated: the first model" in text
    registered = RecommenderModel.objects.get()
    assert f"Model v1: {registered.scorer}" in text and "serves" in text
    assert registered.is_active and registered.data_window["cutoff"] == "2025-03-01T00:00:00"
    assert sorted(p.name for p in model_path(registered).iterdir()) == sorted(
        [*NEURAL_FILES.values(), BASELINES_FILE]
    )
    loaded, artifact = model_load(path=model_path(registered) / "txt.pt")
    assert artifact["cutoff"] == "2025-03-01T00:00:00" and artifact["config"]["use_context"]
    assert isinstance(loaded, TxT)

    default_split = training_split(offers=list(split.vocabulary.offers), until=dt.date(2025, 3, 1))
    hidden = hidden_offers_choose(default_split, share=0.3, seed=0)
    blind = _blind(split.train, hidden, split.vocabulary.offer_offset)
    assert len(blind) == int((~np.isin(split.train.target, hidden)).sum())
    assert not blind.valid[:, hidden].any()
    assert blind.dated is not None and not blind.dated[:, hidden].any()
    assert not np.isin(blind.history, hidden + split.vocabulary.offer_offset).any()
    experiment = cold_start_experiment(until=dt.date(2025, 3, 1), share=0.3, epochs=1)
    assert experiment.examples == int(np.isin(default_split.evaluation.target, hidden).sum()) > 0
    assert 0 < experiment.chance_hr3 < 1
    assert set(experiment.hr3) >= {"TxT", "TxT + count ranker", "Global popularity"}
    assert set(experiment.metrics) >= {"Purchase affinity", "Affinity, then popularity"}
    assert set(experiment.metrics["TxT"]) >= {"HR@3", "HR@10", "NDCG@10"}
    # The holdout's histories lose the hidden offers too; targets and candidates stay.
    offset = default_split.vocabulary.offer_offset
    held_out = _blind_history(default_split.evaluation, hidden, offset)
    assert not np.isin(held_out.history, hidden + offset).any()
    assert (held_out.target == default_split.evaluation.target).all()
    assert (held_out.valid == default_split.evaluation.valid).all()

    evaluated = StringIO()
    call_command("evaluate_recommender", stdout=evaluated)
    assert "Model v1 (active)" in evaluated.getvalue()
    assert "TxT without context" in evaluated.getvalue()


def test_hit_rate_and_ndcg_on_a_hand_made_example() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # target 0 ranked first
            [0.9, 0.1, 0.5, 0.3],  # target 2 ranked second
            [0.9, 0.1, 0.5, 0.3],  # target 1 ranked last (fourth)
            [0.2, 0.2, 0.2, -np.inf],  # target 1 tied with offer 0 before it: second
        ]
    )
    target = np.array([0, 2, 1, 1])

    assert target_ranks(scores, target).tolist() == [0, 1, 3, 1]
    assert hit_rate(scores, target, k=1) == 0.25
    assert hit_rate(scores, target, k=3) == 0.75
    assert ndcg(scores, target, k=3) == pytest.approx((1 + 1 / np.log2(3) * 2 + 0) / 4)
    metrics = ranking_metrics(scores, target)
    assert metrics["HR@1"] == 0.25 and metrics["HR@3"] == 0.75 and metrics["HR@10"] == 1.0
    assert metrics["NDCG@10"] == pytest.approx((1 + 2 / np.log2(3) + 1 / np.log2(5)) / 4)
