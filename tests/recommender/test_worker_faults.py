"""Faults in real processes while assignment and preview runs execute in a Celery worker: the
worker's machine dies (SIGKILL of its process group), PostgreSQL cuts the worker's
connections, the broker goes away. The batch that served before keeps serving, the run ends
failed with a message (or, when it needed nothing of what went away, whole), nothing of it is
left behind once the next run has cleaned up, and the next run works."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from deepflame_web.celery import app
from deepflame_web.core.models import Run, RunStatus
from deepflame_web.core.services import runs_fail_stale
from offers.models import RuleSet, RuleVersion
from offers.rules.services import rule_preview_start
from recommender.assignment.batch import assignment_run_start
from recommender.models import AssignmentBatch, CustomerState, Decision
from segments.models import Customer
from tests.worker import celery_worker, free_port, redis_server_start, run_wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
AT = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)
BATCH = "recommender.assignment.batch"
ASSIGNING = f"{BATCH}:assigning"  # after the first chunk of the new batch is written
READING = f"{BATCH}:reading every customer's history"  # before anything of the batch is written


def _first_batch() -> AssignmentBatch:
    call_command("assign_offers", at=AT, seed=1, stdout=StringIO())
    return AssignmentBatch.objects.get(is_active=True)


def _rows_outside(batches: list[AssignmentBatch]) -> int:
    kept = [batch.pk for batch in batches]
    return (
        Decision.objects.exclude(batch__in=kept).count()
        + CustomerState.objects.exclude(batch__in=kept).count()
        + AssignmentBatch.objects.exclude(pk__in=kept).count()
    )


def _fail_the_dead(run: Run) -> Run:
    time.sleep(2.5)  # the heartbeat window below is 2 s; the test worker beats every second
    assert runs_fail_stale(stale_after_seconds=2) == [run.pk]
    run.refresh_from_db()
    return run


def test_a_worker_killed_while_assigning_leaves_the_previous_batch_serving(
    served: None, tmp_path: Path
) -> None:
    before = _first_batch()

    with celery_worker(tmp_path / "dies.log", TEST_WORKER_DIES_AT=ASSIGNING) as worker:
        doomed = assignment_run_start(at=AT, seed=2)
        worker.wait(timeout=240)

    doomed.refresh_from_db()
    assert (doomed.status, doomed.stage[:10]) == (RunStatus.RUNNING, "assigning:")
    assert AssignmentBatch.objects.get(is_active=True) == before
    assert _rows_outside([before]) > 0, "the run was killed before it wrote part of its batch"
    doomed = _fail_the_dead(doomed)
    assert doomed.status == RunStatus.FAILED and "stopped responding" in doomed.error

    with celery_worker(tmp_path / "next.log"):
        after = run_wait(assignment_run_start(at=AT, seed=3))

    assert after.status == RunStatus.SUCCEEDED, after.error
    assert "removed 1 unfinished batch(es) of earlier runs" in after.log_tail
    new = AssignmentBatch.objects.get(is_active=True)
    assert new.run_id == after.pk and _rows_outside([before, new]) == 0
    assert Decision.objects.filter(batch=new).count() == Customer.objects.count()


def test_a_worker_killed_during_a_preview_changes_no_rules_and_the_next_preview_works(
    served: None, tmp_path: Path
) -> None:
    rule_set = RuleSet.objects.get()
    versions = list(RuleVersion.objects.values_list("pk", "number"))

    with celery_worker(
        tmp_path / "dies.log", TEST_WORKER_DIES_AT="recommender.assignment.preview:deciding"
    ) as worker:
        doomed = rule_preview_start(rule_set=rule_set, user=None, on=AT.date())
        worker.wait(timeout=240)

    doomed = _fail_the_dead(doomed)
    assert doomed.status == RunStatus.FAILED and "stopped responding" in doomed.error
    assert list(RuleVersion.objects.values_list("pk", "number")) == versions
    unchanged = RuleSet.objects.get()
    assert (unchanged.revision, unchanged.document) == (rule_set.revision, rule_set.document)

    with celery_worker(tmp_path / "next.log"):
        after = run_wait(rule_preview_start(rule_set=rule_set, user=None, on=AT.date()))

    assert after.status == RunStatus.SUCCEEDED, after.error
    assert after.result["customers"] == Customer.objects.count()


def _worker_connections_cut() -> int:
    """PostgreSQL ends every other connection to the test database, as a restart or a
    failover does to the worker's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a server that cuts its clients' connections needs PostgreSQL (SQLite has no server)",
)
def test_database_connections_cut_mid_batch_fail_the_run_with_a_message_and_the_next_works(
    served: None, tmp_path: Path
) -> None:
    before = _first_batch()
    release = tmp_path / "release"
    run = assignment_run_start(at=AT, seed=2)

    with celery_worker(
        tmp_path / "worker.log", TEST_WORKER_WAITS_AT=ASSIGNING, TEST_WORKER_RELEASE=str(release)
    ):
        run_wait(run, until=lambda r: r.stage.startswith("assigning:"), timeout=240)
        assert _worker_connections_cut() >= 1
        time.sleep(2.5)
        assert runs_fail_stale(stale_after_seconds=2) == [], (
            "the heartbeat died with its connection"
        )
        release.touch()
        cut = run_wait(run, timeout=120)

        assert cut.status == RunStatus.FAILED
        assert cut.error.startswith("The database connection was lost during the run (")
        assert AssignmentBatch.objects.get(is_active=True) == before
        after = run_wait(assignment_run_start(at=AT, seed=3))

    assert after.status == RunStatus.SUCCEEDED, after.error
    new = AssignmentBatch.objects.get(is_active=True)
    assert new.run_id == after.pk and _rows_outside([before, new]) == 0


