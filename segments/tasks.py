from celery import shared_task

from segments.segmentation.services import segmentation_run_execute
from segments.services import history_import_execute


@shared_task(name="segments.tasks.heavy_import_history")
def heavy_import_history(run_id: int) -> None:
    history_import_execute(run_id=run_id)


@shared_task(name="segments.tasks.heavy_run_segmentation")
def heavy_run_segmentation(run_id: int) -> None:
    segmentation_run_execute(run_id=run_id)
