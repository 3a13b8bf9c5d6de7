"""Tasks only the test worker loads (`--include tests.worker_tasks`): a run that raises, and
one that keeps working until its worker is killed. Both go through the real run machinery.
With TEST_WORKER_DIES_AT or TEST_WORKER_WAITS_AT set, the worker dies or waits at a chosen
stage of a real run."""

import importlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _at_stage(target: str, then: Callable[[], None]) -> None:
    """`module:stage prefix`: `then` is called in the worker right after that module's run
    records a stage starting with the prefix."""
    module_name, prefix = target.split(":", 1)
    module = importlib.import_module(module_name)
    advance = getattr(module, "run_advance")  # noqa: B009 (a module chosen at run time)

    def advance_then(*, run: Run, stage: str | None = None, **kwargs: Any) -> Any:
        advanced = advance(run=run, stage=stage, **kwargs)
        if stage is not None and stage.startswith(prefix):
            then()
        return advanced

    setattr(module, "run_advance", advance_then)  # noqa: B010 (a module chosen at run time)


def _die() -> None:
    """The worker's whole process group is SIGKILLed, as when its machine dies."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _wait_for(release: Path) -> Callable[[], None]:
    def wait() -> None:
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    return wait


if os.environ.get("TEST_WORKER_DIES_AT"):
    _at_stage(os.environ["TEST_WORKER_DIES_AT"], _die)
if os.environ.get("TEST_WORKER_WAITS_AT"):
    # Until the file TEST_WORKER_RELEASE exists: the test acts on a run held at a known stage.
    _at_stage(
        os.environ["TEST_WORKER_WAITS_AT"], _wait_for(Path(os.environ["TEST_WORKER_RELEASE"]))
    )
