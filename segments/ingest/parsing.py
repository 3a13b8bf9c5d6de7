"""Reading contract files into typed Arrow tables, vectorized, noting every bad value.

CSV is read with every column as text so a bad value is reported rather than guessed at;
Parquet columns that already carry the right type are taken as they are.
"""

import contextlib
import csv
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from deepflame_web.core.lake_tables import LOCAL, UTC
from segments.ingest.contract import FILE_SUFFIXES, LIST_SEPARATOR, TABLES, Column, Kind, Table
from segments.ingest.problems import EXAMPLES_PER_CHECK, ProblemLog, reading

ROW = "__row"
NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
NAIVE_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?\s*$"
OFFSET_TIMESTAMP = (
    r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})\s*$"
)
LOCAL_SUFFIX = "__local"
BATCH_ROWS = 2_000_000


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


def read_raw(source: SourceFile, log: ProblemLog) -> pa.Table | None:
    """The whole file, every CSV column as text, with the contract's column names; None when
    the file cannot be read (the problem is in the log)."""
    batches = [batch for _, batch in raw_batches(source, log, whole=True)]
    if any(batch is None for batch in batches):
        return None
    return pa.concat_tables(b for b in batches if b is not None)


def raw_batches(
    source: SourceFile, log: ProblemLog, whole: bool = False
) -> Iterator[tuple[int, pa.Table | None]]:
    """(first row number, raw table) for each batch of the file (row 2 is the first data
    row); a batch of None ends the file when it cannot be read further."""
    with reading(source.label):
        try:
            names = _column_names(source, log)
            if names is None:
                yield 2, None
                return
            row = 2
            for batch in _open(source, whole):
                yield row, _renamed(batch, names)
                row += batch.num_rows
            if row == 2:  # a header without rows: a table without rows, not no table
                yield row, pa.table({name: pa.array([], pa.string()) for name in names if name})
        except (pa.ArrowInvalid, UnicodeDecodeError, csv.Error, EOFError, OSError) as error:
            _locate_unreadable(source, log, error)
            yield 2, None


def _open(source: SourceFile, whole: bool) -> Iterator[pa.RecordBatch]:
    if source.path.suffix == ".parquet":
        if whole:
            yield from pq.read_table(source.path).to_batches()
        else:
            yield from pq.ParquetFile(source.path).iter_batches(batch_size=BATCH_ROWS)
        return
    options = {
        "read_options": pacsv.ReadOptions(block_size=(64 if whole else 128) << 20),
        # A quoted value may hold the separator and line breaks (addresses, descriptions).
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types={name: pa.string() for name in csv_header(source.path)},
            strings_can_be_null=False,
        ),
    }
    if whole:
        yield from pacsv.read_csv(source.path, **options).to_batches()
    else:
        yield from pacsv.open_csv(source.path, **options)


def csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _column_names(source: SourceFile, log: ProblemLog) -> list[str] | None:
    """The file's columns by their contract names: header case, surrounding spaces and
    inner spaces do not matter ("Store ID" is store_id); unnamed columns are dropped."""
    if source.path.suffix == ".parquet":
        given = pq.read_schema(source.path).names
    else:
        given = csv_header(source.path)
        if not given:
            log.add(source.label, "", "the file is empty (it needs a header row)")
            return None
        other = next((s for s in (";", "\t") if len(given) == 1 and s in given[0]), None)
        if other:
            shown = "a tab" if other == "\t" else repr(other)
            log.add(source.label, "", f"the values are separated by {shown}; use commas")
            return None
    known = {c.name for c in source.table.columns}
    names = []
    for name in given:
        plain = re.sub(r"\s+", "_", name.strip().lower())
        names.append(plain if plain in known else name.strip())
    seen: dict[str, str] = {}
    twice = False
    for original, name in zip(given, names, strict=True):
        if name and name in seen:
            log.add(
                source.label,
                name,
                f"the column is given twice (as {seen[name]!r} and {original!r})",
            )
            twice = True
        seen.setdefault(name, original)
    return None if twice else names


def _renamed(batch: pa.RecordBatch, names: list[str]) -> pa.Table:
    table = pa.Table.from_batches([batch]).rename_columns(names)
    return table.drop_columns([n for n in names if not n]) if "" in names else table


def _locate_unreadable(source: SourceFile, log: ProblemLog, error: BaseException) -> None:
    """Where a file that Arrow could not read goes wrong: rows with another number of values
    than the header, values that are not UTF-8; found by reading it again row by row."""
    found = log.total
    if source.path.suffix != ".parquet":
        with contextlib.suppress(OSError, EOFError, csv.Error):
            _scan_csv(source, log)
    if log.total == found:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        what = "Parquet" if source.path.suffix == ".parquet" else "CSV"
        log.add(source.label, "", f"the file cannot be read as {what} ({detail})")


