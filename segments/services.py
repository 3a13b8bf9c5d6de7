"""Writes of the segments app: the history import and marketer edits of segments.

The segmentation run itself lives in `segments.segmentation.services`.
"""

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import run_advance, run_execute, run_start
from segments.errors import SegmentsError
from segments.ingest.importer import history_import
from segments.models import Segment

IMPORT_TASK = "segments.tasks.heavy_import_history"


def history_import_start(
    *,
    folder: Path | None = None,
    archive: Path | None = None,
    started_by: Any = None,
    enqueue: bool = True,
) -> Run:
    """Queue an import of a contract folder, or of a zip of one uploaded in the browser."""
    if (folder is None) == (archive is None):
        raise SegmentsError("give exactly one of folder or archive")
    source = {"folder": str(folder)} if folder else {"archive": str(archive)}
    return run_start(
        kind=RunKind.IMPORT,
        task_name=IMPORT_TASK,
        parameters=source,
        started_by=started_by,
        enqueue=enqueue,
    )


def history_import_execute(*, run_id: int) -> Run | None:
    return run_execute(run_id=run_id, work=_import_work)


def _import_work(run: Run) -> dict[str, Any]:
    def progress(stage: str, percent: int) -> None:
        run_advance(run=run, stage=stage, progress=percent, log=stage)

    if "archive" in run.parameters:
        archive = Path(run.parameters["archive"])
        try:
            with tempfile.TemporaryDirectory(prefix="deepflame-import-") as tmp:
                folder = _unpack(archive, Path(tmp))
                summary = history_import(folder=folder, run_id=run.pk, progress=progress)
        finally:
            archive.unlink(missing_ok=True)
    else:
        summary = history_import(
            folder=Path(run.parameters["folder"]), run_id=run.pk, progress=progress
        )
    for warning in summary.warnings:
        run_advance(run=run, log=f"warning: {warning}")
    return summary.as_dict()


def _unpack(archive: Path, target: Path) -> Path:
    """Unpack safely; the tables may sit at the top or inside one folder of the zip."""
    if not zipfile.is_zipfile(archive):
        raise SegmentsError(f"{archive.name} is not a zip archive")
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            resolved = (target / member).resolve()
            if target.resolve() not in resolved.parents and resolved != target.resolve():
                raise SegmentsError(f"{archive.name} holds a path outside the archive: {member}")
        bundle.extractall(target)
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def upload_store(*, content: Any, name: str) -> Path:
    """Keep an uploaded archive where the worker can read it."""
    folder = Path(settings.IMPORT_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".zip", delete=False) as handle:
        shutil.copyfileobj(content, handle)
    return Path(handle.name)


def segment_rename(*, segment: Segment, name: str, description: str | None = None) -> Segment:
    """Give a segment a marketer's name; its key, and so its identity and rules, stay."""
    segment.name = name.strip()
    if description is not None:
        segment.description = description.strip()
    clash = (
        Segment.objects.filter(definition_id=segment.definition_id, name__iexact=segment.name)
        .exclude(pk=segment.pk)
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {"name": f"Segment #{clash.key} of this segmentation is already called {clash.name!r}."}
        )
    segment.full_clean()
    segment.save(update_fields=["name", "description"])
    return segment
