"""Runs through a real Celery worker process on the real broker and database."""

import time
from pathlib import Path

import pytest

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import (
    RunAlreadyActive,
    run_start,
    runs_fail_stale,
    system_check_start,
)
from tests.worker import celery_worker, kill_worker, run_wait

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_moves_a_run_from_queued_to_running_to_succeeded(tmp_path: Path) -> None:
    run = system_check_start()
    seen = {run.status}
    assert run.status == RunStatus.QUEUED

    with celery_worker(tmp_path / "worker.log"):
        deadline = time.monotonic() + 60
        while run.status != RunStatus.SUCCEEDED and time.monotonic() < deadline:
            run.refresh_from_db()
            seen.add(run.status)
            time.sleep(0.05)

    assert run.status == RunStatus.SUCCEEDED
    assert seen >= {RunStatus.QUEUED, RunStatus.SUCCEEDED}
    assert run.started_at is not None and run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert run.result["java"].startswith(("openjdk", "java"))
    assert run.worker != ""


def test_a_task_that_raises_marks_its_run_failed_with_the_error(tmp_path: Path) -> None:
    run = run_start(kind=RunKind.TRAINING, task_name="tests.raises")

    with celery_worker(tmp_path / "worker.log"):
        run = run_wait(run, timeout=60)

    assert run.status == RunStatus.FAILED
    assert run.error.startswith("RuntimeError: segment table is corrupt")
    assert run.stage == "about to fail"


def test_a_real_check_failure_fails_the_run_and_names_the_cause(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the lake should be")
    run = system_check_start(parameters={"lake_uri": str(blocked / "lake")})

    with celery_worker(tmp_path / "worker.log"):
        run = run_wait(run, timeout=60)

    assert run.status == RunStatus.FAILED
    assert f"The lake (LAKE_URI) at {blocked / 'lake'} is not writable" in run.error


def test_a_killed_workers_run_is_marked_failed_by_the_stale_check(tmp_path: Path) -> None:
    run = run_start(kind=RunKind.SEGMENTATION, task_name="tests.works_until_killed")

    with celery_worker(tmp_path / "worker.log") as worker:
        run = run_wait(
            run, until=lambda r: r.status == RunStatus.RUNNING and r.progress >= 2, timeout=60
        )
        kill_worker(worker)
    last_beat = Run.objects.get(pk=run.pk).heartbeat_at
    time.sleep(3)

    assert Run.objects.get(pk=run.pk).heartbeat_at == last_beat, "a killed worker kept beating"
    assert runs_fail_stale(stale_after_seconds=2) == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "stopped responding" in run.error


def test_a_second_start_while_the_worker_runs_the_first_is_refused(tmp_path: Path) -> None:
    run = run_start(kind=RunKind.SEGMENTATION, task_name="tests.works_until_killed")

    with celery_worker(tmp_path / "worker.log"):
        run_wait(run, until=lambda r: r.status == RunStatus.RUNNING, timeout=60)
        with pytest.raises(RunAlreadyActive, match=f"already running \\(run #{run.pk}"):
            run_start(kind=RunKind.SEGMENTATION, task_name="tests.works_until_killed")

    assert Run.objects.filter(kind=RunKind.SEGMENTATION).count() == 1
