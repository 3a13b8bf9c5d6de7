from celery import shared_task


@shared_task(name="offers.tasks.heavy_rule_preview")
def heavy_rule_preview(run_id: int) -> None:
    from offers.rules.preview import rule_preview_execute

    rule_preview_execute(run_id=run_id)
