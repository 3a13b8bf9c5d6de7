from celery import shared_task

from deepflame_web.core.checks import system_check_execute
from deepflame_web.core.services import run_execute, runs_fail_stale


@shared_task
def fail_stale_runs() -> list[int]:
    """Fail lost runs (silent workers, queued runs nobody claims) so none blocks its kind."""
    return runs_fail_stale()


@shared_task
def system_check(run_id: int) -> None:
    run_execute(run_id=run_id, work=system_check_execute)
