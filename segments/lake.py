"""The Parquet lake: `<LAKE_URI>/<table>/month=YYYY-MM/run-<run id>-<n>.parquet`.

A file belongs to the lake once its LakeFile row is committed; everything reads through
that manifest, which is what makes an import all or nothing across the database and files.
"""

import logging
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from deepflame_web.core.models import ACTIVE_STATUSES, Run
from segments.models import LakeFile

logger = logging.getLogger(__name__)
RUN_FILE = re.compile(r"^run-(\d+)-\d+\.parquet$")
MAX_ROWS_PER_FILE = 2_000_000


def lake_root() -> Path:
    return Path(settings.LAKE_URI)


def lake_paths(*, table: str, months: list[str] | None = None) -> list[Path]:
    files = LakeFile.objects.filter(table=table)
    if months is not None:
        files = files.filter(month__in=months)
    return [lake_root() / path for path in files.values_list("path", flat=True)]


def lake_read(*, table: str, columns: list[str], months: list[str] | None = None) -> pa.Table:
    paths = lake_paths(table=table, months=months)
    if not paths:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    return pa.concat_tables(pq.read_table(path, columns=columns) for path in paths)


def lake_row_counts() -> dict[str, int]:
    from django.db.models import Sum

    totals = LakeFile.objects.values("table").annotate(rows=Sum("rows"))
    return {row["table"]: int(row["rows"]) for row in totals}


def lake_write(*, table: str, data: pa.Table, run_id: int) -> list[LakeFile]:
    """Write one file per month (split when large); return unsaved manifest rows."""
    written: list[LakeFile] = []
    if data.num_rows == 0:
        return written
    months = data.column("month")
    for month in sorted(pc.unique(months).to_pylist()):
        part = data.filter(pc.equal(months, month))
        for n, start in enumerate(range(0, part.num_rows, MAX_ROWS_PER_FILE)):
            chunk = part.slice(start, MAX_ROWS_PER_FILE)
            relative = f"{table}/month={month}/run-{run_id}-{n}.parquet"
            target = lake_root() / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(chunk, target, compression="zstd")
            written.append(
                LakeFile(run_id=run_id, table=table, month=month, path=relative, rows=len(chunk))
            )
    return written


def lake_remove_orphans() -> int:
    """Delete files that no committed import owns (left by a killed or failed import)."""
    root = lake_root()
    if not root.exists():
        return 0
    owned = set(LakeFile.objects.values_list("path", flat=True))
    active = set(Run.objects.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True))
    removed = 0
    for path in root.glob("*/month=*/run-*.parquet"):
        match = RUN_FILE.match(path.name)
        relative = str(path.relative_to(root))
        if match and relative not in owned and int(match.group(1)) not in active:
            path.unlink()
            removed += 1
    if removed:
        logger.info("removed %d orphaned lake files", removed)
    return removed
