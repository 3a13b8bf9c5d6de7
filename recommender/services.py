"""Training as a run: started from the browser or the command line, executed in a worker with
progress per epoch, registered (and maybe activated) at the end."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from collections.abc import Callable
from typing import Any

from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import RunError, run_advance, run_execute, run_start
from recommender.errors import RecommenderError
from recommender.ml.embeddings import EmbeddingError, embedding_space_build
from recommender.ml.scorers import NEURAL_FILES
from recommender.ml.training import DEFAULT_HYPERPARAMETERS as DEFAULTS
from recommender.ml.training import recommender_train
from recommender.ml.training_data import TrainingDataError
from recommender.ml.txt import EpochReport
from recommender.registry import model_register, staging_folder
from recommender.selectors import embedding_space_active

TRAIN_TASK = "recommender.tasks.heavy_train_recommender"


def training_run_start(
    *,
    until: dt.date | None = None,
    epochs: int = DEFAULTS["epochs"],
    d_model: int = DEFAULTS["d_model"],
    layers: int = DEFAULTS["layers"],
    seed: int = DEFAULTS["seed"],
    started_by: Any = None,
    enqueue: bool = True,
) -> Run:
    if epochs < 1 or d_model < 4 or layers < 1:
        raise RecommenderError("epochs and layers must be at least 1 and d_model at least 4")
    return run_start(
        kind=RunKind.TRAINING,
        task_name=TRAIN_TASK,
        parameters={
            "until": until.isoformat() if until else None,
            "epochs": epochs,
            "d_model": d_model,
            "layers": layers,
            "seed": seed,
        },
        started_by=started_by,
        enqueue=enqueue,
    )


def training_run_execute(*, run_id: int, echo: Callable[[str], None] | None = None) -> Run | None:
    """Execute a queued training run here; `echo` also hears each log line (the command)."""
    return run_execute(run_id=run_id, work=functools.partial(_training_work, echo=echo))


def _progress_reporter(run: Run, epochs: int, echo: Callable[[str], None] | None) -> Any:
    """on_epoch for recommender_train: each neural model gets an equal share of 10..90%."""
    methods = list(NEURAL_FILES)

    def hear(method: str, report: EpochReport) -> None:
        base = method.removesuffix(" (refit)")
        share = 80 / len(methods)
        within = min(report.epoch / epochs, 1.0) * (0.3 if method.endswith("(refit)") else 0.7)
        offset = 0.7 if method.endswith("(refit)") else 0.0
        percent = 10 + share * methods.index(base) + share * (offset + within)
        checked = (
            ""
            if method.endswith("(refit)")
            else f", validation loss {report.validation_loss:.4f}, HR@3 {report.validation_hr3:.3f}"
        )
        line = f"{method} epoch {report.epoch}: loss {report.loss:.4f}{checked}"
        run_advance(
            run=run,
            stage=f"training {method}: epoch {report.epoch}",
            progress=int(percent),
            log=line,
        )
        if echo is not None:
            echo(line)

    return hear


def _offers_embedded(run: Run) -> None:
    """The model scores offers by their content vectors: a chain's first training embeds its
    offers (texts and images) into a new space first."""
    if embedding_space_active() is not None:
        return
    run_advance(run=run, stage="embedding the offers' texts and images (first training)")
    try:
        space = embedding_space_build()
    except EmbeddingError as exc:
        raise RunError(str(exc)) from exc
    run_advance(run=run, log=f"offer embeddings v{space.version} ({space.offers} offers) active")


def _training_work(run: Run, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    params = run.parameters
    _offers_embedded(run)
    run_advance(run=run, stage="preparing examples from the lake", progress=2)
    staged = staging_folder(run_id=run.pk)
    try:
        report = recommender_train(
            until=dt.date.fromisoformat(params["until"]) if params.get("until") else None,
            epochs=int(params["epochs"]),
            d_model=int(params["d_model"]),
            layers=int(params["layers"]),
            seed=int(params["seed"]),
            directory=staged,
            on_epoch=_progress_reporter(run, int(params["epochs"]), echo),
        )
        run_advance(run=run, stage="comparing with the active model and registering", progress=92)
        model = model_register(report=report, staged=staged, run=run)
    except TrainingDataError as exc:
        raise RunError(str(exc)) from exc
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    run_advance(run=run, log=f"{report.table()}\n{report.cold_start().text()}\n{model.decision}")
    return {
        "version": model.version,
        "active": model.is_active,
        "decision": model.decision,
        "metrics": model.metrics,
        "cold_start": model.cold_start,
        "examples": model.examples,
        "data_window": model.data_window,
    }
