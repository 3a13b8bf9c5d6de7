"""Uploaded import archives: stored under VAR_DIR, checked from the zip's central directory
before a byte is unpacked, and unpacked next to the archive (never in the system temp folder).

A zip's directory declares every entry's sizes; zipfile never writes more than an entry
declares (a lie ends in a CRC error), so checking the declared sizes bounds what unpacking
can write: a zip bomb is refused while it is still a few hundred kilobytes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from deepflame_web.core.models import ACTIVE_STATUSES, Run, RunKind
from deepflame_web.core.services import SCRATCH
from segments.errors import SegmentsError

MAX_UPLOAD_BYTES = 2 << 30
MAX_UNPACKED_BYTES = 16 << 30
MAX_ENTRIES = 1_000
MAX_RATIO = 100
"""An entry may unpack to at most this many times its packed size (CSV packs 5 to 20 times;
a file of zeros a thousand times)."""
RATIO_FROM_BYTES = 1 << 20
"""Entries smaller than this unpacked are not held to the ratio (tiny files pack oddly)."""
DISK_MARGIN_BYTES = 1 << 30
FILES_SUFFIX = ".files"


def upload_folder() -> Path:
    folder = Path(settings.IMPORT_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_refused(content_length: str | None) -> str | None:
    """Why a request body is refused before it is read: over the upload cap (or unsized)."""
    try:
        length = int(content_length or "")
    except ValueError:
        return "The upload has no size; send it with a Content-Length."
    if length > MAX_UPLOAD_BYTES + (1 << 20):
        return f"The archive is larger than {MAX_UPLOAD_BYTES >> 30} GiB; use import_data."
    return None


class UploadFolderHandler(TemporaryFileUploadHandler):
    """Streams an upload to a file under IMPORT_UPLOAD_DIR instead of the system temp folder,
    so storing it afterwards is a rename, not a second copy."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = _UploadedFile(self.file_name or "", self.content_type or "", 0, self.charset)


class _UploadedFile(TemporaryUploadedFile):
    def __init__(self, name: str, content_type: str, size: int, charset: str | None) -> None:
        handle = tempfile.NamedTemporaryFile(suffix=".upload", dir=upload_folder())  # noqa: SIM115
        super(TemporaryUploadedFile, self).__init__(handle, name, content_type, size, charset)


def upload_store(*, content: Any) -> Path:
    """Keep an uploaded archive where the worker reads it; refuse it (and keep nothing) when
    its directory shows a bomb, a path outside the archive or more than the disk holds."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=upload_folder(), prefix="import-", suffix=".zip", delete=False
    )
    path = Path(handle.name)
    try:
        with handle:
            temporary = getattr(content, "temporary_file_path", None)
            if temporary is not None and Path(temporary()).parent == path.parent:
                Path(temporary()).replace(path)
            else:
                content.seek(0)
                shutil.copyfileobj(content, handle)
        archive_check(path, name=Path(str(getattr(content, "name", "") or path.name)).name)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def files_folder(archive: Path) -> Path:
    """Where an archive is unpacked: beside it, under IMPORT_UPLOAD_DIR."""
    return archive.with_name(archive.name + FILES_SUFFIX)


def archive_check(archive: Path, *, name: str | None = None) -> int:
    """Check an archive from its central directory only; returns the bytes it unpacks to.
    `name` is how messages call it (the uploaded file's name)."""
    name = name or archive.name
    if not zipfile.is_zipfile(archive):
        raise SegmentsError(f"{name} is not a zip archive")
    with zipfile.ZipFile(archive) as bundle:
        return _directory_check(name, bundle.infolist())


def _directory_check(name: str, entries: list[zipfile.ZipInfo]) -> int:
    if len(entries) > MAX_ENTRIES:
        raise SegmentsError(
            f"{name} holds {len(entries):,} entries; an import has at most {MAX_ENTRIES:,}."
        )
    total = 0
    for entry in entries:
        if _outside(entry.filename):
            raise SegmentsError(f"{name} holds a path outside the archive: {entry.filename}")
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= RATIO_FROM_BYTES and ratio > MAX_RATIO:
            raise SegmentsError(
                f"{name}: {entry.filename} unpacks to {entry.file_size:,} bytes from "
                f"{entry.compress_size:,} ({ratio:,.0f} times); at most {MAX_RATIO} times is "
                "accepted. The archive looks like a zip bomb."
            )
    if total > MAX_UNPACKED_BYTES:
        raise SegmentsError(
            f"{name} unpacks to {total:,} bytes; an import unpacks to at most "
            f"{MAX_UNPACKED_BYTES >> 30} GiB (use import_data for larger extracts)."
        )
    free = shutil.disk_usage(upload_folder()).free
    if total + DISK_MARGIN_BYTES > free:
        raise SegmentsError(
            f"{name} unpacks to {total:,} bytes but the upload disk has only {free:,} free."
        )
    return total


def _outside(member: str) -> bool:
    path = PurePosixPath(member.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in (path.parts[0] if path.parts else "")


def archive_unpack(archive: Path) -> Path:
    """Unpack a checked archive beside it; the tables may sit at the top or inside one
    folder of the zip. Returns the folder that holds them."""
    target = files_folder(archive)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as bundle:
        entries = bundle.infolist()
        _directory_check(archive.name, entries)
        for entry in entries:
            bundle.extract(entry, target)
    found = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(found) == 1 and found[0].is_dir():
        return found[0]
    return target


def archive_remove(archive: Path) -> None:
    """Remove an archive and what was unpacked from it."""
    shutil.rmtree(files_folder(archive), ignore_errors=True)
    archive.unlink(missing_ok=True)


def uploads_remove_orphans(*, older_than_seconds: int = 3600) -> int:
    """Remove what lies in the upload folder for no active import (a cancel or a worker lost
    before its clean-up); recent entries are kept, an upload may still be arriving."""
    kept = {
        Path(path).resolve()
        for parameters in Run.objects.filter(
            kind=RunKind.IMPORT, status__in=ACTIVE_STATUSES
        ).values_list("parameters", flat=True)
        for path in parameters.get(SCRATCH, [])
    }
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in upload_folder().iterdir():
        if entry.resolve() in kept or entry.lstat().st_mtime > cutoff:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed
