"""A generated demo chain takes the same road as a real extract; a killed import leaves nothing."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.management import call_command

from deepflame_web.console.demo import demo_chain_generate
from deepflame_web.core.lake import lake_root, lake_row_counts
from deepflame_web.core.models import LakeFile, Run, RunStatus
from deepflame_web.core.services import runs_fail_stale
from offers.models import Item, Offer, Store
from segments.models import Customer
from tests.worker import ROOT, worker_database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
LAKE_TABLES = ("orders", "order_lines", "offer_assignments", "offer_redemptions", "weather")


def rows_in(folder: Path, table: str) -> int:
    parquet = folder / f"{table}.parquet"
    if parquet.exists():
        return pq.read_metadata(parquet).num_rows
    return pacsv.read_csv(folder / f"{table}.csv").num_rows


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "chain"
    demo_chain_generate(out_dir=folder, customers=3000, months=4, seed=11, start=date(2025, 1, 1))
    return folder


def test_generated_chain_imports_with_counts_equal_to_the_files(demo_folder: Path) -> None:
    call_command("import_data", str(demo_folder))

    assert Store.objects.count() == rows_in(demo_folder, "stores")
    assert Item.objects.count() == rows_in(demo_folder, "items")
    assert Offer.objects.count() == rows_in(demo_folder, "offers")
    assert Customer.objects.count() == rows_in(demo_folder, "customers")
    assert lake_row_counts() == {t: rows_in(demo_folder, t) for t in LAKE_TABLES}
    assert not (demo_folder.parent / "chain.truth").is_relative_to(demo_folder)


def test_a_killed_import_leaves_nothing_and_the_next_import_is_whole(demo_folder: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
        "DATABASE_URL": worker_database_url(),
        "LAKE_URI": settings.LAKE_URI,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    importer = subprocess.Popen(
        [sys.executable, "manage.py", "import_data", str(demo_folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_after_lake_files = _kill_once_lake_files_appear(importer)

    assert killed_after_lake_files, "the import finished before it could be killed"
    assert Store.objects.count() == 0 and Customer.objects.count() == 0
    assert LakeFile.objects.count() == 0
    assert lake_row_counts() == {}
    run = Run.objects.get()
    assert run.status == RunStatus.RUNNING
    time.sleep(1.2)
    assert runs_fail_stale(stale_after_seconds=1) == [run.pk]

    call_command("import_data", str(demo_folder))
    call_command("import_data", str(demo_folder))

    assert lake_row_counts() == {t: rows_in(demo_folder, t) for t in LAKE_TABLES}
    on_disk = {str(p.relative_to(lake_root())) for p in lake_root().rglob("*.parquet")}
    assert on_disk == set(LakeFile.objects.values_list("path", flat=True))
    assert Customer.objects.count() == rows_in(demo_folder, "customers")


def _kill_once_lake_files_appear(importer: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and importer.poll() is None:
        if lake_root().exists() and any(lake_root().rglob("run-*.parquet")):
            importer.send_signal(signal.SIGKILL)
            importer.wait()
            return True
        time.sleep(0.005)
    return False
