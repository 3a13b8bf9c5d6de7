"""Uploaded import archives: refused from the zip's directory before anything is unpacked,
refused from the request's size before the body is read, unpacked under VAR_DIR, and
removed however their run ends."""

from __future__ import annotations

import os
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import run_cancel, runs_fail_stale
from segments import uploads
from segments.errors import SegmentsError
from segments.services import history_import_execute, history_import_start
from segments.uploads import archive_check, files_folder
from tests.segments.contract_folder import copy_tables, write_folder

pytestmark = pytest.mark.django_db(transaction=True)
MB = 1 << 20


@pytest.fixture
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    settings.IMPORT_UPLOAD_DIR = tmp_path / "var" / "uploads"
    return Path(settings.IMPORT_UPLOAD_DIR)


@pytest.fixture
def admin(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every entry zipfile unpacks, in order."""
    calls: list[str] = []
    real = zipfile.ZipFile.extract

    def extract(self: zipfile.ZipFile, member: Any, *args: Any, **kwargs: Any) -> str:
        calls.append(getattr(member, "filename", member))
        return real(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract)
    return calls


@pytest.fixture(scope="module")
def made_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 100 KB of zip that unpack to 2 x 53 MB of zeros (made once: deflating takes a
    while)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    zeros = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for number in range(2):
            with bundle.open(f"extract/orders_{number}.csv", "w") as entry:
                for _ in range(53):
                    entry.write(zeros)
    return path


def zip_bomb(made_bomb: Path, path: Path) -> Path:
    return Path(shutil.copy(made_bomb, path))


def zipped(folder: Path) -> Path:
    return Path(
        shutil.make_archive(str(folder), "zip", root_dir=folder.parent, base_dir=folder.name)
    )


def test_a_zip_bomb_is_refused_from_its_directory(
    tmp_path: Path, upload_dir: Path, made_bomb: Path
) -> None:
    bomb = zip_bomb(made_bomb, tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 400_000

    with pytest.raises(SegmentsError) as refused:
        archive_check(bomb)

    assert "looks like a zip bomb" in str(refused.value)
    assert "extract/orders_0.csv unpacks to 55,574,528 bytes" in str(refused.value)


def test_the_upload_page_refuses_a_zip_bomb_and_keeps_nothing(
    admin: Client,
    tmp_path: Path,
    upload_dir: Path,
    made_bomb: Path,
    extracted: list[str],
    no_enqueue: list[int],
) -> None:
    bomb = zip_bomb(made_bomb, tmp_path / "bomb.zip")

    with bomb.open("rb") as handle:
        response = admin.post("/imports/new/", {"archive": handle})

    assert response.status_code == 400
    assert "bomb.zip: extract/orders_0.csv unpacks to" in response.content.decode()
    assert "looks like a zip bomb" in response.content.decode()
    assert extracted == []
    assert not Run.objects.exists()
    assert list(upload_dir.iterdir()) == []


def test_a_bomb_that_reaches_the_worker_fails_the_run_before_unpacking(
    upload_dir: Path, made_bomb: Path, extracted: list[str]
) -> None:
    upload_dir.mkdir(parents=True)
    bomb = zip_bomb(made_bomb, upload_dir / "import-1.zip")
    run = history_import_start(archive=bomb, enqueue=False)

    done = history_import_execute(run_id=run.pk)

    assert done is not None and done.status == RunStatus.FAILED
    assert "looks like a zip bomb" in done.error
    assert extracted == []
    assert list(upload_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["../evil.csv"], "holds a path outside the archive: ../evil.csv"),
        (["/etc/evil.csv"], "holds a path outside the archive: /etc/evil.csv"),
        (["a/../../evil.csv"], "holds a path outside the archive"),
        (["C:/evil.csv"], "holds a path outside the archive"),
        ([f"t/{n}.csv" for n in range(1_001)], "holds 1,001 entries; an import has at most 1,000"),
    ],
)
def test_paths_outside_and_too_many_entries_are_refused(
    tmp_path: Path, upload_dir: Path, names: list[str], says: str
) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in names:
            bundle.writestr(zipfile.ZipInfo(name), b"x")

    with pytest.raises(SegmentsError) as refused:
        archive_check(archive)

    assert says in str(refused.value)
    assert not (tmp_path / "evil.csv").exists()


def test_the_total_unpacked_size_is_capped(
    tmp_path: Path, upload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 3 * MB)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        for number in range(2):
            bundle.writestr(f"t/{number}.csv", b"1," * MB)

    with pytest.raises(SegmentsError) as refused:
        archive_check(archive)

    assert "unpacks to 4,194,304 bytes; an import unpacks to at most" in str(refused.value)


def test_an_upload_over_the_cap_is_refused_from_its_length_before_it_is_read(
    admin: Client, upload_dir: Path, no_enqueue: list[int]
) -> None:
    body = b"x" * 1000

    response = admin.generic(
        "POST",
        "/imports/new/",
        body,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(3 << 30),
    )

    assert response.status_code == 413
    assert "larger than 2 GiB" in response.content.decode()
    assert not Run.objects.exists()
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_a_good_upload_streams_under_var_dir_and_is_unpacked_there(
    admin: Client,
    tmp_path: Path,
    upload_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_enqueue: list[int],
) -> None:
    folder = write_folder(tmp_path / "good")
    (folder / "padding.bin").write_bytes(os.urandom(3 * MB))  # streamed to disk, not memory
    archive = zipped(folder)
    seen: list[Path] = []
    streamed: list[str] = []

    def history_import(folder: Path, **kwargs: Any) -> _Summary:
        seen.append(folder)
        return _Summary()

    real_new_file = uploads.UploadFolderHandler.new_file

    def new_file(handler: uploads.UploadFolderHandler, *args: Any, **kwargs: Any) -> None:
        real_new_file(handler, *args, **kwargs)
        streamed.append(handler.file.temporary_file_path())

    monkeypatch.setattr(uploads.UploadFolderHandler, "new_file", new_file)
    monkeypatch.setattr("segments.services.history_import", history_import)

    with archive.open("rb") as handle:
        response = admin.post("/imports/new/", {"archive": handle})

    assert response.status_code == 302, response.content.decode()[-1500:]
    run = Run.objects.get()
    stored = Path(run.parameters["archive"])
    assert stored.parent == upload_dir and stored.exists()
    assert [Path(path).parent for path in streamed] == [upload_dir]
    assert sorted(p.name for p in upload_dir.iterdir()) == [stored.name]
    done = history_import_execute(run_id=run.pk)
    assert done is not None
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert seen == [files_folder(stored) / "good"]
    assert list(upload_dir.iterdir()) == []


class _Summary:
    warnings: list[str] = []

    def as_dict(self) -> dict[str, Any]:
        return {}


def _uploaded(upload_dir: Path) -> tuple[Run, Path]:
    """An import of an uploaded archive, queued, with what it unpacked so far."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    archive = upload_dir / "import-7.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("t/orders.csv", b"order_id\n")
    files = files_folder(archive)
    (files / "t").mkdir(parents=True)
    (files / "t" / "orders.csv").write_bytes(b"order_id\n")
    return history_import_start(archive=archive, enqueue=False), archive


def test_a_cancelled_queued_import_leaves_no_archive_or_folder(upload_dir: Path) -> None:
    run, archive = _uploaded(upload_dir)

    run_cancel(run=run)

    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED
    assert list(upload_dir.iterdir()) == []


def test_a_stale_failed_import_leaves_no_archive_or_folder(upload_dir: Path) -> None:
    run, archive = _uploaded(upload_dir)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1), worker="w:1"
    )

    assert runs_fail_stale(stale_after_seconds=60) == [run.pk]

    assert list(upload_dir.iterdir()) == []


def test_a_failed_import_leaves_no_archive_or_folder(tmp_path: Path, upload_dir: Path) -> None:
    tables = copy_tables()
    tables["orders"][1]["store_id"] = "SF9"
    upload_dir.mkdir(parents=True)
    archive = zipped(write_folder(tmp_path / "bad", tables))
    stored = Path(shutil.move(archive, upload_dir / "import-9.zip"))
    run = history_import_start(archive=stored, enqueue=False)

    done = history_import_execute(run_id=run.pk)

    assert done is not None and done.status == RunStatus.FAILED
    assert "refers to store 'SF9'" in done.error
    assert list(upload_dir.iterdir()) == []


def test_leftovers_of_a_lost_import_are_removed_when_the_next_one_starts(
    upload_dir: Path, tmp_path: Path
) -> None:
    run, archive = _uploaded(upload_dir)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)
    old = timezone.now().timestamp() - 7200
    for path in (archive, files_folder(archive)):
        os.utime(path, (old, old))

    history_import_start(folder=tmp_path, enqueue=False)

    assert list(upload_dir.iterdir()) == []
    assert Run.objects.filter(kind=RunKind.IMPORT, status=RunStatus.QUEUED).count() == 1
