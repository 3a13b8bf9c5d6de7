"""Run lifecycle services, without a worker: what every long job relies on."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import (
    RunAlreadyActive,
    RunCancelled,
    run_advance,
    run_cancel,
    run_execute,
    run_start,
    runs_fail_stale,
)

TASK = "deepflame_web.core.tasks.system_check"


@pytest.fixture(autouse=True)
def in_process(no_enqueue: list[int]) -> list[int]:
    """These tests execute their runs in-process: nothing is sent to a worker."""
    return no_enqueue


@pytest.mark.django_db(transaction=True)
def test_start_creates_a_queued_run_and_enqueues_it_after_commit(no_enqueue: list[int]) -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK, parameters={"x": 1})

    assert run.status == RunStatus.QUEUED
    assert run.parameters == {"x": 1}
    assert no_enqueue == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_second_start_of_the_same_kind_is_refused_with_a_clear_message() -> None:
    first = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    with pytest.raises(RunAlreadyActive) as refused:
        run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    assert f"run #{first.pk}" in str(refused.value)
    assert "already queued" in str(refused.value)
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_another_kind_may_start_while_one_is_active() -> None:
    run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    other = run_start(kind=RunKind.IMPORT, task_name=TASK)

    assert other.status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_execute_records_progress_log_and_result() -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    def work(r: Run) -> dict[str, int]:
        run_advance(run=r, stage="counting", progress=150, log="counted 3")
        return {"counted": 3}

    done = run_execute(run_id=run.pk, work=work)

    assert done is not None
    assert done.status == RunStatus.SUCCEEDED
    assert done.progress == 100
    assert done.result == {"counted": 3}
    assert "counted 3" in done.log_tail
    assert done.started_at is not None and done.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_execute_twice_runs_the_work_once() -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)
    calls: list[int] = []

    def work(r: Run) -> dict[str, int]:
        calls.append(r.pk)
        return {}

    run_execute(run_id=run.pk, work=work)
    second = run_execute(run_id=run.pk, work=work)

    assert calls == [run.pk]
    assert second is None


@pytest.mark.django_db(transaction=True)
def test_work_that_raises_fails_the_run_with_the_error() -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    def work(r: Run) -> None:
        raise ValueError("the lake is empty")

    failed = run_execute(run_id=run.pk, work=work)

    assert failed is not None
    assert failed.status == RunStatus.FAILED
    assert failed.error.startswith("ValueError: the lake is empty")
    assert run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK).status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_run_at_its_next_progress_call() -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)
    reached: list[str] = []

    def work(r: Run) -> None:
        run_cancel(run=r)
        reached.append("cancelled")
        run_advance(run=r, progress=50)
        reached.append("after")

    result = run_execute(run_id=run.pk, work=work)

    assert reached == ["cancelled"]
    assert result is not None and result.status == RunStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_advance_on_a_cancelled_run_raises() -> None:
    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)
    run_cancel(run=run)

    with pytest.raises(RunCancelled):
        run_advance(run=run, progress=10)


@pytest.mark.django_db(transaction=True)
def test_stale_running_run_is_failed_and_fresh_one_is_kept() -> None:
    stale = Run.objects.create(
        kind=RunKind.IMPORT,
        task_name=TASK,
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
        worker="host:123",
    )
    fresh = Run.objects.create(
        kind=RunKind.TRAINING,
        task_name=TASK,
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now(),
    )

    failed = runs_fail_stale(stale_after_seconds=120)

    assert failed == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == RunStatus.FAILED
    assert "(host:123) stopped responding" in stale.error
    assert fresh.status == RunStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_start_clears_a_stale_run_of_the_same_kind_first() -> None:
    Run.objects.create(
        kind=RunKind.SYSTEM_CHECK,
        task_name=TASK,
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )

    run = run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    assert run.status == RunStatus.QUEUED
    assert Run.objects.filter(status=RunStatus.FAILED).count() == 1
