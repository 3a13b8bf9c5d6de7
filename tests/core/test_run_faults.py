"""Runs when the machinery fails: a broker that refuses the task, a message no worker claims."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from deepflame_web.celery import app
from deepflame_web.console.tasks import scheduled_pipeline
from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import RunNotQueued, run_start, runs_fail_stale

TASK = "deepflame_web.core.tasks.system_check"
CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The broker is a Redis URL on a port where nothing listens: every send is refused.

    Celery reads CELERY_BROKER_URL from the environment before its configuration, so both
    change, and the connection pools made for the real broker are dropped."""
    before = app.conf.broker_url
    settings.CELERY_BROKER_URL = CLOSED_PORT
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT)
    app.conf.broker_url = CLOSED_PORT
    _drop_connection_pools()
    yield
    monkeypatch.undo()
    app.conf.broker_url = before
    _drop_connection_pools()


def _drop_connection_pools() -> None:
    app._pool = None
    app.amqp._producer_pool = None


def _aged(run: Run, *, minutes: int) -> Run:
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_a_refused_enqueue_raises_a_clear_error_and_leaves_no_queued_run(broker_down: None) -> None:
    with pytest.raises(RunNotQueued) as refused:
        run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)

    run = Run.objects.get()
    assert "could not be queued: the task broker refused it" in str(refused.value)
    assert refused.value.active.pk == run.pk
    assert (run.status, run.stage) == (RunStatus.FAILED, "not queued")
    assert "Connection refused" in run.error
    assert not Run.objects.filter(status=RunStatus.QUEUED).exists()
    with pytest.raises(RunNotQueued):
        run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK)  # not "already queued"


@pytest.mark.django_db(transaction=True)
def test_the_runs_page_says_the_run_was_not_queued(broker_down: None, admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.post("/runs/system-check/")

    assert response.status_code == 302
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(texts) == 1 and "could not be queued" in texts[0]
    assert list(Run.objects.values_list("status", flat=True)) == [RunStatus.FAILED]


@pytest.mark.django_db(transaction=True)
def test_the_pipeline_button_says_its_runs_were_not_queued(
    broker_down: None, admin_user: Any
) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.post("/runs/pipeline/")

    assert response.status_code == 302
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(texts) == 1
    assert texts[0].startswith(
        "The pipeline was not started, nothing was queued: The segmentation, training and "
        "assignment runs could not be queued: the task broker refused it (OperationalError: "
    )
    runs = Run.objects.order_by("pk")
    assert [(run.status, run.stage) for run in runs] == [(RunStatus.FAILED, "not queued")] * 3


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_nobody_claims_while_the_workers_are_idle_is_failed(
    no_enqueue: list[int],
) -> None:
    fresh = run_start(kind=RunKind.IMPORT, task_name=TASK)
    lost = _aged(run_start(kind=RunKind.SYSTEM_CHECK, task_name=TASK), minutes=20)

    failed = runs_fail_stale(queued_after_seconds=15 * 60)

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert failed == [lost.pk]
    assert (lost.status, lost.stage) == (RunStatus.FAILED, "not picked up")
    assert lost.error.startswith("No worker picked this run up")
    assert lost.finished_at is not None
    assert fresh.status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_waiting_behind_a_running_one_is_kept(no_enqueue: list[int]) -> None:
    Run.objects.create(
        kind=RunKind.TRAINING, task_name=TASK, status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    waiting = _aged(run_start(kind=RunKind.ASSIGNMENT, task_name=TASK), minutes=120)

    failed = runs_fail_stale(queued_after_seconds=15 * 60)

    waiting.refresh_from_db()
    assert failed == []
    assert waiting.status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_is_kept_while_a_worker_was_busy_during_the_window(
    no_enqueue: list[int],
) -> None:
    waiting = _aged(run_start(kind=RunKind.ASSIGNMENT, task_name=TASK), minutes=120)
    Run.objects.create(
        kind=RunKind.TRAINING,
        task_name=TASK,
        status=RunStatus.SUCCEEDED,
        finished_at=timezone.now() - timedelta(minutes=1),
    )

    assert runs_fail_stale(queued_after_seconds=15 * 60) == []
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_the_monthly_pipeline_is_not_skipped_for_a_run_lost_last_month(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(
        "deepflame_web.console.pipeline.current_app.send_task",
        lambda name, **kwargs: sent.append(name),
    )
    lost = Run.objects.create(kind=RunKind.ASSIGNMENT, task_name=TASK)
    Run.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(days=31))

    queued = scheduled_pipeline()

    lost.refresh_from_db()
    assert lost.status == RunStatus.FAILED
    assert len(queued) == 3
    assert (
        list(Run.objects.filter(pk__in=queued).values_list("status", flat=True))
        == [RunStatus.QUEUED] * 3
    )
    assert sent == ["deepflame_web.core.tasks.heavy_run_pipeline"]
