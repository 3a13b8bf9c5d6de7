"""The whole pipeline: segmentation, training and assignment queued together, run in order.

It is the one place that knows every app's run; each app keeps its own start and execute.
"""

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from deepflame_web.core.models import ACTIVE_STATUSES, Run, RunKind, RunStatus
from deepflame_web.core.services import (
    RunAlreadyActive,
    RunNotQueued,
    run_fail,
    runs_fail_stale,
    runs_fail_unqueued,
)
from recommender.assignment.batch import assignment_run_execute, assignment_run_start
from recommender.services import training_run_execute, training_run_start
from segments.segmentation.services import segmentation_run_execute, segmentation_run_start

logger = logging.getLogger(__name__)

PIPELINE_TASK = "deepflame_web.core.tasks.heavy_run_pipeline"
PIPELINE_KINDS = (RunKind.SEGMENTATION, RunKind.TRAINING, RunKind.ASSIGNMENT)


def pipeline_start(*, started_by: Any = None) -> list[Run]:
    """Queue segmentation, training and assignment with their defaults as one ordered pipeline.

    All three runs are created up front, so the runs page shows what is coming and no other
    run of those kinds can start in between; one worker task then executes them in order.
    """
    runs_fail_stale()
    active = (
        Run.objects.filter(kind__in=PIPELINE_KINDS, status__in=ACTIVE_STATUSES)
        .order_by("created_at")
        .first()
    )
    if active is not None:
        raise RunAlreadyActive(active)
    with transaction.atomic():
        runs = [
            segmentation_run_start(started_by=started_by, enqueue=False),
            training_run_start(started_by=started_by, enqueue=False),
            assignment_run_start(started_by=started_by, enqueue=False),
        ]
        run_ids = [run.pk for run in runs]
        for step, run in enumerate(runs, start=1):
            run.parameters = {**run.parameters, "pipeline": {"step": step, "runs": run_ids}}
            run.stage = f"queued: pipeline step {step} of {len(runs)}"
            run.save(update_fields=["parameters", "stage"])
        transaction.on_commit(lambda: _pipeline_enqueue(run_ids))
    return runs


def _pipeline_enqueue(run_ids: list[int]) -> None:
    """Send the pipeline's one task; when the broker refuses it, its runs are failed (none
    stays queued to block its kind) and RunNotQueued says so to whoever started it."""
    try:
        _enqueue_pipeline(run_ids)
    except Exception as exc:
        runs = sorted(Run.objects.filter(pk__in=run_ids), key=lambda run: run_ids.index(run.pk))
        raise RunNotQueued(runs_fail_unqueued(runs=runs, reason=exc), exc) from exc


def _enqueue_pipeline(run_ids: list[int]) -> None:
    current_app.send_task(PIPELINE_TASK, kwargs={"run_ids": run_ids})


def pipeline_execute(*, run_ids: list[int]) -> list[Run]:
    """Execute the pipeline's runs in order in this worker; stop at the first that fails.

    The runs after a failed or cancelled one are failed with a message naming it, so none is
    left queued. When another delivery of the task already holds a run, this one leaves.
    """
    executors: dict[str, Callable[..., Run | None]] = {
        RunKind.SEGMENTATION: segmentation_run_execute,
        RunKind.TRAINING: training_run_execute,
        RunKind.ASSIGNMENT: assignment_run_execute,
    }
    runs = list(Run.objects.filter(pk__in=run_ids))
    runs.sort(key=lambda run: run_ids.index(run.pk))
    for position, run in enumerate(runs):
        if run.kind == RunKind.ASSIGNMENT:
            # Offers are assigned as of the moment the step starts, not when it was queued.
            params = {**run.parameters, "at": timezone.now().isoformat()}
            Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(parameters=params)
        executed = executors[run.kind](run_id=run.pk)
        run.refresh_from_db()
        if executed is not None and run.status == RunStatus.SUCCEEDED:
            continue
        if executed is None and run.status in (RunStatus.RUNNING, RunStatus.SUCCEEDED):
            logger.info("pipeline run %s is held by another worker; leaving it", run.pk)
            break
        _pipeline_skip(runs=runs[position + 1 :], stopped_at=run)
        break
    return [Run.objects.get(pk=run.pk) for run in runs]


def _pipeline_skip(*, runs: list[Run], stopped_at: Run) -> None:
    reason = (
        f"Not run: the pipeline stopped because {stopped_at.get_kind_display().lower()} "
        f"run #{stopped_at.pk} {stopped_at.status}."
    )
    for run in runs:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(stage="skipped")
        run_fail(run=run, error=reason)
