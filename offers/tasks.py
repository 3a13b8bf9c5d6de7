from celery import shared_task

from offers.rules.preview import rule_preview_execute

PREVIEW_TIME_LIMIT = 30 * 60


@shared_task(
    name="offers.tasks.heavy_rule_preview",
    time_limit=PREVIEW_TIME_LIMIT,
    soft_time_limit=PREVIEW_TIME_LIMIT - 30,
)
def heavy_rule_preview(run_id: int) -> None:
    """Preview a draft on the whole customer base (see offers.rules.preview)."""

    rule_preview_execute(run_id=run_id)
