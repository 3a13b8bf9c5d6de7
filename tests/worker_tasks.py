"""Tasks only the test worker loads (`--include tests.worker_tasks`): a run that raises, and
one that keeps working until its worker is killed. Both go through the real run machinery."""

import time

from celery import shared_task

from deepflame_web.core.models import Run
from deepflame_web.core.services import run_advance, run_execute


def _raise(run: Run) -> None:
    run_advance(run=run, stage="about to fail", progress=30)
    raise RuntimeError("segment table is corrupt")


def _work_forever(run: Run) -> None:
    for step in range(600):
        run_advance(run=run, stage="working", progress=step % 100)
        time.sleep(0.5)


@shared_task(name="tests.raises")
def raises(run_id: int) -> None:
    run_execute(run_id=run_id, work=_raise)


@shared_task(name="tests.works_until_killed")
def works_until_killed(run_id: int) -> None:
    run_execute(run_id=run_id, work=_work_forever)
