"""Run lifecycle: start (enqueue on commit), execute in a worker, advance, finish, fail, cancel.

A task calls `run_execute(run_id=..., work=...)`; everything else about the run's state is
handled here so every long job behaves the same way.
"""

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from deepflame_web.core.access import ADMIN
from deepflame_web.core.errors import DomainError
from deepflame_web.core.models import (
    ACTIVE_STATUSES,
    Run,
    RunKind,
    RunStatus,
    run_kinds_excluding,
)

logger = logging.getLogger(__name__)
LOG_TAIL_CHARS = 20_000


class RunAlreadyActive(Exception):
    """Raised when a run of the same kind (or one it excludes) is already queued or running."""

    def __init__(self, active: Run):
        self.active = active
        super().__init__(
            f"A {active.get_kind_display().lower()} run is already {active.status} "
            f"(run #{active.pk}, started {active.created_at:%Y-%m-%d %H:%M} UTC); "
            "wait for it to finish or cancel it first."
        )


class RunError(Exception):
    """A failure the user can act on: recorded with its message only, without a traceback."""


class RunCancelled(Exception):
    """Raised inside a worker when the run was cancelled while it was executing."""


def run_start(
    *,
    kind: RunKind | str,
    task_name: str,
    parameters: dict[str, Any] | None = None,
    started_by: Any = None,
    enqueue: bool = True,
) -> Run:
    """Create a queued run and enqueue its task once the transaction commits.

    Management commands pass enqueue=False and execute the run in their own process, so the
    command line and the browser share one run record and one code path.
    """
    runs_fail_stale()
    excluding = run_kinds_excluding(kind)
    active = Run.objects.filter(kind__in=excluding, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        raise RunAlreadyActive(active)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                kind=kind,
                task_name=task_name,
                parameters=parameters or {},
                started_by=started_by if getattr(started_by, "is_authenticated", False) else None,
                stage="queued",
            )
            if enqueue:
                transaction.on_commit(lambda: _enqueue(run))
    except IntegrityError:
        # Another process won the race between our check and our insert.
        raise RunAlreadyActive(
            Run.objects.filter(kind__in=excluding, status__in=ACTIVE_STATUSES).get()
        ) from None
    return run


def _enqueue(run: Run) -> None:
    current_app.send_task(run.task_name, kwargs={"run_id": run.pk})


def run_execute(*, run_id: int, work: Callable[[Run], dict[str, Any] | None]) -> Run | None:
    """Execute `work` for a queued run in this worker; safe to call twice for one run."""
    run = _claim(run_id)
    if run is None:
        return None
    stop_heartbeat = _start_heartbeat(run.pk)
    try:
        result = work(run)
    except RunCancelled:
        logger.info("run %s cancelled while executing", run.pk)
        return Run.objects.get(pk=run.pk)
    except Exception as exc:
        run_fail(run=run, error=_describe(exc))
        return Run.objects.get(pk=run.pk)
    finally:
        stop_heartbeat()
    return run_finish(run=run, result=result or {})


def _claim(run_id: int) -> Run | None:
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.QUEUED:
            return None
        now = timezone.now()
        run.status = RunStatus.RUNNING
        run.started_at = now
        run.heartbeat_at = now
        run.worker = f"{socket.gethostname()}:{os.getpid()}"
        run.stage = "starting"
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker", "stage"])
    return run


def _start_heartbeat(run_id: int) -> Callable[[], None]:
    """Beat from a thread so a long stage without progress calls is not taken for dead."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.RUN_HEARTBEAT_SECONDS):
                Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"run-{run_id}-heartbeat", daemon=True)
    thread.start()

    def stop_beating() -> None:
        stop.set()
        thread.join(timeout=5)

    return stop_beating


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RunError):
        return str(exc)
    detail = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}\n\n{detail[-4000:]}"


def run_advance(
    *, run: Run, stage: str | None = None, progress: int | None = None, log: str | None = None
) -> None:
    """Record progress from inside a worker; raises RunCancelled when the run was cancelled."""
    current = Run.objects.filter(pk=run.pk).values_list("status", "log_tail").get()
    if current[0] == RunStatus.CANCELLED:
        raise RunCancelled()
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if stage is not None:
        run.stage = fields["stage"] = stage[:200]
    if progress is not None:
        run.progress = fields["progress"] = max(0, min(100, int(progress)))
    if log:
        stamped = f"{timezone.now():%H:%M:%S} {log.rstrip()}\n"
        run.log_tail = fields["log_tail"] = (current[1] + stamped)[-LOG_TAIL_CHARS:]
    Run.objects.filter(pk=run.pk).update(**fields)


def run_finish(*, run: Run, result: dict[str, Any]) -> Run:
    updated = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.SUCCEEDED,
        progress=100,
        stage="done",
        result=result,
        finished_at=timezone.now(),
    )
    if not updated:
        logger.warning("run %s finished but was no longer running", run.pk)
    return Run.objects.get(pk=run.pk)


def run_fail(*, run: Run, error: str) -> Run:
    Run.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=RunStatus.FAILED, error=error, finished_at=timezone.now()
    )
    logger.error("run %s failed: %s", run.pk, error.splitlines()[0] if error else "")
    return Run.objects.get(pk=run.pk)


def run_cancel(*, run: Run) -> Run:
    """Cancel a queued or running run; a running worker stops at its next progress call."""
    Run.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), stage="cancelled"
    )
    return Run.objects.get(pk=run.pk)


def runs_fail_stale(*, stale_after_seconds: int | None = None) -> list[int]:
    """Mark failed every running run whose worker stopped sending heartbeats."""
    seconds = stale_after_seconds or settings.RUN_STALE_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stale = list(
        Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", "worker", "heartbeat_at"
        )
    )
    for pk, worker, heartbeat_at in stale:
        Run.objects.filter(pk=pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            error=(
                f"The worker ({worker}) stopped responding: no heartbeat since "
                f"{heartbeat_at:%Y-%m-%d %H:%M:%S} UTC. It was probably killed or lost; "
                "the previous active result is unchanged. Start the run again."
            ),
        )
    return [pk for pk, _, _ in stale]


def system_check_start(*, started_by: Any = None, parameters: dict[str, Any] | None = None) -> Run:
    return run_start(
        kind=RunKind.SYSTEM_CHECK,
        task_name="deepflame_web.core.tasks.system_check",
        parameters=parameters,
        started_by=started_by,
    )


def user_create_admin(
    *, username: str, email: str, password: str, reset_password: bool = False
) -> tuple[Any, bool]:
    """Create (or, with reset_password, re-key) a superuser in the Admin group."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is not None and not reset_password:
        raise DomainError(
            f"User {username!r} exists already; pass --reset-password to give it a new password."
        )
    with transaction.atomic():
        if user is None:
            user = user_model(username=username, email=email)
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.add(Group.objects.get(name=ADMIN))
    return user, created
