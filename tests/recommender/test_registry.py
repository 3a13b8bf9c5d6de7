"""Training as a run in a real Celery worker, the model registry's activation rule, rollback,
and a killed training that leaves the active model serving."""

from __future__ import annotations

import datetime as dt
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from deepflame_web.core.models import Run, RunStatus
from deepflame_web.core.services import runs_fail_stale
from offers.models import Offer
from recommender.ml.scorers import BASELINES_FILE, NEURAL_FILES
from recommender.models import EmbeddingSpace, RecommenderModel
from recommender.registry import model_path, registry_root
from recommender.selectors import embedding_space_active
from recommender.services import training_run_execute, training_run_start
from tests.worker import celery_worker, kill_worker, run_wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
CUTOFF = dt.date(2025, 3, 1)


def tiny_run(seed: int, epochs: int = 2) -> Run:
    return training_run_start(until=CUTOFF, epochs=epochs, d_model=16, layers=1, seed=seed)


def test_the_worker_trains_registers_and_an_identical_retrain_is_not_promoted(
    chain: None, tmp_path: Path
) -> None:
    with celery_worker(tmp_path / "worker.log"):
        first = run_wait(tiny_run(seed=0))
        second = run_wait(tiny_run(seed=0))

    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.progress == 100 and "TxT epoch 1: loss" in first.log_tail
    v1 = RecommenderModel.objects.get(version=1)
    assert first.result["version"] == 1 and v1.run_id == first.pk
    assert sorted(p.name for p in model_path(v1).iterdir()) == sorted(
        [*NEURAL_FILES.values(), BASELINES_FILE]
    )
    assert set(v1.metrics) >= {"TxT", "TxT without context", "Contextual item-CF"}
    assert v1.data_window["cutoff"] == "2025-03-01T00:00:00" and v1.examples["holdout"] > 0
    assert v1.encoders["space"] == EmbeddingSpace.objects.get(is_active=True).version
    assert [e["epoch"] for e in v1.curves["TxT"]][:2] == [1, 2]
    assert v1.hyperparameters["d_model"] == 16 and v1.cold_start["examples"] >= 0
    assert not list(registry_root().glob(".staging-*"))

    assert second.status == RunStatus.SUCCEEDED, second.error
    v1.refresh_from_db()
    v2 = RecommenderModel.objects.get(version=2)
    # The same data, settings and seed: the same models and the same champion, which must
    # not replace the active one.
    assert v2.metrics["TxT"]["HR@3"] == v1.metrics["TxT"]["HR@3"]
    scorer = v1.scorer
    assert v2.scorer == scorer and scorer in v1.metrics
    hr3 = v1.metrics[scorer]["HR@3"]
    assert (
        f"Not activated, v1 stays: holdout HR@3 {hr3:.3f} ({scorer}) vs {hr3:.3f} of v1 "
        f"({scorer}) on the same examples, difference +0.000 [+0.000, +0.000]"
    ) in v2.decision
    assert v1.is_active and not v2.is_active

    call_command("activate_recommender", "2", stdout=StringIO())

    assert RecommenderModel.objects.get(is_active=True).version == 2
    call_command("activate_recommender", "1", stdout=StringIO())
    assert RecommenderModel.objects.get(is_active=True).version == 1
    out = StringIO()
    call_command("evaluate_recommender", "--model", "2", stdout=out)
    assert "Model v2:" in out.getvalue() and "HR@3" in out.getvalue()


def test_a_killed_training_registers_nothing_and_the_active_model_keeps_serving(
    chain: None, tmp_path: Path, settings: object
) -> None:
    with celery_worker(tmp_path / "first.log"):
        assert run_wait(tiny_run(seed=0, epochs=1)).status == RunStatus.SUCCEEDED
    active = RecommenderModel.objects.get(is_active=True)

    with celery_worker(tmp_path / "second.log") as worker:
        doomed = run_wait(
            tiny_run(seed=1, epochs=200), until=lambda r: r.stage.startswith("training")
        )
        kill_worker(worker)
    time.sleep(3)
    runs_fail_stale(stale_after_seconds=2)

    doomed.refresh_from_db()
    assert doomed.status == RunStatus.FAILED
    assert list(RecommenderModel.objects.values_list("version", "is_active")) == [(1, True)]
    assert (model_path(active) / NEURAL_FILES["TxT"]).exists()
    assert np.all([p.name.startswith((".staging", "v1")) for p in registry_root().iterdir()])


def test_a_first_training_embeds_the_offers_before_it_trains(chain_folder: Path) -> None:
    call_command("import_data", str(chain_folder), stdout=StringIO())
    call_command("run_segmentation", stdout=StringIO())
    run = training_run_start(until=CUTOFF, epochs=1, d_model=16, layers=1, seed=0, enqueue=False)

    finished = training_run_execute(run_id=run.pk)

    assert finished is not None
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    space = embedding_space_active()
    assert space is not None and space.offers == Offer.objects.count()
    assert f"offer embeddings v{space.version} ({space.offers} offers) active" in finished.log_tail
    assert RecommenderModel.objects.get().embedding_space_id == space.pk
