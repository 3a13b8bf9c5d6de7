"""Writes of the segments app: the history import and marketer edits of segments.

The segmentation run itself lives in `segments.segmentation.services`.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import SCRATCH, run_advance, run_execute, run_start
from offers.services import audit_record
from segments.errors import SegmentsError
from segments.ingest.catalog_rows import KEEP_EDITS, OFFER_POLICIES
from segments.ingest.importer import history_import
from segments.models import Segment
from segments.uploads import (
    archive_remove,
    archive_unpack,
    files_folder,
    uploads_remove_orphans,
)

IMPORT_TASK = "segments.tasks.heavy_import_history"


def history_import_start(
    *,
    folder: Path | None = None,
    archive: Path | None = None,
    started_by: Any = None,
    enqueue: bool = True,
    offers_policy: str = KEEP_EDITS,
    dry_run: bool = False,
) -> Run:
    """Queue an import of a contract folder, or of a zip of one uploaded in the browser (the
    archive and what it unpacks to are the run's scratch: removed however the run ends).

    `offers_policy` decides what an offer edited in the product and changed in the extract
    becomes (keep-edits or take-extract); `dry_run` lists what would change, writes nothing."""
    if (folder is None) == (archive is None):
        raise SegmentsError("give exactly one of folder or archive")
    if offers_policy not in OFFER_POLICIES:
        raise SegmentsError(
            f"unknown offers policy {offers_policy!r} (known: {', '.join(OFFER_POLICIES)})"
        )
    uploads_remove_orphans()
    source: dict[str, Any] = {"folder": str(folder)}
    if archive is not None:
        source = {"archive": str(archive), SCRATCH: [str(archive), str(files_folder(archive))]}
    source.update(offers_policy=offers_policy, dry_run=dry_run)
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

    policy = {
        "offers_policy": run.parameters.get("offers_policy", KEEP_EDITS),
        "dry_run": bool(run.parameters.get("dry_run", False)),
    }
    if "archive" in run.parameters:
        archive = Path(run.parameters["archive"])
        try:
            progress("checking and unpacking the archive", 1)
            folder = archive_unpack(archive)
            summary = history_import(folder=folder, run_id=run.pk, progress=progress, **policy)
        finally:
            archive_remove(archive)
    else:
        summary = history_import(
            folder=Path(run.parameters["folder"]), run_id=run.pk, progress=progress, **policy
        )
    for warning in summary.warnings:
        run_advance(run=run, log=f"warning: {warning}")
    result = summary.as_dict()
    for difference in result.get("offer_differences", []):
        run_advance(run=run, log=f"offer difference: {difference}")
    return result


def segment_rename(
    *, segment: Segment, name: str, description: str | None = None, user: Any = None
) -> Segment:
    """Give a segment a marketer's name; its key, and so its identity and rules, stay."""
    before = {"name": segment.name, "description": segment.description}
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
    with transaction.atomic():
        segment.save(update_fields=["name", "description"])
        audit_record(
            user=user,
            action="segment_rename",
            object_type="segment",
            object_id=f"{segment.definition_id}:{segment.key}",
            object_repr=f"{segment.name} (#{segment.key})",
            before=before,
            after={"name": segment.name, "description": segment.description},
        )
    return segment
