"""The pipeline's tasks; their names are the ones stored schedules and queued messages use."""

import logging

from celery import shared_task
from django.conf import settings

from deepflame_web.console.pipeline import pipeline_execute, pipeline_start
from deepflame_web.core.services import RunAlreadyActive

logger = logging.getLogger(__name__)


@shared_task(
    name="deepflame_web.core.tasks.heavy_run_pipeline",
    time_limit=3 * settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=3 * settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def heavy_run_pipeline(run_ids: list[int]) -> None:
    """Segmentation, training and assignment in order; each is its own run on the runs page."""
    pipeline_execute(run_ids=run_ids)


@shared_task(name="deepflame_web.core.tasks.scheduled_pipeline")
def scheduled_pipeline() -> list[int]:
    """The whole pipeline started by the periodic schedule; skipped (and logged) while one of
    its runs is still active, so a slow month never stacks pipelines."""
    try:
        runs = pipeline_start()
    except RunAlreadyActive as exc:
        logger.warning("The scheduled pipeline was skipped: %s", exc)
        return []
    return [run.pk for run in runs]