def _scan_csv(source: SourceFile, log: ProblemLog) -> None:
    opener = gzip.open if source.path.name.endswith(".gz") else open
    undecodable = re.compile("[\udc80-\udcff]")
    with opener(
        source.path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline=""
    ) as handle:
        records = csv.reader(handle)
        header = next(records, [])
        row = 1
        for record in records:
            if not record:  # Arrow skips empty lines, so they are not rows
                continue
            row += 1
            where = np.array([row])
            for index, value in enumerate(record):
                if undecodable.search(value):
                    column = header[index].strip() if index < len(header) else ""
                    log.add(source.label, column, "is not UTF-8 text (save it as UTF-8)", where)
            if len(record) != len(header):
                log.add(
                    source.label,
                    "",
                    f"the row has {len(record)} values, the header {len(header)}",
                    where,
                )
            if len(log.problems) > EXAMPLES_PER_CHECK:
                return


def parse_table(
    source: SourceFile, raw: pa.Table, log: ProblemLog, first_row: int = 2
) -> pa.Table | None:
    """Typed columns plus the source row number; None when a key column is missing.

    A missing required column that is not part of the key is reported and stands in as an
    empty column, so the rest of the file (and the files that refer to it) is still checked
    and every problem comes out in one report. A table read in batches passes each batch's
    first row number; only the first batch reports missing or unknown columns."""
    table = source.table
    present = set(raw.column_names)
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    for name in missing if first_row == 2 else []:
        log.add(source.label, name, "required column is missing")
    if set(missing) & set(table.key):
        return None
    extra = extra_columns(source, raw)
    if extra and not table.keeps_extra_columns and first_row == 2:
        log.warn(f"{source.label}: unknown columns ignored: {', '.join(extra)}")
        log.ignored_columns[source.label] = extra
    rows = pa.array(np.arange(first_row, first_row + raw.num_rows, dtype=np.int64))
    arrays: dict[str, pa.Array] = {ROW: rows}
    for column in table.columns:
        if column.name not in present:
            if column.name in missing:  # already reported: an empty stand-in of its type
                empty = pa.nulls(raw.num_rows, pa.string())
                arrays.update(_parse_column(source.label, column, empty, rows, ProblemLog()))
            continue
        with reading(source.label, column.name):
            values = plain_column(raw.column(column.name))
            arrays.update(_parse_column(source.label, column, values, rows, log))
    if table.keeps_extra_columns:
        for name in extra:
            with reading(source.label, name):
                arrays[name] = _as_text(plain_column(raw.column(name)))
    return pa.table(arrays)


def extra_columns(source: SourceFile, raw: pa.Table) -> list[str]:
    """Columns the contract does not name, in file order."""
    known = {c.name for c in source.table.columns}
    return [name for name in raw.column_names if name not in known]


