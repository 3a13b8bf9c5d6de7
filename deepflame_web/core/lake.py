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

from deepflame_web.core.models import ACTIVE_STATUSES, LakeFile, Run

logger = logging.getLogger(__name__)
RUN_FILE = re.compile(r"^run-(\d+)-\d+\.parquet$")


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


DICTIONARY_COLUMNS = frozenset({"store_id", "channel", "item_id", "offer_id", "month", "condition"})
"""Columns with few distinct values: dictionary encoding pays there and only costs write
time on ids such as order_id or customer_id."""


class LakeStage:
    """Files one run writes before its commit; invisible until their LakeFile rows commit."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.files: list[LakeFile] = []
        self._parts: dict[tuple[str, str], int] = {}

    def write(self, *, table: str, data: pa.Table, row_group_rows: int | None = None) -> int:
        if data.num_rows == 0:
            return 0
        months = data.column("month")
        for month in sorted(pc.unique(months).to_pylist()):
            part = data.filter(pc.equal(months, month))
            number = self._parts.get((table, month), 0)
            self._parts[(table, month)] = number + 1
            relative = f"{table}/month={month}/run-{self.run_id}-{number}.parquet"
            target = lake_root() / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                part,
                target,
                compression="snappy",
                use_dictionary=[c for c in part.column_names if c in DICTIONARY_COLUMNS],
                row_group_size=row_group_rows,
            )
            self.files.append(
                LakeFile(
                    run_id=self.run_id, table=table, month=month, path=relative, rows=part.num_rows
                )
            )
        return data.num_rows

    def rows(self, table: str) -> int:
        return sum(f.rows for f in self.files if f.table == table)

    def discard(self) -> None:
        for lake_file in self.files:
            (lake_root() / lake_file.path).unlink(missing_ok=True)
        self.files = []
