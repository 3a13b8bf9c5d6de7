"""Runs through a real Celery worker process on the real broker and database."""

import os
import shutil
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
from tests.worker import celery_worker, kill_worker, run_finished, run_wait

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _java_held_until(release: Path, folder: Path) -> Path:
    """A folder with a `java` that waits for `release` to exist, then runs the real one: the
    system check stays at its java stage until the test has looked at the run there."""
    real_java = shutil.which("java")
    assert real_java is not None, "the system check needs Java"
    folder.mkdir()
    java = folder / "java"
    java.write_text(
        "#!/bin/sh\n"
        "for _ in $(seq 400); do\n"  # 20 s, within the check's 30 s limit on `java -version`
        f'  [ -e "{release}" ] && exec "{real_java}" "$@"\n'
        "  sleep 0.05\n"
        "done\n"
        "exit 1\n"
    )
    java.chmod(0o755)
    return folder


def test_worker_moves_a_run_from_queued_to_running_to_succeeded(tmp_path: Path) -> None:
    release = tmp_path / "release-java"
    held_java = _java_held_until(release, tmp_path / "bin")
    run = system_check_start()
    run.refresh_from_db()
    statuses = [run.status]  # every status the run is read in, in order, without repeats
    at_java: Run | None = None

    with celery_worker(tmp_path / "worker.log", PATH=f"{held_java}:{os.environ['PATH']}"):
        deadline = time.monotonic() + 60
        while not run_finished(run) and time.monotonic() < deadline:
            time.sleep(0.02)
            run.refresh_from_db()
            if run.status != statuses[-1]:
                statuses.append(run.status)
            if run.stage == "java" and at_java is None:
                at_java = Run.objects.get(pk=run.pk)
                release.touch()

    assert at_java is not None, f"the run never reached the java stage: {statuses}"
    assert statuses == [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED]
    assert at_java.status == RunStatus.RUNNING
    assert at_java.started_at is not None and at_java.finished_at is None
    assert at_java.worker != ""
    assert run.started_at == at_java.started_at
    assert run.finished_at is not None and run.finished_at > run.started_at
    assert run.progress == 100
    assert run.result["java"].startswith(("openjdk", "java"))
    assert run.worker == at_java.worker


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
