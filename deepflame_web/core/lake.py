"""The Parquet lake: `<LAKE_URI>/<table>/month=YYYY-MM/run-<run id>-<n>.parquet`.

A file belongs to the lake once its LakeFile row is committed; everything reads through
that manifest, which is what makes an import all or nothing across the database and files.
Contract rows (`lake_tables`) enter through `lake_append`, which skips the rows the lake holds.
"""

import logging
import os
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from deepflame_web.core.hashing import ExistingKeys, hash_rows
from deepflame_web.core.lake_tables import LakeTable, table_months
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


GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""Spreads a row's children hash (the sum of their hashes) before it joins the row's own."""
KEY_COLUMNS = ["row_key", "row_hash"]


class LakeKeys:
    """The keys and content hashes one table held before this run, read as rows ask for them:
    the months around theirs when the key fixes the month, else the whole table once."""

    def __init__(self, table: LakeTable):
        self.table = table
        self._months: set[str] = set()
        self._whole = False
        self._keys: list[np.ndarray] = []
        self._hashes: list[np.ndarray] = []
        self._known = ExistingKeys(np.zeros(0, np.uint64), np.zeros(0, np.uint64))

    def classify(
        self, months: pa.Array, keys: np.ndarray, hashes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(key in the lake, key in the lake with other content) masks."""
        self._read_for(months)
        return self._known.classify(keys, hashes)

    def _read_for(self, months: pa.Array) -> None:
        if self.table.key_fixes_month:
            wanted = _months_around(pc.unique(months).drop_null().to_pylist()) - self._months
            if not wanted:
                return
            self._months |= wanted
            before = lake_read(table=self.table.name, columns=KEY_COLUMNS, months=sorted(wanted))
        elif self._whole:
            return
        else:
            self._whole = True
            before = lake_read(table=self.table.name, columns=KEY_COLUMNS)
        if before.num_rows == 0:
            return
        self._keys.append(before.column("row_key").to_numpy().astype(np.uint64))
        self._hashes.append(before.column("row_hash").to_numpy().astype(np.uint64))
        self._known = ExistingKeys(np.concatenate(self._keys), np.concatenate(self._hashes))


def _months_around(months: list[str]) -> set[str]:
    """These months and their neighbours (YYYY-MM)."""
    around: set[str] = set()
    for month in months:
        year, number = int(month[:4]), int(month[5:7])
        for step in (-1, 0, 1):
            y, m = divmod(year * 12 + number - 1 + step, 12)
            around.add(f"{y:04d}-{m + 1:02d}")
    return around


def _write_part(part: pa.Table, relative: str, row_group_rows: int | None) -> None:
    target = lake_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        part,
        target,
        compression="snappy",
        use_dictionary=[c for c in part.column_names if c in DICTIONARY_COLUMNS],
        row_group_size=row_group_rows,
    )


class LakeStage:
    """Files one run writes before its commit; invisible until their LakeFile rows commit."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.files: list[LakeFile] = []
        self._parts: dict[tuple[str, str], int] = {}
        self._known: LakeKeys | None = None

    def write(self, *, table: str, data: pa.Table, row_group_rows: int | None = None) -> int:
        if data.num_rows == 0:
            return 0
        months = data.column("month")
        parts = []
        for month in sorted(pc.unique(months).to_pylist()):
            part = data.filter(pc.equal(months, month))
            number = self._parts.get((table, month), 0)
            self._parts[(table, month)] = number + 1
            relative = f"{table}/month={month}/run-{self.run_id}-{number}.parquet"
            parts.append((part, relative))
            self.files.append(
                LakeFile(
                    run_id=self.run_id, table=table, month=month, path=relative, rows=part.num_rows
                )
            )
        # Parquet encoding releases the GIL: months are written side by side.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for written in [pool.submit(_write_part, p, r, row_group_rows) for p, r in parts]:
                written.result()
        return data.num_rows

    def rows(self, table: str) -> int:
        return sum(f.rows for f in self.files if f.table == table)

    def known_keys(self, table: LakeTable) -> LakeKeys:
        """The lake's keys for the table being appended: one table at a time, so a table
        appended batch by batch reads them once and memory holds only that table's."""
        if self._known is None or self._known.table != table:
            self._known = LakeKeys(table)
        return self._known

    def discard(self) -> None:
        for lake_file in self.files:
            (lake_root() / lake_file.path).unlink(missing_ok=True)
        self.files = []


@dataclass(frozen=True)
class Appended:
    """What `lake_append` did with each row given (masks over them) and how many it staged."""

    keys: np.ndarray
    """Each row's key hash (empty for a table without a key)."""
    known: np.ndarray
    """The key is in the lake already: the row was skipped."""
    conflicts: np.ndarray
    """The key is in the lake with other content: skipped too, the lake's row is kept."""
    staged: int


def lake_append(
    *,
    table: LakeTable,
    rows: pa.Table,
    stage: LakeStage,
    store_zones: Mapping[str, str] | None = None,
    given_wall_times: pa.Array | pa.ChunkedArray | None = None,
    children_hash: np.ndarray | None = None,
    write: bool = True,
) -> Appended:
    """Stage the rows the lake does not hold yet, with their month, content hash and key.

    Of rows repeating a key here, the first is staged. Nothing is visible until the caller
    commits `stage.files` in its transaction. `store_zones` and `given_wall_times` (local times
    the source gave, null where it gave an offset) place instants in their months;
    `children_hash` makes a change in a row's children (an order's lines) a change of the
    row; write=False only classifies (an import already rejected stages nothing more).
    """
    data = rows.select(list(table.columns))
    none = np.zeros(data.num_rows, dtype=bool)
    if data.num_rows == 0:
        return Appended(np.zeros(0, np.uint64), none, none, 0)
    months = table_months(
        table=table, rows=data, store_zones=store_zones, given_wall_times=given_wall_times
    )
    data = data.append_column("month", months)
    if not table.key:
        staged = stage.write(table=table.name, data=data) if write else 0
        return Appended(np.zeros(0, np.uint64), none, none, staged)
    row_key = hash_rows(data, list(table.key))
    row_hash = hash_rows(data, list(table.content))
    if children_hash is not None:
        row_hash = row_hash ^ (children_hash * GOLDEN)
    known, conflicts = stage.known_keys(table).classify(months, row_key, row_hash)
    keep = ~known & _first_of_each(row_key)
    data = data.append_column("row_hash", pa.array(row_hash))
    data = data.append_column("row_key", pa.array(row_key))
    staged = stage.write(table=table.name, data=data.filter(pa.array(keep))) if write else 0
    return Appended(row_key, known, conflicts, staged)


def _first_of_each(keys: np.ndarray) -> np.ndarray:
    first = np.zeros(len(keys), dtype=bool)
    first[np.unique(keys, return_index=True)[1]] = True
    return first
