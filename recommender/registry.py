"""The model registry: every trained TxT with its files, window, encoders and metrics; one is
active.

A training writes its models into a staging folder; `model_register` moves the folder into
place and records it in one step, so a failed or killed training leaves no version and the
active model keeps serving. A new version becomes active by itself only when its TxT beats the
active model's on the new version's holdout: both ranked on the same examples and the same
candidates, and the lower bound of the paired 95% interval of the difference above 0, so an
identical retrain (or a lucky one) is not promoted; a cutoff earlier than the active model's is
refused. An Admin can activate any version (promotion or rollback).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from deepflame_web.core.models import Run
from recommender.ml.evaluation import hit_rate_difference, is_baseline, target_ranks
from recommender.ml.training import NEURAL, TrainingReport, model_load, saved_model_scores
from recommender.ml.training_data import Split
from recommender.models import RecommenderModel
from recommender.selectors import model_active

PROMOTION_METRIC = "HR@3"


def registry_root() -> Path:
    return Path(settings.MODEL_DIR) / "txt"


def model_path(model: RecommenderModel) -> Path:
    return Path(settings.MODEL_DIR) / model.artifact


def staging_folder(*, run_id: int | None) -> Path:
    """A fresh folder for a training's files (what a killed training left there is removed)."""
    folder = registry_root() / f".staging-{run_id or 'command'}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def active_holdout_ranks(*, active: RecommenderModel, split: Split) -> np.ndarray | None:
    """The active TxT's target ranks on this split's holdout, among the same candidates as
    every method of the split; None when its files are gone."""
    path = model_path(active) / NEURAL["TxT"]
    if not path.exists():
        return None
    model, artifact = model_load(path=path)
    scores = saved_model_scores(model=model, artifact=artifact, split=split)
    evaluation = split.evaluation
    return target_ranks(np.where(evaluation.valid, scores, -np.inf), evaluation.target)


@dataclass(frozen=True)
class Promotion:
    activate: bool
    text: str


@dataclass(frozen=True)
class Contender:
    """A TxT on the new version's holdout: its target ranks and the cutoff it was trained to."""

    ranks: np.ndarray
    cutoff: dt.datetime


def promotion_decide(
    *, new: Contender, active: Contender | None, active_version: int | None
) -> Promotion:
    """Whether the new TxT replaces the active one: only when it ranks better on the same
    examples by more than chance (the paired interval's lower bound above 0), and never when
    it was trained to an earlier cutoff than the active one."""
    new_hr3 = float(np.mean(new.ranks < 3)) if len(new.ranks) else 0.0
    if active_version is None:
        return Promotion(
            True, f"activated: the first model (holdout {PROMOTION_METRIC} {new_hr3:.3f})"
        )
    if active is None:
        return Promotion(True, f"activated: the files of active v{active_version} are missing")
    if new.cutoff < active.cutoff:
        return Promotion(
            False,
            f"not activated, v{active_version} stays: trained to {new.cutoff:%Y-%m-%d}, before "
            f"the active model's cutoff {active.cutoff:%Y-%m-%d}",
        )
    difference = hit_rate_difference(new.ranks, active.ranks)
    active_hr3 = float(np.mean(active.ranks < 3)) if len(active.ranks) else 0.0
    verdict = "activated" if difference.low > 0 else f"not activated, v{active_version} stays"
    return Promotion(
        difference.low > 0,
        f"{verdict}: holdout {PROMOTION_METRIC} {new_hr3:.3f} vs {active_hr3:.3f} of "
        f"v{active_version} on the same examples, difference {difference.text()}",
    )


def _contenders(
    report: TrainingReport, active: RecommenderModel | None
) -> tuple[Contender, Contender | None]:
    txt = next(r for r in report.results if r.name == "TxT")
    assert txt.ranks is not None
    new = Contender(txt.ranks, report.split.cutoff)
    if active is None:
        return new, None
    ranks = active_holdout_ranks(active=active, split=report.split)
    if ranks is None:
        return new, None
    cutoff = dt.datetime.fromisoformat(active.data_window["cutoff"])
    return new, Contender(ranks, cutoff)


def baseline_note(metrics: dict[str, dict[str, float]]) -> str:
    """Said plainly when a simple method ranks better than TxT on the holdout."""
    txt = metrics["TxT"][PROMOTION_METRIC]
    baselines = {name: v[PROMOTION_METRIC] for name, v in metrics.items() if is_baseline(name)}
    if not baselines:
        return ""
    name = max(baselines, key=lambda n: baselines[n])
    if baselines[name] <= txt:
        return ""
    return (
        f"; the best baseline, {name}, ranks better on this holdout "
        f"({PROMOTION_METRIC} {baselines[name]:.3f} vs TxT {txt:.3f})"
    )


def model_register(
    *, report: TrainingReport, staged: Path, run: Run | None = None
) -> RecommenderModel:
    """Record a finished training and activate it if it beats the active model."""
    active = model_active()
    new, active_contender = _contenders(report, active)
    promotion = promotion_decide(
        new=new, active=active_contender, active_version=active.version if active else None
    )
    activate = promotion.activate
    decision = promotion.text + baseline_note(report.metrics())
    split = report.split
    space = report.space
    with transaction.atomic():
        version = (RecommenderModel.objects.aggregate(top=Max("version"))["top"] or 0) + 1
        folder = registry_root() / f"v{version}"
        shutil.rmtree(folder, ignore_errors=True)
        staged.rename(folder)
        try:
            model = RecommenderModel.objects.create(
                version=version,
                artifact=str(folder.relative_to(settings.MODEL_DIR)),
                run=run,
                hyperparameters=report.hyperparameters,
                data_window={
                    "first_example": str(split.train.at.min()) if len(split.train) else None,
                    "validation_start": split.validation_start.isoformat(),
                    "cutoff": split.cutoff.isoformat(),
                    "end": split.end.isoformat(),
                },
                embedding_space=space,
                encoders={
                    "space": space.version if space else None,
                    "text": space.text_encoder if space else {},
                    "image": space.image_encoder if space else {},
                },
                metrics=report.metrics(),
                examples={
                    "training": len(split.train),
                    "validation": len(split.validation),
                    "holdout": len(split.evaluation),
                },
                cold_start=report.cold_start().as_dict(),
                curves={
                    name: [
                        {
                            "epoch": epoch.epoch,
                            "loss": round(epoch.loss, 5),
                            "validation_loss": round(epoch.validation_loss, 5),
                            "validation_hr3": round(epoch.validation_hr3, 5),
                        }
                        for epoch in result.epochs
                    ]
                    for name, result in report.runs.items()
                },
                decision=decision,
            )
            if activate:
                _make_active(model, user=None)
        except BaseException:
            folder.rename(staged)
            raise
    return model


def _make_active(model: RecommenderModel, *, user: object) -> None:
    RecommenderModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    model.is_active = True
    model.activated_at = timezone.now()
    model.activated_by = user if getattr(user, "is_authenticated", False) else None  # type: ignore[assignment]
    model.save(update_fields=["is_active", "activated_at", "activated_by"])


def model_activate(*, version: int, user: object = None) -> RecommenderModel:
    """An Admin's promotion or rollback: make this version the active one."""
    with transaction.atomic():
        model = RecommenderModel.objects.select_for_update().filter(version=version).first()
        if model is None:
            raise RecommenderModel.DoesNotExist(f"There is no model version {version}.")
        if not (model_path(model) / NEURAL["TxT"]).exists():
            raise FileNotFoundError(
                f"The files of model v{version} are missing: {model_path(model)}"
            )
        _make_active(model, user=user)
    return model
