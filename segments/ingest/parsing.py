"""Reading contract files into typed Arrow tables, vectorized, noting every bad value.

CSV is read with every column as text so a bad value is reported rather than guessed at;
Parquet columns that already carry the right type are taken as they are.
"""

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from deepflame_web.core.lake_tables import LOCAL, UTC
from segments.ingest.contract import FILE_SUFFIXES, LIST_SEPARATOR, TABLES, Column, Kind, Table
from segments.ingest.problems import ProblemLog

ROW = "__row"
NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*$"
INTEGER = r"^\s*[-+]?\d+\s*$"
DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
NAIVE_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?\s*$"
OFFSET_TIMESTAMP = (
    r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})\s*$"
)
LOCAL_SUFFIX = "__local"


@dataclass
class SourceFile:
    table: Table
    path: Path

    @property
    def label(self) -> str:
        return self.path.name


def find_files(folder: Path, log: ProblemLog) -> dict[str, SourceFile]:
    """One file per table, named after it; a missing required table is a problem."""
    found: dict[str, SourceFile] = {}
    for table in TABLES:
        candidates = [folder / f"{table.name}{suffix}" for suffix in FILE_SUFFIXES]
        present = [path for path in candidates if path.is_file()]
        if len(present) > 1:
            names = ", ".join(p.name for p in present)
            log.add(present[0].name, "", f"table {table.name} is given twice ({names})")
        elif present:
            found[table.name] = SourceFile(table, present[0])
        elif table.required:
            log.add(
                f"{table.name}.csv",
                "",
                f"required file is missing (expected one of "
                f"{', '.join(p.name for p in candidates)})",
            )
    return found


def read_raw(source: SourceFile) -> pa.Table:
    if source.path.suffix == ".parquet":
        return pq.read_table(source.path)
    header = csv_header(source.path)
    return pacsv.read_csv(
        source.path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False
        ),
        read_options=pacsv.ReadOptions(block_size=64 << 20),
    )


def csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])


def parse_table(
    source: SourceFile, raw: pa.Table, log: ProblemLog, first_row: int = 2
) -> pa.Table | None:
    """Typed columns plus the source row number; None when a required column is missing.

    A table read in batches passes each batch's first row number; only the first batch
    reports missing or unknown columns."""
    table = source.table
    present = set(raw.column_names)
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    for name in missing if first_row == 2 else []:
        log.add(source.label, name, "required column is missing")
    if missing:
        return None
    known = {c.name for c in table.columns}
    extra = [name for name in raw.column_names if name not in known]
    if extra and not table.keeps_extra_columns and first_row == 2:
        log.warn(f"{source.label}: unknown columns ignored: {', '.join(extra)}")
    rows = pa.array(np.arange(first_row, first_row + raw.num_rows, dtype=np.int64))
    arrays: dict[str, pa.Array] = {ROW: rows}
    for column in table.columns:
        if column.name not in present:
            continue
        values = raw.column(column.name).combine_chunks()
        arrays.update(_parse_column(source.label, column, values, rows, log))
    if table.keeps_extra_columns:
        for name in extra:
            arrays[name] = _as_text(raw.column(name).combine_chunks())
    return pa.table(arrays)


