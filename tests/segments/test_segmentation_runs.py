"""Segmentation as a run: through the real Celery worker with a warm Spark session, and
all or nothing when the process is killed in the middle of writing its results."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from deepflame_web.console.demo import demo_chain_generate
from deepflame_web.core.lake import lake_remove_orphans, lake_root
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from deepflame_web.core.services import runs_fail_stale
from segments.models import CustomerSegment, SegmentDefinition
from segments.segmentation.services import segmentation_run_start
from segments.segmentation.writer import MEMBERSHIPS
from segments.selectors import membership_count, segmentation_active
from tests.segments.test_features import hand_made_extract
from tests.worker import ROOT, celery_worker, run_wait, worker_database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_segmentations_on_one_warm_spark_session(tmp_path: Path) -> None:
    call_command("import_data", str(hand_made_extract(tmp_path / "extract")))
    first = segmentation_run_start(k=2)

    with celery_worker(tmp_path / "worker.log"):
        first = run_wait(first, timeout=180)
        second = segmentation_run_start(k=2, refit=True)
        second = run_wait(second, timeout=120)

    assert (first.status, second.status) == (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED), (
        first.error or second.error
    )
    assert first.result["spark_application"] == second.result["spark_application"]
    active = segmentation_active()
    assert active is not None and active.run_id == second.pk and active.previous_id is not None
    assert membership_count(definition=active) == 4


def test_a_killed_run_leaves_the_previous_segmentation_active(tmp_path: Path) -> None:
    folder = tmp_path / "chain"
    demo_chain_generate(out_dir=folder, customers=1500, months=4, seed=5, start=date(2025, 1, 1))
    call_command("import_data", str(folder))
    call_command("run_segmentation", "--k", "4")
    before = SegmentDefinition.objects.get(is_active=True)
    placed = membership_count(definition=before)
    lake_files = set(LakeFile.objects.values_list("path", flat=True))

    killed = _kill_once_memberships_are_staged(lake_files)

    assert killed, "the run finished before it could be killed"
    assert SegmentDefinition.objects.get() == before and segmentation_active() == before
    assert set(LakeFile.objects.values_list("path", flat=True)) == lake_files
    assert membership_count(definition=before) == placed
    assert set(CustomerSegment.objects.values_list("definition", flat=True)) == {before.pk}
    killed_run = Run.objects.filter(kind=RunKind.SEGMENTATION).exclude(pk=before.run_id).get()
    time.sleep(1.2)
    assert runs_fail_stale(stale_after_seconds=1) == [killed_run.pk]
    lake_remove_orphans()
    on_disk = {str(p.relative_to(lake_root())) for p in lake_root().rglob("*.parquet")}
    assert on_disk == lake_files

    call_command("run_segmentation", "--refit")

    after = SegmentDefinition.objects.get(is_active=True)
    assert after.previous == before and membership_count(definition=after) == placed


def _kill_once_memberships_are_staged(committed: set[str]) -> bool:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
        "DATABASE_URL": worker_database_url(),
        "LAKE_URI": settings.LAKE_URI,
        "VAR_DIR": str(settings.VAR_DIR),
    }
    run = subprocess.Popen(
        [sys.executable, "manage.py", "run_segmentation", "--refit"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and run.poll() is None:
        staged = {
            str(p.relative_to(lake_root())) for p in (lake_root() / MEMBERSHIPS).rglob("*.parquet")
        }
        if staged - committed:
            run.send_signal(signal.SIGKILL)
            run.wait()
            return True
        time.sleep(0.003)
    return False
