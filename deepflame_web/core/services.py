"""Run lifecycle: start (enqueue on commit), execute in a worker, advance, finish, fail, cancel.

A task calls `run_execute(run_id=..., work=...)`; everything else about the run's state is
handled here so every long job behaves the same way.
"""

import logging
import os
import shutil
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
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
from deepflame_web.core.signals import run_started

logger = logging.getLogger(__name__)
DATABASE_CONNECTION_ERRORS = (OperationalError, InterfaceError)
LOG_TAIL_CHARS = 20_000
SCRATCH = "scratch"
"""The run parameter that lists files and folders under VAR_DIR the run alone uses (an
uploaded archive, what it unpacks to); they are removed whenever the run ends, however."""


class RunAlreadyActive(Exception):
    """Raised when a run of the same kind (or one it excludes) is already queued or running."""

    def __init__(self, active: Run):
        self.active = active
        super().__init__(
            f"A {active.get_kind_display().lower()} run is already {active.status} "
            f"(run #{active.pk}, started {active.created_at:%Y-%m-%d %H:%M} UTC); "
            "wait for it to finish or cancel it first."
        )


class RunNotQueued(RunAlreadyActive):
    """Raised when the broker refused a run's task: the run is recorded failed, not queued.

    It extends RunAlreadyActive so every caller that already turns a refused start into a
    message on the page or an API error does the same here; `active` is the (first) failed
    run.
    """

    def __init__(self, runs: list[Run], reason: BaseException):
        self.active = runs[0]
        names = [run.get_kind_display().lower() for run in runs]
        kinds = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        numbers = ", ".join(f"#{run.pk}" for run in runs)
        plural = "s" if len(runs) > 1 else ""
        Exception.__init__(
            self,
            f"The {kinds} run{plural} could not be queued: the task broker refused it "
            f"({type(reason).__name__}: {reason}). Nothing was started; run{plural} {numbers} "
            f"{'are' if plural else 'is'} recorded as failed. Check that the broker is up, "
            "then start again.",
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
            run_started.send(sender=Run, run=run, user=run.started_by)
            if enqueue:
                transaction.on_commit(lambda: run_enqueue(run=run))
    except IntegrityError:
        # Another process won the race between our check and our insert.
        raise RunAlreadyActive(
            Run.objects.filter(kind__in=excluding, status__in=ACTIVE_STATUSES).get()
        ) from None
    return run


def run_enqueue(*, run: Run) -> None:
    """Send a committed run's task; when the broker refuses it, fail the run and raise.

    Called on commit, so the error reaches whoever started the run (a page or an API says
    why) and no queued row is left to block its kind.
    """
    try:
        _enqueue(run)
    except Exception as exc:
        raise RunNotQueued(runs_fail_unqueued(runs=[run], reason=exc), exc) from exc


def runs_fail_unqueued(*, runs: list[Run], reason: BaseException) -> list[Run]:
    """Fail runs whose task never reached the broker (a pipeline's runs share one message);
    returns them, failed, in the order given."""
    error = (
        f"The task broker refused this run's task ({type(reason).__name__}: {reason}); "
        "no worker will ever pick it up. Nothing was changed; start the run again once the "
        "broker is reachable."
    )
    pks = [run.pk for run in runs]
    Run.objects.filter(pk__in=pks, status=RunStatus.QUEUED).update(
        status=RunStatus.FAILED, stage="not queued", error=error, finished_at=timezone.now()
    )
    logger.error("runs %s were not queued: %s", pks, reason)
    failed = sorted(Run.objects.filter(pk__in=pks), key=lambda run: pks.index(run.pk))
    for run in failed:
        run_scratch_remove(run=run)
    return failed


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
        if isinstance(exc, DATABASE_CONNECTION_ERRORS):
            # The connection is broken (the server restarted, or cut it): Django would not
            # reconnect by itself before the request or task ends, so the failure is written
            # on a fresh one.
            connection.close()
        run_fail(run=run, error=_describe(exc))
        return Run.objects.get(pk=run.pk)
    finally:
        stop_heartbeat()
        run_scratch_remove(run=run)
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
                try:
                    Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DATABASE_CONNECTION_ERRORS:
                    logger.warning("run %s: heartbeat lost the database; reconnecting", run_id)
                    connection.close()
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
    if isinstance(exc, DATABASE_CONNECTION_ERRORS):
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"The database connection was lost during the run ({first_line}). Start it again."
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
    """Cancel a queued or running run; a running worker stops at its next progress call.

    A run that has already switched its active result (`run_commit_point`) is not cancelled:
    what it activated serves customers, so the run finishes and its log says why.
    """
    with transaction.atomic():
        current = Run.objects.select_for_update().get(pk=run.pk)
        was_queued = current.status == RunStatus.QUEUED
        if current.is_cancellable:
            current.status = RunStatus.CANCELLED
            current.finished_at = timezone.now()
            current.stage = "cancelled"
            current.save(update_fields=["status", "finished_at", "stage"])
            if was_queued:
                # A running worker removes its own scratch once it stops.
                transaction.on_commit(lambda: run_scratch_remove(run=current))
        elif current.is_active:
            note = (
                f"{timezone.now():%H:%M:%S} Cancel refused: the run activated its result at "
                f"{current.committed_at:%H:%M:%S} UTC and only finishes its last stage.\n"
            )
            current.log_tail = (current.log_tail + note)[-LOG_TAIL_CHARS:]
            current.save(update_fields=["log_tail"])
    return Run.objects.get(pk=run.pk)


def run_commit_point(*, run: Run) -> None:
    """Call inside the transaction that switches a run's active result, before the switch.

    The run's row stays locked until that transaction ends, so a cancel either comes first
    (RunCancelled is raised here and nothing is activated) or waits and is then refused.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("run_commit_point belongs inside the activating transaction")
    status = Run.objects.select_for_update().filter(pk=run.pk).values_list("status", flat=True)
    if status.get() != RunStatus.RUNNING:
        raise RunCancelled()
    run.committed_at = timezone.now()
    Run.objects.filter(pk=run.pk).update(committed_at=run.committed_at)


def runs_fail_stale(
    *, stale_after_seconds: int | None = None, queued_after_seconds: int | None = None
) -> list[int]:
    """Mark failed every running run whose worker stopped sending heartbeats, and every
    queued run that no worker claimed in time, so neither blocks its kind forever."""
    seconds = stale_after_seconds or settings.RUN_STALE_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stale = list(
        Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", "worker", "heartbeat_at"
        )
    )
    for pk, worker, heartbeat_at in stale:
        updated = Run.objects.filter(pk=pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            error=(
                f"The worker ({worker}) stopped responding: no heartbeat since "
                f"{heartbeat_at:%Y-%m-%d %H:%M:%S} UTC. It was probably killed or lost; "
                "the previous active result is unchanged. Start the run again."
            ),
        )
        if updated:
            run_scratch_remove(run=Run.objects.get(pk=pk))
    return [pk for pk, _, _ in stale] + _runs_fail_unclaimed(queued_after_seconds)


def _runs_fail_unclaimed(queued_after_seconds: int | None) -> list[int]:
    """Fail the queued runs no worker claimed although the workers were free long enough.

    Workers take one task at a time, so a run may wait legitimately behind a running one (a
    pipeline's later steps wait for its first). It counts as lost only once nothing has been
    running for the whole window: its message was lost or never sent, or no worker listens.
    """
    seconds: int = queued_after_seconds or settings.RUN_QUEUED_STALE_AFTER_SECONDS
    if Run.objects.filter(status=RunStatus.RUNNING).exists():
        return []
    cutoff = timezone.now() - timedelta(seconds=seconds)
    if Run.objects.filter(finished_at__gte=cutoff).exclude(status=RunStatus.QUEUED).exists():
        return []
    unclaimed = list(
        Run.objects.filter(status=RunStatus.QUEUED, created_at__lt=cutoff).values_list(
            "pk", "created_at"
        )
    )
    failed = []
    for pk, created_at in unclaimed:
        updated = Run.objects.filter(pk=pk, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            stage="not picked up",
            error=(
                f"No worker picked this run up: it was queued at {created_at:%Y-%m-%d %H:%M:%S} "
                f"UTC and the workers were idle for more than {round(seconds / 60)} minutes "
                "since. Its message was lost or never reached the broker, or no worker "
                "listens to its queue. Nothing was changed; start the run again."
            ),
        )
        if updated:
            failed.append(pk)
            run_scratch_remove(run=Run.objects.get(pk=pk))
    return failed


def run_scratch_remove(*, run: Run) -> None:
    """Remove the files and folders a run listed as its scratch; only paths under VAR_DIR
    are touched, whatever the parameters say."""
    root = Path(settings.VAR_DIR).resolve()
    for given in run.parameters.get(SCRATCH, []):
        path = Path(given).resolve()
        if root not in path.parents:
            logger.warning("run %s: scratch %s is outside VAR_DIR; left alone", run.pk, given)
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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
        try:
            validate_password(password, user)
        except ValidationError as weak:
            raise DomainError("The password is too weak: " + " ".join(weak.messages)) from weak
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.add(Group.objects.get(name=ADMIN))
    return user, created
