"""The model registry: every training with its files, window, encoders and metrics, and the
scorer it serves; one version is active.

A training writes its models and fitted baselines into a staging folder; `model_register`
moves the folder into place and records it in one step, so a failed or killed training leaves
no version and the active one keeps serving. Each version serves its champion: its best neural
model when that beats the best simple baseline on the holdout by more than chance, else that
baseline. A new version becomes active by itself only when its champion beats the active
version's on the new holdout: both ranked on the same examples and the same candidates, new
offers scored from their content or items, and the lower bound of the paired 95% interval of
the difference above 0, so an identical retrain (or a lucky one) is not promoted; a cutoff
earlier than the active one's is refused. An Admin can activate any version (promotion or
rollback).
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
from offers.services import audit_record
from recommender.ml.evaluation import (
    DIFFERENCE_KEYS,
    Difference,
    MethodResult,
    best_baseline,
    hit_rate_difference,
    is_baseline,
    target_ranks,
)
from recommender.ml.scorers import NEURAL_FILES, baseline_load, is_neural, scorer_files_exist
from recommender.ml.training import TrainingReport, model_load, saved_model_scores
from recommender.ml.training_data import Split, offer_item_lists
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


def scorer_holdout_scores(*, model: RecommenderModel, split: Split) -> np.ndarray | None:
    """A registered version's serving scorer on this split's holdout: [example, offer of the
    split], scored as serving scores (new offers from their content or items); None when its
    files are gone."""
    folder = model_path(model)
    if not scorer_files_exist(folder=folder, name=model.scorer):
        return None
    if is_neural(model.scorer):
        neural, artifact = model_load(path=folder / NEURAL_FILES[model.scorer])
        return saved_model_scores(model=neural, artifact=artifact, split=split)
    offers = split.vocabulary.offers
    baseline = baseline_load(
        folder=folder, name=model.scorer, offers=offers, offer_items=offer_item_lists(offers)
    )
    return baseline.scores(split.evaluation)


def _holdout_ranks(scores: np.ndarray, split: Split) -> np.ndarray:
    evaluation = split.evaluation
    return target_ranks(np.where(evaluation.valid, scores, -np.inf), evaluation.target)


@dataclass(frozen=True)
class Champion:
    """The method of a training run that serves, and why."""

    name: str
    text: str


def champion_choose(results: list[MethodResult]) -> Champion:
    """The best neural model by holdout HR@3 among those that beat the best baseline by
    more than chance (the lower bound of the paired interval above 0); else the best
    baseline, so a version never serves worse than its own best simple method."""
    best = best_baseline(results)
    if best is None:
        return Champion("TxT", "TxT serves: there was no baseline to compare with")
    winners = [
        r
        for r in results
        if not is_baseline(r.name) and r.metrics.get(DIFFERENCE_KEYS[1], -1.0) > 0
    ]
    if winners:
        winner = max(winners, key=lambda r: (r.metrics[PROMOTION_METRIC], r.name == "TxT"))
        return Champion(
            winner.name,
            f"{winner.name} serves: it beats the best baseline, {best.name}, on the holdout "
            f"({PROMOTION_METRIC} {winner.metrics[PROMOTION_METRIC]:.3f} vs "
            f"{best.metrics[PROMOTION_METRIC]:.3f}, {_difference(winner)})",
        )
    neural = [r for r in results if not is_baseline(r.name)]
    closest = max(neural, key=lambda r: r.metrics[PROMOTION_METRIC], default=None)
    versus = (
        f" ({closest.name} {PROMOTION_METRIC} {closest.metrics[PROMOTION_METRIC]:.3f} vs "
        f"{best.metrics[PROMOTION_METRIC]:.3f}, {_difference(closest)})"
        if closest is not None
        else ""
    )
    return Champion(
        best.name,
        f"{best.name}, a simple baseline, serves: no neural model beat it on the holdout "
        f"by more than chance{versus}",
    )


def _difference(result: MethodResult) -> str:
    if not all(key in result.metrics for key in DIFFERENCE_KEYS):
        return "no interval"
    return "difference " + Difference(*(result.metrics[k] for k in DIFFERENCE_KEYS)).text()


@dataclass(frozen=True)
class Promotion:
    activate: bool
    text: str


@dataclass(frozen=True)
class Contender:
    """A version's serving scorer on the new version's holdout: its target ranks, the cutoff
    it was trained to and its name."""

    ranks: np.ndarray
    cutoff: dt.datetime
    scorer: str = "TxT"


def promotion_decide(
    *, new: Contender, active: Contender | None, active_version: int | None
) -> Promotion:
    """Whether the new version's scorer replaces the active one's: only when it ranks better
    on the same examples and candidates by more than chance (the paired interval's lower
    bound above 0), and never when it was trained to an earlier cutoff than the active one."""
    new_hr3 = float(np.mean(new.ranks < 3)) if len(new.ranks) else 0.0
    if active_version is None:
        return Promotion(
            True,
            f"activated: the first model (holdout {PROMOTION_METRIC} {new_hr3:.3f}, {new.scorer})",
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
        f"{verdict}: holdout {PROMOTION_METRIC} {new_hr3:.3f} ({new.scorer}) vs "
        f"{active_hr3:.3f} of v{active_version} ({active.scorer}) on the same examples, "
        f"difference {difference.text()}",
    )


def _contenders(
    report: TrainingReport, champion: Champion, active: RecommenderModel | None
) -> tuple[Contender, Contender | None]:
    served = next(r for r in report.results if r.name == champion.name)
    assert served.ranks is not None
    new = Contender(served.ranks, report.split.cutoff, champion.name)
    if active is None:
        return new, None
    scores = scorer_holdout_scores(model=active, split=report.split)
    if scores is None:
        return new, None
    cutoff = dt.datetime.fromisoformat(active.data_window["cutoff"])
    return new, Contender(_holdout_ranks(scores, report.split), cutoff, active.scorer)


def model_register(
    *, report: TrainingReport, staged: Path, run: Run | None = None
) -> RecommenderModel:
    """Record a finished training and activate it if it beats the active model."""
    active = model_active()
    champion = champion_choose(report.results)
    new, active_contender = _contenders(report, champion, active)
    promotion = promotion_decide(
        new=new, active=active_contender, active_version=active.version if active else None
    )
    activate = promotion.activate
    decision = f"{champion.text}. {promotion.text[0].upper()}{promotion.text[1:]}"
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
                scorer=champion.name,
                champion=champion.name,
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


def _version_locked(version: int) -> RecommenderModel:
    """The version's row, locked for the rest of the transaction."""
    model = RecommenderModel.objects.select_for_update().filter(version=version).first()
    if model is None:
        raise RecommenderModel.DoesNotExist(f"There is no model version {version}.")
    return model


