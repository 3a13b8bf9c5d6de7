"""A cancel that races the switch to a new batch: either nothing is activated, or the batch
serves and the run is not shown as cancelled."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction

from deepflame_web.core.models import Run, RunStatus
from deepflame_web.core.services import run_cancel, run_commit_point
from recommender.assignment import batch as batch_module
from recommender.assignment.batch import assignment_run_execute, assignment_run_start
from recommender.models import AssignmentBatch
from tests.recommender.assignment_data import World, batch_create, world_create

pytestmark = pytest.mark.django_db(transaction=True)
AT = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)
COUNTS = {"customers": 3, "holdout_customers": 0, "assignments": 6}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A previous batch active, and a run whose model, rules and assignment are stand-ins."""
    world = world_create()
    batch_create(world, AT - dt.timedelta(days=30))
    engine = SimpleNamespace(
        model_id=world.model.pk, rule_version_id=world.rule_version.pk, scorer_name="TxT"
    )
    monkeypatch.setattr(
        batch_module,
        "engine_current",
        lambda seed: (engine, world.definition, world.catalog),
    )
    monkeypatch.setattr(batch_module, "_assign_all", lambda *args, **kwargs: dict(COUNTS))
    monkeypatch.setattr(batch_module, "performance_refresh", lambda batch: 0)
    return world


def _start() -> Run:
    return assignment_run_start(at=AT, seed=1, enqueue=False)


def test_a_cancel_before_the_switch_activates_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = AssignmentBatch.objects.get(is_active=True)
    run = _start()

    def cancelled_after_the_last_chunk(run: Run, *args: Any, **kwargs: Any) -> dict[str, int]:
        run_cancel(run=run)
        return dict(COUNTS)

    monkeypatch.setattr(batch_module, "_assign_all", cancelled_after_the_last_chunk)

    done = assignment_run_execute(run_id=run.pk)

    assert done is not None and done.status == RunStatus.CANCELLED
    assert done.committed_at is None
    assert list(AssignmentBatch.objects.values_list("pk", "is_active")) == [(previous.pk, True)]


def test_a_cancel_during_the_last_stage_is_refused_and_the_run_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _start()
    answers: list[Run] = []
    monkeypatch.setattr(
        batch_module, "performance_refresh", lambda batch: answers.append(run_cancel(run=run))
    )

    done = assignment_run_execute(run_id=run.pk)

    assert done is not None and done.status == RunStatus.SUCCEEDED
    active = AssignmentBatch.objects.get(is_active=True)
    assert active.run_id == run.pk
    assert done.result["batch"] == active.pk
    assert [answer.status for answer in answers] == [RunStatus.RUNNING]
    assert not answers[0].is_cancellable
    assert "Cancel refused: the run activated its result" in done.log_tail


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite has none)"
)
def test_a_cancel_that_arrives_while_the_switch_commits_waits_and_is_refused(
    world: World,
) -> None:
    """The activating transaction holds the run's row; a cancel from another connection
    waits for it and then sees a committed run."""
    run = _start()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    answered: list[Run] = []

    def cancel() -> None:
        try:
            answered.append(run_cancel(run=run))
        finally:
            connection.close()

    with transaction.atomic():
        run_commit_point(run=run)
        canceller = threading.Thread(target=cancel)
        canceller.start()
        canceller.join(timeout=1)
        assert canceller.is_alive(), "the cancel must wait for the activating transaction"
    canceller.join(timeout=10)

    assert [answer.status for answer in answered] == [RunStatus.RUNNING]
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
