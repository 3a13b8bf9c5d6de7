"""Starts a real Celery worker process on the test database and broker."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dj_database_url
from django.conf import settings
from django.db import connection

from deepflame_web.core.models import Run, RunStatus

ROOT = Path(__file__).resolve().parent.parent


def worker_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    url = {"USER": db["USER"], "PASSWORD": db["PASSWORD"], "HOST": db["HOST"], "PORT": db["PORT"]}
    auth = url["USER"] + (f":{url['PASSWORD']}" if url["PASSWORD"] else "")
    return f"postgres://{auth}@{url['HOST'] or '127.0.0.1'}:{url['PORT'] or 5432}/{db['NAME']}"


_purged = False


def purge_broker_once() -> None:
    """Drop messages a previous session left: its run ids may exist again in a new test DB."""
    global _purged
    if _purged:
        return
    from deepflame_web.celery import app

    with app.connection_for_write() as conn:
        for queue in ("default", "heavy"):
            # A queue that does not exist yet is empty: nothing to purge.
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)
    _purged = True


@contextmanager
def celery_worker(log_path: Path, **env_overrides: str) -> Iterator[subprocess.Popen[bytes]]:
    """A worker in its own process group (so a test can kill it like a lost machine)."""
    command = [
        sys.executable, "-m", "celery", "-A", "deepflame_web", "worker",
        "-Q", "default,heavy", "--concurrency", "1", "--prefetch-multiplier", "1",
        "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        "--include", "tests.worker_tasks", "-n", f"test-{os.getpid()}@%h",
    ]  # fmt: skip
    with _celery_process(command, log_path, env_overrides) as worker:
        yield worker


@contextmanager
def celery_beat(log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Celery beat on the test database's schedule, waking at least once a second."""
    command = [
        sys.executable, "-m", "celery", "-A", "deepflame_web", "beat",
        "--max-interval", "1", "--loglevel", "INFO",
    ]  # fmt: skip
    with _celery_process(command, log_path, {}, ready="beat: Starting...") as beat:
        yield beat


@contextmanager
def _celery_process(
    command: list[str], log_path: Path, env_overrides: dict[str, str], ready: str = " ready."
) -> Iterator[subprocess.Popen[bytes]]:
    dj_database_url.parse(worker_database_url())  # fail early on a URL the worker cannot read
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "VAR_DIR": str(settings.VAR_DIR),
        # The same storage as the test (tests/conftest.py gives each test its own folders).
        "LAKE_URI": str(settings.LAKE_URI),
        "MODEL_DIR": str(settings.MODEL_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RUN_HEARTBEAT_SECONDS": "1",
        **env_overrides,
    }
    log = log_path.open("wb")
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_until_ready(worker, log_path, ready)
        yield worker
    finally:
        kill_worker(worker)
        log.close()


def _wait_until_ready(
    worker: subprocess.Popen[bytes], log_path: Path, ready: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Ready first: a worker a test makes die at a run's stage may be gone already.
        if ready in log_path.read_text(errors="replace"):
            return
        if worker.poll() is not None:
            raise RuntimeError(f"celery exited early:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)
    raise TimeoutError(f"celery worker not ready in {timeout}s:\n{log_path.read_text()[-3000:]}")


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group: no clean shutdown, as when a machine dies."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def run_finished(run: Run) -> bool:
    return run.status not in (RunStatus.QUEUED, RunStatus.RUNNING)


def run_wait(run: Run, *, until: Callable[[Run], bool] = run_finished, timeout: float = 300) -> Run:
    """The run once `until` holds for it (by default: once it finished), read from the
    database every 0.2 s; a TimeoutError naming where it stuck otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if until(run):
            return run
        time.sleep(0.2)
    raise TimeoutError(f"run #{run.pk} still {run.status} at {run.stage!r}: {run.log_tail}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_start(port: int) -> subprocess.Popen[bytes]:
    """A Redis of a test's own on `port` (no snapshots), once it accepts connections."""
    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return redis
        time.sleep(0.1)
    raise TimeoutError(f"redis-server did not listen on {port}")