def _parse_column(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> dict[str, pa.Array]:
    if column.kind is Kind.TEXT:
        return {column.name: _parse_text(label, column, values, rows, log)}
    if column.kind is Kind.LIST:
        return {column.name: _parse_list(values)}
    if column.kind is Kind.TIMESTAMP:
        return _parse_timestamp(label, column, values, rows, log)
    parsed = _parse_scalar(label, column, values, rows, log)
    if column.required:
        _report(log, label, column.name, "is empty", rows, pc.is_null(values))
    return {column.name: parsed}


def _as_text(values: pa.Array) -> pa.Array:
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    stripped = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _parse_text(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> pa.Array:
    text = _as_text(values)
    if column.not_empty:
        _report(log, label, column.name, "is empty", rows, pc.is_null(text))
    return text


def _parse_list(values: pa.Array) -> pa.Array:
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return _rebuild_list(values, _as_text(pc.list_flatten(values)))
    text = pc.fill_null(_as_text(values), "")
    parts = pc.split_pattern(text, LIST_SEPARATOR)
    return _rebuild_list(parts, _as_text(pc.list_flatten(parts)))


def _rebuild_list(lists: pa.Array, flat_clean: pa.Array) -> pa.Array:
    """Drop empty entries (trailing separators, blanks) from every list."""
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    keep = pc.is_valid(flat_clean).to_numpy(zero_copy_only=False)
    counts = np.bincount(parents[keep], minlength=len(lists))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pc.filter(flat_clean, pa.array(keep)))


def _parse_scalar(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> pa.Array:
    target, pattern, what = {
        Kind.DECIMAL: (pa.float64(), NUMBER, "a decimal number"),
        Kind.FLOAT: (pa.float64(), NUMBER, "a number"),
        Kind.INTEGER: (pa.int64(), INTEGER, "a whole number"),
        Kind.DATE: (pa.date32(), DATE, "a date (YYYY-MM-DD)"),
    }[column.kind]
    if not pa.types.is_string(values.type):
        parsed = _cast_native(values, target)
        if parsed is None:
            log.add(label, column.name, f"has type {values.type}, expected {what}")
            return pa.nulls(len(values), target)
    else:
        text = _as_text(values)
        parsed = _cast_clean(text, target)
        if parsed is not None:
            _check_bounds(label, column, parsed, rows, log)
            return parsed
        looks_right = pc.fill_null(pc.match_substring_regex(text, pattern), True)
        candidates = pc.if_else(looks_right, text, pa.scalar(None, pa.string()))
        parsed, failed = _cast_locating_failures(pc.utf8_trim_whitespace(candidates), target)
        bad = pc.or_(pc.invert(looks_right), pa.array(failed))
        _report(log, label, column.name, f"is not {what}", rows, bad)
    _check_bounds(label, column, parsed, rows, log)
    return parsed


def _cast_native(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    if pa.types.is_integer(target) and pa.types.is_floating(values.type):
        whole = pc.equal(pc.floor(values), values)
        if not pc.all(pc.fill_null(whole, True)).as_py():
            return None
    if pa.types.is_date(target) and pa.types.is_timestamp(values.type):
        return pc.cast(values, target)
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    if (pa.types.is_floating(target) or pa.types.is_integer(target)) and not (
        numeric or pa.types.is_decimal(values.type)
    ):
        return None
    if pa.types.is_date(target) and not pa.types.is_date(values.type):
        return None
    return pc.cast(values, target, safe=False)


def _check_bounds(
    label: str, column: Column, parsed: pa.Array, rows: pa.Array, log: ProblemLog
) -> None:
    if column.positive:
        _report(log, label, column.name, "must be greater than 0", rows, pc.less_equal(parsed, 0))
    if column.not_negative:
        _report(log, label, column.name, "must not be negative", rows, pc.less(parsed, 0))


def _parse_timestamp(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> dict[str, pa.Array]:
    """Two columns: instants given with an offset (UTC), and naive local times."""
    name, local_name = column.name, column.name + LOCAL_SUFFIX
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            return {name: pa.nulls(len(values), UTC), local_name: pc.cast(values, LOCAL)}
        return {name: pc.cast(values, UTC), local_name: pa.nulls(len(values), LOCAL)}
    if not pa.types.is_string(values.type):
        log.add(label, name, f"has type {values.type}, expected an ISO 8601 timestamp")
        return {name: pa.nulls(len(values), UTC), local_name: pa.nulls(len(values), LOCAL)}
    text = pc.utf8_trim_whitespace(values)
    for target in _likely_timestamp_types(text):
        parsed = _cast_clean(text, target)
        if parsed is not None:
            _report(log, label, name, "is empty", rows, pc.is_null(values))
            nulls = pa.nulls(len(values), LOCAL if target == UTC else UTC)
            if target == UTC:
                return {name: parsed, local_name: nulls}
            return {name: nulls, local_name: parsed}
    naive = pc.fill_null(pc.match_substring_regex(text, NAIVE_TIMESTAMP), False)
    offset = pc.fill_null(pc.match_substring_regex(text, OFFSET_TIMESTAMP), False)
    local, local_failed = _cast_locating_failures(
        pc.if_else(naive, pc.replace_substring(text, " ", "T"), pa.scalar(None, pa.string())),
        LOCAL,
    )
    utc, utc_failed = _cast_locating_failures(
        pc.if_else(offset, text, pa.scalar(None, pa.string())), UTC
    )
    unparsed = pc.invert(pc.or_(naive, offset))
    bad = pc.or_(pc.and_(unparsed, pc.is_valid(values)), pa.array(local_failed | utc_failed))
    _report(log, label, name, "is not an ISO 8601 timestamp", rows, bad)
    _report(log, label, name, "is empty", rows, pc.is_null(values))
    return {name: utc, local_name: local}


def _likely_timestamp_types(text: pa.Array) -> tuple[pa.DataType, pa.DataType]:
    """The fast casts to try, the likelier first by the first value: a failed cast of a
    large column costs seconds, a successful one a fraction of that."""
    first = pc.drop_null(text)[:1].to_pylist()
    if first and re.match(OFFSET_TIMESTAMP, first[0]):
        return (UTC, LOCAL)
    return (LOCAL, UTC)


def _cast_clean(text: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The fast path for clean data: one cast of the whole column; None when any value
    does not parse (or parses to a non-finite number), so the checking path takes over."""
    try:
        parsed = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pa.types.is_floating(target) and pc.any(pc.invert(pc.is_finite(parsed))).as_py():
        return None
    return parsed


def _cast_locating_failures(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast; when some values cannot be cast, find them by halving instead of row by row."""
    failed = np.zeros(len(values), dtype=bool)
    try:
        return pc.cast(values, target), failed
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(values) == 1:
        failed[0] = True
        return pa.nulls(1, target), failed
    middle = len(values) // 2
    left, left_failed = _cast_locating_failures(values.slice(0, middle), target)
    right, right_failed = _cast_locating_failures(values.slice(middle), target)
    return pa.concat_arrays([left, right]), np.concatenate([left_failed, right_failed])


def _report(
    log: ProblemLog, label: str, column: str, reason: str, rows: pa.Array, mask: pa.Array
) -> None:
    mask = pc.fill_null(mask, False)
    if pc.any(mask).as_py():
        log.add(label, column, reason, pc.filter(rows, mask).to_numpy())