@dataclass
class Broker:
    port: int
    redis: subprocess.Popen[bytes]


@pytest.fixture
def own_broker(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    """A Redis of this test's own as the broker, for the test and its worker, so that it can
    go away without touching the shared one."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    broker = Broker(port=port, redis=redis_server_start(port))
    before = app.conf.broker_url
    settings.CELERY_BROKER_URL = url
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app.conf.broker_url = url
    _drop_connection_pools()
    yield broker
    monkeypatch.undo()
    app.conf.broker_url = before
    _drop_connection_pools()
    if broker.redis.poll() is None:
        broker.redis.kill()
        broker.redis.wait()


def _drop_connection_pools() -> None:
    app._pool = None
    app.amqp._producer_pool = None


def test_the_broker_going_away_mid_batch_loses_nothing_and_the_next_run_works_once_it_is_back(
    served: None, tmp_path: Path, own_broker: Broker
) -> None:
    before = _first_batch()
    release = tmp_path / "release"
    run = assignment_run_start(at=AT, seed=2)

    with celery_worker(
        tmp_path / "worker.log", TEST_WORKER_WAITS_AT=READING, TEST_WORKER_RELEASE=str(release)
    ):
        run_wait(run, until=lambda r: r.stage.startswith("reading"), timeout=240)
        own_broker.redis.kill()
        own_broker.redis.wait()
        release.touch()
        # The batch needs nothing of the broker: it finishes whole and activates.
        finished = run_wait(run, timeout=180)
        assert finished.status == RunStatus.SUCCEEDED, finished.error
        new = AssignmentBatch.objects.get(is_active=True)
        assert new.run_id == run.pk and new != before

        back = redis_server_start(own_broker.port)
        try:
            _drop_connection_pools()
            after = run_wait(assignment_run_start(at=AT, seed=3), timeout=180)
        finally:
            back.kill()
            back.wait()

    assert after.status == RunStatus.SUCCEEDED, after.error
    latest = AssignmentBatch.objects.get(is_active=True)
    assert latest.run_id == after.pk and _rows_outside([before, new, latest]) == 0
    assert Run.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists()