def plain_column(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array in the plain type of its values: dictionary-encoded values decoded, large
    and view strings as strings, large lists as lists, an all-empty column as text."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    plain = [_plain(chunk) for chunk in chunks]
    if not plain:
        return pa.array([], _plain(pa.array([], values.type)).type)
    return pa.chunked_array(plain, plain[0].type).combine_chunks()


def _plain(values: pa.Array) -> pa.Array:
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_null(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return values.cast(pa.string())
    if pa.types.is_large_binary(kind) or pa.types.is_binary(kind):
        return values.cast(pa.string())
    nested = pa.types.is_large_list(kind) or pa.types.is_list_view(kind)
    if nested or (pa.types.is_list(kind) and not pa.types.is_string(kind.value_type)):
        flat = _plain(pc.list_flatten(values)) if len(values) else pa.array([], pa.string())
        return pa.ListArray.from_arrays(
            pa.array(_list_offsets(values)), flat, mask=pc.is_null(values)
        )
    return values


def _is_string_view(kind: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _: False)(kind))


def _list_offsets(values: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def _parse_column(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> dict[str, pa.Array]:
    if column.kind is Kind.TEXT:
        return {column.name: _parse_text(label, column, values, rows, log)}
    if column.kind is Kind.LIST:
        return {column.name: _parse_list(values)}
    if column.kind is Kind.TIMESTAMP:
        return _parse_timestamp(label, column, values, rows, log)
    empty = _empty(values)
    parsed = _parse_scalar(label, column, values, rows, log, empty)
    if column.required:
        _report(log, label, column.name, "is empty", rows, empty)
    return {column.name: parsed}


def _empty(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type):
        return pc.is_null(_as_text(values))
    return pc.is_null(values)


def _as_text(values: pa.Array) -> pa.Array:
    values = _plain(values)
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    stripped = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _parse_text(
    label: str, column: Column, values: pa.Array, rows: pa.Array, log: ProblemLog
) -> pa.Array:
    if pa.types.is_list(values.type):
        expected = f"has type {values.type}, expected text"
        _report(log, label, column.name, expected, rows, pc.is_valid(values))
        return pa.nulls(len(values), pa.string())
    text = _as_text(values)
    if column.not_empty:
        _report(log, label, column.name, "is empty", rows, pc.is_null(text))
    if column.identifier:
        _report(
            log,
            label,
            column.name,
            "contains '/', which an id may not (ids are part of page addresses)",
            rows,
            pc.match_substring(text, "/"),
        )
    if column.longest:
        _report(
            log,
            label,
            column.name,
            f"is longer than {column.longest} characters",
            rows,
            pc.greater(pc.utf8_length(text), column.longest),
        )
    return text


def _parse_list(values: pa.Array) -> pa.Array:
    if pa.types.is_list(values.type):
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


SCALARS = {
    Kind.DECIMAL: (pa.float64(), NUMBER, "a decimal number"),
    Kind.FLOAT: (pa.float64(), NUMBER, "a number"),
    Kind.INTEGER: (pa.int64(), NUMBER, "a whole number"),
    Kind.DATE: (pa.date32(), DATE, "a date (YYYY-MM-DD)"),
}


def _parse_scalar(
    label: str,
    column: Column,
    values: pa.Array,
    rows: pa.Array,
    log: ProblemLog,
    empty: pa.Array,
) -> pa.Array:
    target, pattern, what = SCALARS[column.kind]
    # Whole numbers are read as numbers first, so "2.0" (as many exports write) is 2.
    read_as = pa.float64() if pa.types.is_integer(target) else target
    if pa.types.is_string(values.type):
        parsed, bad = _parse_strings(_as_text(values), read_as, pattern)
    else:
        native = _cast_native(values, read_as)
        if native is None:
            _report(
                log,
                label,
                column.name,
                f"has type {values.type}, expected {what}",
                rows,
                pc.invert(empty),
            )
            return pa.nulls(len(values), target)
        parsed, bad = native, np.zeros(len(values), dtype=bool)
    if pa.types.is_floating(parsed.type):
        finite = pc.fill_null(pc.is_finite(parsed), True).to_numpy(zero_copy_only=False)
        bad = bad | ~finite
        if pa.types.is_integer(target):
            whole = pc.fill_null(pc.equal(pc.floor(parsed), parsed), True)
            bad = bad | ~whole.to_numpy(zero_copy_only=False)
    if bad.any():
        _report(log, label, column.name, f"is not {what}", rows, pa.array(bad))
        parsed = pc.if_else(pa.array(bad), pa.scalar(None, parsed.type), parsed)
    if parsed.type != target:
        parsed = pc.cast(parsed, target, safe=False)
    _check_bounds(label, column, parsed, rows, log)
    return parsed


def _parse_strings(
    text: pa.Array, target: pa.DataType, pattern: str
) -> tuple[pa.Array, np.ndarray]:
    """Parsed values and a mask of those that do not parse (a non-finite number included)."""
    parsed = _cast_clean(text, target)
    if parsed is not None:
        return parsed, np.zeros(len(text), dtype=bool)
    looks_right = pc.fill_null(pc.match_substring_regex(text, pattern), True)
    candidates = pc.if_else(looks_right, text, pa.scalar(None, pa.string()))
    parsed, failed = _cast_locating_failures(candidates, target)
    return parsed, failed | ~looks_right.to_numpy(zero_copy_only=False)


def _cast_native(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    """A Parquet column of another type than the contract's, where it converts losslessly:
    any integer or decimal or float for a number, a date or timestamp for a date."""
    kind = values.type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    if pa.types.is_floating(target) and numeric:
        return pc.cast(values, target, safe=False)
    if pa.types.is_date(target):
        if pa.types.is_date(kind):
            return pc.cast(values, target)
        if pa.types.is_timestamp(kind):
            return pc.cast(pc.cast(values, pa.timestamp(kind.unit)), target)
    return None


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
    _report(log, label, name, "is empty", rows, _empty(values))
    if pa.types.is_timestamp(values.type):
        # Any unit, with or without a zone; finer than microseconds is cut to them.
        if values.type.tz is None:
            local = pc.cast(values, LOCAL, safe=False)
            return {name: pa.nulls(len(values), UTC), local_name: local}
        return {name: pc.cast(values, UTC, safe=False), local_name: pa.nulls(len(values), LOCAL)}
    if pa.types.is_date(values.type):  # a date alone is midnight, local time
        return {name: pa.nulls(len(values), UTC), local_name: pc.cast(values, LOCAL)}
    if not pa.types.is_string(values.type):
        _report(
            log,
            label,
            name,
            f"has type {values.type}, expected an ISO 8601 timestamp",
            rows,
            pc.is_valid(values),
        )
        return {name: pa.nulls(len(values), UTC), local_name: pa.nulls(len(values), LOCAL)}
    text = _as_text(values)
    for target in _likely_timestamp_types(text):
        parsed = _cast_clean(text, target)
        if parsed is not None:
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
    bad = pc.or_(pc.and_(unparsed, pc.is_valid(text)), pa.array(local_failed | utc_failed))
    _report(log, label, name, "is not an ISO 8601 timestamp", rows, bad)
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
