"""The periodic schedule: what celery beat runs and when, kept in the database
(django-celery-beat's tables, read by its DatabaseScheduler) so Admins edit it in the browser
and beat follows an edit without a restart.

The product's entries are installed by a migration from DEFAULT_SCHEDULE and never
overwritten afterwards: an Admin's edit survives deploys and beat restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from deepflame_web.core.parsing import ascii_int
from deepflame_web.core.signals import schedule_changed


@dataclass(frozen=True)
class Default:
    task: str
    description: str
    every_minutes: int | None = None
    cron: str | None = None
    enabled: bool = True


DEFAULT_SCHEDULE = {
    "fail-stale-runs": Default(
        task="deepflame_web.core.tasks.fail_stale_runs",
        description="Mark failed every run whose worker stopped sending heartbeats, and every "
        "queued run that no worker picked up while the workers were idle.",
        every_minutes=1,
    ),
    "feedback-to-lake": Default(
        task="recommender.tasks.feedback_to_lake",
        description="Land the API's impressions, clicks and redemptions in the lake "
        "(the next training reads them).",
        every_minutes=5,
    ),
    "refresh-performance": Default(
        task="recommender.tasks.heavy_refresh_performance",
        description="Count offer performance (treated versus holdout) again.",
        every_minutes=15,
    ),
    "monthly-pipeline": Default(
        task="deepflame_web.core.tasks.scheduled_pipeline",
        description="Retrain segments, retrain the model and reassign offers, in order, "
        "after the month's import; skipped while a run of it is still active.",
        cron="0 3 2 * *",
        enabled=False,
    ),
}
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
MINUTES_MAX = 60 * 24 * 31


class ScheduleError(ValueError):
    """An edit that names what is wrong with it."""


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    task: str
    description: str
    every_minutes: int | None
    cron: str | None
    enabled: bool
    last_run_at: datetime | None
    runs: int

    @property
    def when(self) -> str:
        if self.every_minutes is not None:
            plural = "" if self.every_minutes == 1 else "s"
            return f"every {self.every_minutes} minute{plural}"
        return f"cron {self.cron} (UTC)"


def schedule_rows() -> list[ScheduleRow]:
    """Every periodic task beat knows, as the runs page shows it."""
    from django_celery_beat.models import PeriodicTask

    tasks = PeriodicTask.objects.select_related("interval", "crontab").order_by("name")
    return [_row(task) for task in tasks]


def _row(task: Any) -> ScheduleRow:
    every = None
    if task.interval is not None:
        every = round(task.interval.every * _seconds(task.interval.period) / 60)
    cron = None
    if task.crontab is not None:
        cron = " ".join(str(getattr(task.crontab, name)) for name in CRON_FIELDS)
    return ScheduleRow(
        name=task.name,
        task=task.task,
        description=task.description,
        every_minutes=every,
        cron=cron,
        enabled=task.enabled,
        last_run_at=task.last_run_at,
        runs=task.total_run_count,
    )


def _seconds(period: str) -> int:
    return {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 0}[period]


def schedule_update(*, name: str, when: str, enabled: bool, user: Any = None) -> ScheduleRow:
    """Set an entry's timing (a number of minutes, or a five-field cron expression in UTC)
    and whether it runs. Beat picks the change up within its sync interval."""
    from django_celery_beat.models import PeriodicTask

    with transaction.atomic():
        task = (
            PeriodicTask.objects.select_for_update(of=("self",))
            .select_related("interval", "crontab")
            .filter(name=name)
            .first()
        )
        if task is None:
            raise ScheduleError(f"There is no periodic task named “{name}”.")
        before = _row(task)
        task.interval, task.crontab = _timing(name, when)
        task.enabled = enabled
        task.save()
        after = _row(task)
        schedule_changed.send(
            sender=PeriodicTask,
            name=name,
            before={"when": before.when, "state": _state(before)},
            after={"when": after.when, "state": _state(after)},
            user=user,
        )
    return after


def _state(row: ScheduleRow) -> str:
    return "runs" if row.enabled else "paused"


def _timing(name: str, when: str) -> tuple[Any, Any]:
    """(interval, crontab) for what an Admin typed: "15" means every 15 minutes."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    text = " ".join(when.split())
    if not text:
        raise ScheduleError(f"“{name}”: say when it runs, in minutes or as a cron expression.")
    minutes = ascii_int(text)
    if minutes is not None:
        if not 1 <= minutes <= MINUTES_MAX:
            raise ScheduleError(
                f"“{name}”: every {minutes} minutes is out of range (1 to {MINUTES_MAX})."
            )
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=minutes, period=IntervalSchedule.MINUTES
        )
        return interval, None
    if len(text.split(" ")) != len(CRON_FIELDS):
        raise ScheduleError(
            f"“{name}”: “{text}” is neither a number of minutes nor a cron expression of five "
            "fields (minute hour day-of-month month day-of-week), e.g. “0 3 2 * *”."
        )
    _cron_check(name, text)
    fields = dict(zip(CRON_FIELDS, text.split(" "), strict=True))
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone="UTC")
    return None, crontab


def _cron_check(name: str, text: str) -> None:
    from celery.schedules import ParseException, crontab

    minute, hour, day_of_month, month_of_year, day_of_week = text.split(" ")
    try:
        crontab(minute, hour, day_of_week, day_of_month, month_of_year)
    except (ParseException, ValueError) as exc:
        raise ScheduleError(f"“{name}”: the cron expression “{text}” is not valid: {exc}") from exc


def schedule_install(apps: Any = None) -> int:
    """Create the product's entries that are missing (an existing one is left as it is).
    Returns how many were created; `apps` is a migration's app registry."""
    from django.apps import apps as live_apps

    registry = apps or live_apps
    periodic = registry.get_model("django_celery_beat", "PeriodicTask")
    intervals = registry.get_model("django_celery_beat", "IntervalSchedule")
    crontabs = registry.get_model("django_celery_beat", "CrontabSchedule")
    created = 0
    for name, default in DEFAULT_SCHEDULE.items():
        if periodic.objects.filter(name=name).exists():
            continue
        timing: dict[str, Any] = {}
        if default.every_minutes is not None:
            timing["interval"], _ = intervals.objects.get_or_create(
                every=default.every_minutes, period="minutes"
            )
        else:
            fields = dict(zip(CRON_FIELDS, (default.cron or "").split(" "), strict=True))
            timing["crontab"], _ = crontabs.objects.get_or_create(**fields, timezone="UTC")
        periodic.objects.create(
            name=name,
            task=default.task,
            description=default.description,
            enabled=default.enabled,
            **timing,
        )
        created += 1
    return created
