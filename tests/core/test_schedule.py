"""The periodic schedule: installed with the database, shown on the runs page, edited by
Admins only, and followed by a real celery beat without a restart."""

import time
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from deepflame_web.celery import app
from deepflame_web.core.schedule import (
    DEFAULT_SCHEDULE,
    ScheduleError,
    schedule_install,
    schedule_rows,
    schedule_update,
)
from tests.worker import celery_beat

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("periodic_schedule")]


def _row(name: str) -> Any:
    return next(row for row in schedule_rows() if row.name == name)


def test_the_products_entries_name_real_tasks_with_their_defaults() -> None:
    app.loader.import_default_modules()

    rows = {row.name: row for row in schedule_rows()}

    assert set(rows) == set(DEFAULT_SCHEDULE)
    assert all(row.task in app.tasks for row in rows.values())
    assert rows["fail-stale-runs"].when == "every 1 minute"
    assert rows["feedback-to-lake"].when == "every 5 minutes"
    assert rows["refresh-performance"].when == "every 15 minutes"
    assert rows["monthly-pipeline"].when == "cron 0 3 2 * * (UTC)"
    assert not rows["monthly-pipeline"].enabled
    assert all(rows[name].enabled for name in rows if name != "monthly-pipeline")


def test_an_admin_changes_timing_and_pauses_from_the_runs_page(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)

    every = client.post(
        "/runs/schedule/refresh-performance/", {"when": " 30 ", "enabled": "on"}, follow=True
    )
    cron = client.post("/runs/schedule/monthly-pipeline/", {"when": "0  4 1 * *"}, follow=True)

    assert "“refresh-performance” now runs: every 30 minutes." in every.content.decode()
    assert "“monthly-pipeline” now is paused: cron 0 4 1 * * (UTC)." in cron.content.decode()
    refresh = PeriodicTask.objects.get(name="refresh-performance")
    assert (refresh.interval.every, refresh.interval.period, refresh.crontab) == (
        30,
        IntervalSchedule.MINUTES,
        None,
    )
    pipeline = PeriodicTask.objects.get(name="monthly-pipeline")
    assert pipeline.interval is None and not pipeline.enabled
    assert (pipeline.crontab.minute, pipeline.crontab.hour, pipeline.crontab.day_of_month) == (
        "0",
        "4",
        "1",
    )
    page = client.get("/runs/").content.decode()
    assert 'data-schedule="refresh-performance"' in page and "every 30 minutes" in page


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("", "say when it runs, in minutes or as a cron expression"),
        ("0", "every 0 minutes is out of range (1 to 44640)"),
        ("50000", "every 50000 minutes is out of range"),
        ("soon", "“soon” is neither a number of minutes nor a cron expression of five fields"),
        ("0 3 * *", "“0 3 * *” is neither a number of minutes nor a cron expression"),
        ("61 3 * * *", "the cron expression “61 3 * * *” is not valid"),
        ("0 3 * * funday", "the cron expression “0 3 * * funday” is not valid"),
    ],
)
def test_a_bad_timing_is_refused_with_what_is_wrong_and_nothing_changes(
    client: Client, admin_user: Any, when: str, message: str
) -> None:
    client.force_login(admin_user)
    before = _row("feedback-to-lake")

    response = client.post("/runs/schedule/feedback-to-lake/", {"when": when}, follow=True)

    html = response.content.decode()
    assert "The schedule was not changed: “feedback-to-lake”: " in html
    assert message in html
    assert _row("feedback-to-lake") == before


def test_an_unknown_entry_is_named() -> None:
    with pytest.raises(ScheduleError, match="no periodic task named “nightly”"):
        schedule_update(name="nightly", when="5", enabled=True)


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_marketers_and_analysts_see_the_schedule_but_cannot_change_it(
    client: Client, request: pytest.FixtureRequest, role: str
) -> None:
    client.force_login(request.getfixturevalue(role))
    before = schedule_rows()

    page = client.get("/runs/").content.decode()
    posted = client.post("/runs/schedule/feedback-to-lake/", {"when": "1", "enabled": "on"})

    assert 'data-schedule="feedback-to-lake"' in page and "every 5 minutes" in page
    assert "schedule-form" not in page and "Admins can change it." in page
    assert posted.status_code == 403
    assert schedule_rows() == before


def test_installing_again_keeps_an_admins_edit() -> None:
    schedule_update(name="feedback-to-lake", when="10", enabled=False)

    created = schedule_install()

    assert created == 0
    row = _row("feedback-to-lake")
    assert (row.when, row.enabled) == ("every 10 minutes", False)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="reads the queue from Redis, the production broker (CI runs with it)",
)
def test_a_running_beat_follows_an_edit_without_a_restart(tmp_path: Path) -> None:
    """Beat sends a task every second to a queue no worker reads; once an Admin pauses it,
    the sending stops while the same beat process keeps running."""
    queue = f"beat-test-{time.monotonic_ns()}"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    PeriodicTask.objects.filter(name="fail-stale-runs").update(
        interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS),
        queue=queue,
    )
    try:
        with celery_beat(tmp_path / "beat.log") as beat:
            _wait_for_sends(broker, queue, at_least=2)
            schedule_update(name="fail-stale-runs", when="1", enabled=False)
            time.sleep(5)  # beat notices the change at a one-second wake-up (slower under load)
            paused_at = broker.llen(queue)
            time.sleep(4)

            assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-2000:]
            assert broker.llen(queue) == paused_at
    finally:
        broker.delete(queue)


def _wait_for_sends(broker: Any, queue: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while broker.llen(queue) < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"beat sent {broker.llen(queue)} tasks to {queue} in {timeout}s")
        time.sleep(0.3)