def model_activate(*, version: int, user: object = None) -> RecommenderModel:
    """An Admin's promotion or rollback: make this version the active one."""
    with transaction.atomic():
        model = _version_locked(version)
        if not scorer_files_exist(folder=model_path(model), name=model.scorer):
            raise FileNotFoundError(
                f"The files of model v{version} are missing: {model_path(model)}"
            )
        previous = RecommenderModel.objects.filter(is_active=True).exclude(pk=model.pk).first()
        _make_active(model, user=user)
        audit_record(
            user=user,
            action="model_activate",
            object_type="model",
            object_id=model.version,
            object_repr=f"model v{model.version} ({model.scorer})",
            before={"active": f"v{previous.version} ({previous.scorer})"} if previous else None,
            after={"active": f"v{model.version} ({model.scorer})"},
        )
    return model


def model_scorer_choose(*, version: int, scorer: str, user: object = None) -> RecommenderModel:
    """An Admin's choice of the method a version serves, over the champion rule's: any method
    of its training whose fitted files are there (a neural model's weights, the baselines'
    fit). Serving reloads on the audit entry; receipts name the scorer that decided."""
    with transaction.atomic():
        model = _version_locked(version)
        if scorer not in model.metrics:
            raise ValueError(
                f"Model v{version} has no method “{scorer}”; its methods: "
                f"{', '.join(sorted(model.metrics))}."
            )
        if not scorer_files_exist(folder=model_path(model), name=scorer):
            raise FileNotFoundError(
                f"The files of {scorer} in model v{version} are missing: {model_path(model)}"
            )
        before = model.scorer
        model.champion = model.champion or before
        model.scorer = scorer
        model.save(update_fields=["scorer", "champion"])
        audit_record(
            user=user,
            action="model_scorer_choose",
            object_type="model",
            object_id=model.version,
            object_repr=f"model v{model.version}",
            before={"scorer": before},
            after={"scorer": scorer},
        )
    return model
